//! Named groups (pattern J): `POST /api/message_groups` makes one;
//! `GET /api/message_groups/{uuid}` shows any conversation (its kind, name
//! and members) to its members; `PATCH` renames a group,
//! `POST .../members` adds members and `DELETE .../members/@{handle}` removes
//! one (or, one's own handle, leaves).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use dm_domain::{Handle, UserSummary};
use dm_store::{GroupChange, Missing, StoreError};
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
        .route(
            "/api/message_groups/{message_group_uuid}",
            get(show).patch(rename),
        )
        .route(
            "/api/message_groups/{message_group_uuid}/members",
            post(add_members),
        )
        .route(
            "/api/message_groups/{message_group_uuid}/members/{handle}",
            delete(remove_member),
        )
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

/// The owner renames a group.
#[utoipa::path(
    patch, path = "/api/message_groups/{message_group_uuid}",
    params(("message_group_uuid" = String, Path, description = "the group")),
    request_body = crate::input::RenameIn,
    responses(
        (status = 200, description = "The group, renamed; every member's row follows through the stream handler, and their sockets get a `members` frame", body = GroupJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "`not_owner`: only the owner renames it", body = ErrorBody),
        (status = 404, description = "No such conversation, or the caller is not a member", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed; `not_a_group` for a one-to-one conversation", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn rename(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(group): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<GroupJson>, ApiError> {
    let group = input::group_id(&group)?;
    let name = input::rename(&body)?;
    let group = state
        .repo
        .change_group(group, user.uuid, &GroupChange::Rename(name))
        .await?;
    Ok(Json((&group).into()))
}

/// The owner adds members: they see the whole history, none of it unread.
#[utoipa::path(
    post, path = "/api/message_groups/{message_group_uuid}/members",
    params(("message_group_uuid" = String, Path, description = "the group")),
    request_body = crate::input::AddMembersIn,
    responses(
        (status = 200, description = "The group with its new members; their lists gain it through the stream handler", body = GroupJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "`not_owner`", body = ErrorBody),
        (status = 404, description = "No such conversation, or the caller is not a member", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "`too_many_members` past 100 in all (nothing changes), `already_member`, `handle_unknown` (with `handles`), `not_a_group`, and the body's checks", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn add_members(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(group): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<GroupJson>, ApiError> {
    let group = input::group_id(&group)?;
    let handles = input::add_members(&body)?;
    let users = match resolve(&state, &handles).await {
        Ok(users) => users,
        // A non-member learns nothing, not even which handles exist (a
        // member's change is checked by `change_group` itself).
        Err(unknown @ ApiError::UnknownHandles(_)) => {
            state.repo.group(group, user.uuid).await?;
            return Err(unknown);
        }
        Err(e) => return Err(e),
    };
    let group = state
        .repo
        .change_group(group, user.uuid, &GroupChange::Add(users))
        .await?;
    Ok(Json((&group).into()))
}

/// The owner removes a member; anyone removes themselves (leaves). When the
/// owner leaves, the earliest remaining member becomes owner.
#[utoipa::path(
    delete, path = "/api/message_groups/{message_group_uuid}/members/{handle}",
    params(
        ("message_group_uuid" = String, Path, description = "the group"),
        ("handle" = String, Path, description = "`@handle` of the member"),
    ),
    responses(
        (status = 204, description = "Removed: their row is gone at once, the group is 404 for them from now on, their sockets get a `removed` frame and nothing more of it"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "`not_owner`: only the owner removes others", body = ErrorBody),
        (status = 404, description = "No such conversation (or the caller is not a member), or no such member", body = ErrorBody),
        (status = 422, description = "`not_a_group` for a one-to-one conversation", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn remove_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((group, handle)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let group = input::group_id(&group)?;
    let handle = input::path_handle(&handle)?;
    let member = match state.repo.user_by_handle(&handle).await {
        Ok(member) => member,
        // A non-member learns nothing, not even which handles exist.
        Err(StoreError::NotFound(Missing::User)) => {
            state.repo.group(group, user.uuid).await?;
            return Err(ApiError::NotFound("member_not_found"));
        }
        Err(e) => return Err(e.into()),
    };
    match state
        .repo
        .change_group(group, user.uuid, &GroupChange::Remove(member.uuid))
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound(Missing::User)) => Err(ApiError::NotFound("member_not_found")),
        Err(e) => Err(e.into()),
    }
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
