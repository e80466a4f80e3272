//! `/api/me` and `/api/users/@{handle}/short`: the signed-in user, and
//! another by handle (pattern F).

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    auth::AuthUser,
    error::{ApiError, ErrorBody},
    input,
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/users/{handle}/short", get(user_short))
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct MeOut {
    /// The user's uuid.
    pub(super) uuid: String,
    /// The handle.
    pub(super) handle: String,
    /// The display name.
    pub(super) display_name: String,
    /// The sum of `unread_count` over all the user's conversations.
    pub(super) unread_total: u32,
}

/// A user, briefly.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UserShortOut {
    /// The user's uuid; absent from `GET /api/users/@{handle}/short` without a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) uuid: Option<String>,
    /// The handle.
    pub(super) handle: String,
    /// The display name.
    pub(super) display_name: String,
}

/// `GET /api/me`: the signed-in user.
#[utoipa::path(
    get, path = "/api/me",
    responses((status = 200, description = "The user, and their unread messages over all conversations", body = MeOut), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn me(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<MeOut>, ApiError> {
    Ok(Json(MeOut {
        uuid: user.uuid.to_string(),
        handle: user.handle.to_string(),
        display_name: user.display_name.to_string(),
        unread_total: state.repo.unread_total(user.uuid).await?,
    }))
}

/// A user by handle, briefly.
///
/// Public, as the week-5 Cruddur frontend calls it without a token (its
/// new-conversation page): anyone may see one user's handle and display name,
/// 404 for an unknown handle. With a valid token the answer adds the uuid; a
/// token that is present but invalid is refused (401), never ignored.
#[utoipa::path(
    get, path = "/api/users/{handle}/short",
    params(("handle" = String, Path, description = "`@` and the handle, as `@bayko`")),
    responses(
        (status = 200, description = "`handle` and `display_name`; `uuid` too with a valid token", body = UserShortOut),
        (status = 400, body = ErrorBody), (status = 401, description = "A token was sent and is invalid", body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn user_short(
    State(state): State<AppState>,
    caller: Option<AuthUser>,
    Path(handle): Path<String>,
) -> Result<Json<UserShortOut>, ApiError> {
    let handle = input::path_handle(&handle)?;
    let user = state.repo.user_by_handle(&handle).await?;
    Ok(Json(UserShortOut {
        uuid: caller.map(|_| user.uuid.to_string()),
        handle: user.handle.to_string(),
        display_name: user.display_name.to_string(),
    }))
}
