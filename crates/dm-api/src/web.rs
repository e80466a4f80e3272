//! The messaging web page (HTML, CSS and JavaScript embedded in the binary),
//! and the two routes its local sign-in uses.
//!
//! `GET /api/local/users` and `POST /api/local/token` exist only in local
//! auth mode: they let anyone who can reach the server act as any user with a
//! Cognito subject, which is what a local development server is for, and
//! nothing a Cognito-mode server offers (there they answer 404).

use axum::{
    Json, Router,
    extract::State,
    http::header,
    response::{Html, IntoResponse},
    routing::{get, post},
};
use serde::Serialize;

use crate::{AppState, error::ApiError, input::JsonObject};

/// The page and its local sign-in routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(script))
        .route("/style.css", get(style))
        .route("/api/local/users", get(local_users))
        .route("/api/local/token", post(local_token))
}

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(include_str!("../web/index.html"))
}

/// `GET /app.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../web/app.js"),
    )
}

/// `GET /style.css`.
pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../web/style.css"),
    )
}

/// A user the local sign-in offers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LocalUser {
    /// The handle.
    pub handle: String,
    /// The display name.
    pub display_name: String,
}

/// `GET /api/local/users`: the seeded users, in local auth mode.
pub async fn local_users(State(state): State<AppState>) -> Result<Json<Vec<LocalUser>>, ApiError> {
    if state.local_tokens.is_none() {
        return Err(ApiError::NotFound("route_not_found"));
    }
    Ok(Json(
        dm_store::seed::USERS
            .iter()
            .map(|u| LocalUser {
                handle: u.handle.into(),
                display_name: u.display_name.into(),
            })
            .collect(),
    ))
}

/// `POST /api/local/token` with `{"handle"}`: a local token, in local auth mode.
pub async fn local_token(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(minter) = &state.local_tokens else {
        return Err(ApiError::NotFound("route_not_found"));
    };
    let handle = body
        .get("handle")
        .and_then(serde_json::Value::as_str)
        .and_then(|h| dm_domain::Handle::parse(h).ok())
        .ok_or_else(|| ApiError::Invalid(vec!["handle_invalid".into()]))?;
    let user = state.repo.user_by_handle(&handle).await?;
    let sub = user
        .cognito_user_id
        .ok_or(ApiError::NotFound("user_not_found"))?;
    let token = minter
        .mint(&sub)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!({ "token": token })))
}
