//! The HTTP API of Cruddur direct messaging, on axum.
//!
//! [`app`] builds the whole router over an [`AppState`] (a repository and a
//! token verifier), so tests drive it in-process with `tower::ServiceExt::oneshot`
//! and the `dm-api` binary serves it. Routes, JSON fields and paths follow the
//! Cruddur frontend; see `routes/` (one module per resource) and the OpenAPI document at
//! `/api/openapi.json`. `/` serves a small messaging page (`web.rs`).
//!
//! Layers, outermost first: a request id (`x-request-id`, set if absent and
//! echoed back), a trace span per request, CORS, a request timeout that
//! answers 503, a header limit that answers 431, and a body limit that
//! answers 413.

pub mod auth;
pub mod cors;
pub mod error;
pub mod gateway_ws;
pub mod input;
pub mod live;
pub mod routes;
pub mod web;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, HeaderValue},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use dm_store::Repository;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{auth::TokenVerifier, error::ApiError};

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The most header bytes (names and values) a request may carry.
pub const HEADER_LIMIT: usize = 16 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub repo: Arc<dyn Repository>,
    /// Verifies bearer tokens.
    pub verifier: Arc<dyn TokenVerifier>,
    /// How long a request may take before it is answered 503.
    pub timeout: Duration,
    /// Origins allowed by CORS; none when empty.
    pub cors_origins: Vec<HeaderValue>,
    /// In local auth mode, what mints tokens for the web page's sign-in.
    pub local_tokens: Option<crate::auth::LocalVerifier>,
    /// This process's live sockets.
    pub hub: live::Hub,
    /// The users that tokens named lately, so steady clients cost no reads
    /// for auth.
    pub users: Arc<crate::auth::UserCache>,
}

impl AppState {
    /// A state with the default timeout (10 s) and no CORS origins.
    pub fn new(repo: Arc<dyn Repository>, verifier: Arc<dyn TokenVerifier>) -> Self {
        Self {
            repo,
            verifier,
            timeout: Duration::from_secs(10),
            cors_origins: Vec::new(),
            local_tokens: None,
            hub: live::Hub::default(),
            users: Arc::default(),
        }
    }
}

async fn header_limit(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > HEADER_LIMIT {
        return ApiError::HeadersTooLarge.into_response();
    }
    next.run(request).await
}

async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::Unavailable(format!("request took longer than {limit:?}")).into_response()
        }
    }
}

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let cors = cors::layer(state.cors_origins.clone());
    let limit = state.timeout;
    Router::new()
        .merge(routes::router())
        .merge(web::router())
        .merge(live::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(|| async { ApiError::NotFound("route_not_found") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(limit, timeout))
        .layer(middleware::from_fn(header_limit))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
