//! `/api/messages`: a conversation's messages and catching up (pattern A),
//! sending (C, E), edits and deletes (I).

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
};
use dm_domain::{GroupId, Message, MessageRef, Timestamp, UserId};
use dm_store::{IdempotencyKey, MessageLookup, Recipient, SendOnce};
use dm_stream::live::MessageJson;
use serde::Serialize;
use utoipa::ToSchema;

use super::with_next;
use crate::{
    AppState,
    auth::AuthUser,
    error::{ApiError, ErrorBody},
    input::{self, EditIn, JsonObject, NewMessageIn, Target},
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/messages/{message_group_uuid}", get(messages))
        .route("/api/messages", post(create_message))
        .route(
            "/api/messages/{message_group_uuid}/{message_uuid}",
            patch(edit_message).delete(delete_message),
        )
}

/// A message just sent.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreatedMessageOut {
    /// The message's uuid.
    pub(super) uuid: String,
    /// The conversation it went to (new or existing).
    pub(super) message_group_uuid: String,
    /// The sender's display name.
    pub(super) display_name: String,
    /// The sender's handle.
    pub(super) handle: String,
    /// The text, trimmed.
    pub(super) message: String,
    /// When it was sent.
    pub(super) created_at: String,
}

/// A conversation's messages: the newest page first, each page oldest to
/// newest; or, with `after_created_at`, what came after a message (catch-up).
#[utoipa::path(
    get, path = "/api/messages/{message_group_uuid}",
    params(
        ("message_group_uuid" = String, Path, description = "the conversation: its uuid, or `@` and the other member's handle (`@bayko`, as the Cruddur frontend links to a conversation) for the caller's one-to-one conversation with them"),
        ("limit" = Option<usize>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "from the previous page's Link header; goes back in time"),
        ("after_created_at" = Option<String>, Query, description = "catch-up: only messages after the one sent then (the last one the client has), oldest first; `Link` names the next page forward"),
        ("after_uuid" = Option<String>, Query, description = "catch-up: that message's uuid; without it, every message of `after_created_at` counts as had"),
    ),
    responses(
        (status = 200, description = "A page of messages; `Link` names the older page (the newer one, catching up)", body = Vec<MessageJson>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation, or the caller is not a member; for `@handle`, no such user (`user_not_found`) or no conversation with them yet (`conversation_not_found`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn messages(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = input::page(query.as_deref())?;
    let group = conversation_named(&state, &user, &segment).await?;
    if let Some(after) = input::catch_up(query.as_deref())? {
        let found = state
            .repo
            .messages_after(group, user.uuid, after, page.limit)
            .await?;
        let next = found.next.and(found.items.last()).map(|last| {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("after_created_at", &last.created_at.to_string())
                .append_pair("after_uuid", &last.id.to_string())
                .append_pair("limit", &page.limit.to_string())
                .finish();
            format!("</api/messages/{segment}?{query}>; rel=\"next\"")
        });
        let items = with_seen(&state, group, user.uuid, found.items).await?;
        let mut response = Json(items).into_response();
        if let Some(value) = next.and_then(|link| HeaderValue::from_str(&link).ok()) {
            response.headers_mut().insert(header::LINK, value);
        }
        return Ok(response);
    }
    let found = state.repo.messages(group, user.uuid, &page).await?;
    let items = with_seen(&state, group, user.uuid, found.items).await?;
    Ok(with_next(
        items,
        &format!("/api/messages/{segment}"),
        page.limit,
        found.next,
    ))
}

/// The conversation a path names: by its uuid, or `@handle` for the caller's
/// one-to-one conversation with that user (the Cruddur frontend's message
/// links). A handle with no conversation yet is `conversation_not_found`.
async fn conversation_named(
    state: &AppState,
    caller: &dm_domain::User,
    segment: &str,
) -> Result<GroupId, ApiError> {
    if !segment.starts_with('@') {
        return input::group_id(segment);
    }
    let handle = input::path_handle(segment)?;
    let other = state.repo.user_by_handle(&handle).await?;
    state
        .repo
        .conversation_between(caller.uuid, other.uuid)
        .await?
        .filter(|_| other.uuid != caller.uuid)
        .ok_or(ApiError::NotFound("conversation_not_found"))
}

/// The messages, with `seen` on `reader`'s own: read by every other member
/// it reached (who had joined when it was sent), by the markers they
/// recorded; in a group, with how many have (`read_by`).
async fn with_seen(
    state: &AppState,
    group: GroupId,
    reader: UserId,
    messages: Vec<Message>,
) -> Result<Vec<MessageJson>, ApiError> {
    let mine = |m: &Message| m.sender.uuid == reader;
    if !messages.iter().any(mine) {
        return Ok(messages.iter().map(Into::into).collect());
    }
    // The members, as remembered (a seed conversation has no group item: no receipts).
    let Some(found) = state.repo.group_unchecked(group).await? else {
        return Ok(messages.iter().map(Into::into).collect());
    };
    let markers = state.repo.read_markers(group, reader).await?;
    // How far each other member has read, and since which version they are
    // a member.
    let others: Vec<(u64, Option<MessageRef>)> = found
        .members
        .iter()
        .filter(|m| m.user.uuid != reader)
        .map(|m| {
            let through = markers
                .iter()
                .find(|r| r.member == m.user.uuid)
                .map(|r| r.through);
            (m.joined_version, through)
        })
        .collect();
    let named = found.owner().is_some();
    Ok(messages
        .iter()
        .map(|m| {
            if !mine(m) {
                return m.into();
            }
            let reached = others
                .iter()
                .filter(|(joined, _)| *joined <= m.members_version);
            let read = reached
                .clone()
                .filter(|(_, through)| through.is_some_and(|t| m.reference() <= t))
                .count();
            MessageJson {
                seen: Some(read == reached.count()),
                read_by: named.then(|| u32::try_from(read).unwrap_or(u32::MAX)),
                ..m.into()
            }
        })
        .collect())
}

/// Edits one of the caller's messages: it keeps its place, with new text and
/// `edited_at`.
#[utoipa::path(
    patch, path = "/api/messages/{message_group_uuid}/{message_uuid}",
    params(
        ("message_group_uuid" = String, Path, description = "the conversation"),
        ("message_uuid" = String, Path, description = "the message"),
        ("created_at" = Option<String>, Query, description = "when it was sent, as `GET /api/messages` shows it: found in one read instead of a search"),
    ),
    request_body = EditIn,
    responses(
        (status = 200, description = "The message as it now is. Edits apply in the order the API receives them (each is stamped later than the edit it replaces); an edit to the text it has changes nothing, so a retry is harmless. The rows' preview follows through the stream handler (`message_edited` and `conversation` frames)", body = MessageJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation (or not a member), or no such message of the caller's in it", body = ErrorBody),
        (status = 409, description = "`message_deleted`: a deleted message is not edited", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn edit_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((group, message)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    JsonObject(body): JsonObject,
) -> Result<Json<MessageJson>, ApiError> {
    let at = Timestamp::now();
    let (group, lookup) = message_path(&group, &message, query.as_deref())?;
    let text = input::edit(&body)?;
    let edited = state
        .repo
        .edit_message(group, user.uuid, lookup, text, at)
        .await?;
    Ok(Json((&edited).into()))
}

/// Deletes one of the caller's messages: a tombstone stays in its place.
#[utoipa::path(
    delete, path = "/api/messages/{message_group_uuid}/{message_uuid}",
    params(
        ("message_group_uuid" = String, Path, description = "the conversation"),
        ("message_uuid" = String, Path, description = "the message"),
        ("created_at" = Option<String>, Query, description = "when it was sent, as `GET /api/messages` shows it: found in one read instead of a search"),
    ),
    responses(
        (status = 200, description = "The tombstone (`deleted: true`, no text); a repeated delete answers the same. The rows' preview and unread counts follow through the stream handler (`message_deleted` and `conversation` frames)", body = MessageJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation (or not a member), or no such message of the caller's in it", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((group, message)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<MessageJson>, ApiError> {
    let (group, lookup) = message_path(&group, &message, query.as_deref())?;
    let deleted = state.repo.delete_message(group, user.uuid, lookup).await?;
    Ok(Json((&deleted).into()))
}

/// The conversation and message of an edit's or a delete's path and query.
fn message_path(
    group: &str,
    message: &str,
    query: Option<&str>,
) -> Result<(GroupId, MessageLookup), ApiError> {
    let group = input::group_id(group)?;
    let id = input::message_id(message)?;
    let sent_at = input::sent_at(query)?;
    Ok((group, MessageLookup { id, sent_at }))
}

/// Sends a message to a conversation, or to a user by handle (starting the
/// pair's conversation if it has none).
#[utoipa::path(
    post, path = "/api/messages",
    request_body = NewMessageIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 visible ASCII characters; a retry with the same key and body returns the same message and stores nothing new (24 hours)")),
    responses(
        (status = 200, description = "The message as stored", body = CreatedMessageOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation or user, or not a member", body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Json<CreatedMessageOut>, ApiError> {
    let key = input::idempotency_key(&headers)?;
    let body = input::new_message(&body)?;
    let key = key.map(|key| IdempotencyKey {
        key,
        request: body.canonical(),
    });
    let to = match body.target {
        Target::Group(group) => Recipient::Group(group),
        Target::Handle(handle) => {
            if handle.same_as(&user.handle) {
                return Err(ApiError::Invalid(vec!["self_conversation".into()]));
            }
            Recipient::User(state.repo.user_by_handle(&handle).await?.summary())
        }
    };
    let message = state
        .repo
        .send_once(&user.summary(), to, body.text, key)
        .await?;
    Ok(Json(CreatedMessageOut {
        uuid: message.id.to_string(),
        message_group_uuid: message.group.to_string(),
        display_name: message.sender.display_name,
        handle: message.sender.handle,
        message: message.text,
        created_at: message.created_at.to_string(),
    }))
}
