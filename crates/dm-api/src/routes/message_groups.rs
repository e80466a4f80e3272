//! `/api/message_groups`: a user's conversations (pattern B) and marking
//! one read (pattern H).

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    response::Response,
    routing::{get, post},
};
use dm_stream::live::{ConversationJson, ReadThrough};
use serde::Serialize;
use utoipa::ToSchema;

use super::with_next;
use crate::{
    AppState,
    auth::AuthUser,
    error::{ApiError, ErrorBody},
    input::{self, JsonObject},
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/message_groups", get(message_groups))
        .route(
            "/api/message_groups/{message_group_uuid}/read",
            post(mark_read),
        )
}

/// The caller's read marker in a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReadOut {
    /// The newest message the caller has seen: the one named, or a newer
    /// one marked before (markers never move back).
    pub(super) read_through: ReadThrough,
}

/// The signed-in user's conversations, most recent first.
#[utoipa::path(
    get, path = "/api/message_groups",
    params(("limit" = Option<usize>, Query, description = "1 to 100, default 20"), ("cursor" = Option<String>, Query, description = "from the previous page's Link header")),
    responses(
        (status = 200, description = "A page of conversations; `Link` names the next", body = Vec<ConversationJson>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn message_groups(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = input::page(query.as_deref())?;
    let found = state.repo.conversations(user.uuid, &page).await?;
    let items: Vec<ConversationJson> = found.items.iter().map(Into::into).collect();
    Ok(with_next(
        items,
        "/api/message_groups",
        page.limit,
        found.next,
    ))
}

/// Marks a conversation read up to a message the caller has seen.
#[utoipa::path(
    post, path = "/api/message_groups/{message_group_uuid}/read",
    params(("message_group_uuid" = String, Path, description = "the conversation")),
    request_body = ReadThrough,
    responses(
        (status = 200, description = "The marker in force: it only moves forward, so marking an older message again changes nothing. Unread counts follow through the stream handler (a `conversation` frame, and `read` frames to every member)", body = ReadOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation (or not a member), or no such message in it", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn mark_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(group): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<ReadOut>, ApiError> {
    let group = input::group_id(&group)?;
    let through = input::read_marker(&body)?;
    let through = state.repo.mark_read(group, user.uuid, through).await?;
    Ok(Json(ReadOut {
        read_through: through.into(),
    }))
}
