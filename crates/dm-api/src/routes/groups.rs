//! Named groups (pattern J): `POST /api/message_groups` makes one, and
//! `GET /api/message_groups/{uuid}` shows any conversation (its kind, name
//! and members) to its members.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use dm_domain::{Handle, UserSummary};
use dm_store::{Missing, StoreError};
use dm_stream::live::GroupJson;
use futures::future::join_all;

use crate::{
    AppState,
    auth::AuthUser,
    error::{ApiError, ErrorBody},
    input::{self, JsonObject},
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/message_groups", post(create))
        .route("/api/message_groups/{message_group_uuid}", get(show))
}

/// Makes a named group of the caller (its owner) and the users named.
#[utoipa::path(
    post, path = "/api/message_groups",
    request_body = crate::input::NewGroupIn,
    responses(
        (status = 201, description = "The group. Each member's conversation list gains it through the stream handler (a `conversation` frame to each), placed by its creation until its first message", body = GroupJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed; `handle_unknown` with `handles`, each handle that names no user", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<GroupJson>), ApiError> {
    let (name, handles) = input::new_group(&body)?;
    let others = resolve(&state, &handles).await?;
    if others.iter().any(|other| other.uuid == user.uuid) {
        return Err(ApiError::Invalid(vec!["self_among_members".into()]));
    }
    let group = state
        .repo
        .create_group(&user.summary(), name, others)
        .await?;
    Ok((StatusCode::CREATED, Json((&group).into())))
}

/// A conversation the caller is a member of: its kind, name and members.
#[utoipa::path(
    get, path = "/api/message_groups/{message_group_uuid}",
    params(("message_group_uuid" = String, Path, description = "the conversation")),
    responses(
        (status = 200, description = "The conversation: `kind` is `direct` for a one-to-one conversation, `group` for a named group", body = GroupJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation, or the caller is not a member", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(group): Path<String>,
) -> Result<Json<GroupJson>, ApiError> {
    let group = input::group_id(&group)?;
    let group = state.repo.group(group, user.uuid).await?;
    Ok(Json((&group).into()))
}

/// The users of `handles`, in their order; every handle that names no user
/// is named in one answer.
async fn resolve(state: &AppState, handles: &[Handle]) -> Result<Vec<UserSummary>, ApiError> {
    let found = join_all(handles.iter().map(|h| state.repo.user_by_handle(h))).await;
    let mut users = Vec::with_capacity(handles.len());
    let mut unknown = Vec::new();
    for (handle, result) in handles.iter().zip(found) {
        match result {
            Ok(user) => users.push(user.summary()),
            Err(StoreError::NotFound(Missing::User)) => unknown.push(handle.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    if unknown.is_empty() {
        Ok(users)
    } else {
        Err(ApiError::UnknownHandles(unknown))
    }
}
