//! CORS: which origins may call the API from a browser, and the layer that says so.
//!
//! Production origins are always explicit. Unconfigured, local auth mode
//! allows the Cruddur frontend's development origins ([`DEV_ORIGINS`]) and
//! Cognito mode allows none.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The Cruddur frontend's development origins, allowed by default in local auth mode.
pub const DEV_ORIGINS: [&str; 2] = ["http://localhost:3000", "http://127.0.0.1:3000"];

/// The origins to allow, from those configured: trimmed, without a trailing
/// `/`; none when one of them is `none`; [`DEV_ORIGINS`] when none is
/// configured and `local_auth`.
pub fn allowed_origins(configured: &[String], local_auth: bool) -> Vec<String> {
    let configured: Vec<String> = configured
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    if configured.iter().any(|o| o.eq_ignore_ascii_case("none")) {
        Vec::new()
    } else if configured.is_empty() && local_auth {
        DEV_ORIGINS.map(str::to_owned).to_vec()
    } else {
        configured
    }
}

/// The CORS layer allowing `origins`: the methods and headers the routes use,
/// and `Link` (pagination) exposed.
pub(crate) fn layer(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::ACCEPT,
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::LINK])
}
