//! `/healthz` and `/readyz`: liveness and readiness.

use axum::{Json, Router, extract::State, routing::get};
use dm_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ErrorBody},
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// A status.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusOut {
    /// `ok` or `ready`.
    pub(super) status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = StatusOut)))]
pub(super) async fn healthz() -> Json<StatusOut> {
    Json(StatusOut { status: "ok" })
}

/// Readiness: the table can be reached.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = StatusOut), (status = 503, body = ErrorBody)))]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<StatusOut>, ApiError> {
    match state.repo.ping().await {
        Ok(()) => Ok(Json(StatusOut { status: "ready" })),
        Err(e @ (StoreError::Unavailable(_) | StoreError::Throttled(_))) => Err(e.into()),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}
