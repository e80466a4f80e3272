//! The routes: the Cruddur frontend's messaging paths and JSON fields.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dm_domain::{Conversation, Cursor, GroupId, Message, MessageRef, Timestamp, UserId};
use dm_store::{IdempotencyKey, MessageLookup, Recipient, SendOnce, StoreError};
use dm_stream::live::{ConversationFrame, Frame, MessageFrame, ReadThrough};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::{
    AppState,
    auth::AuthUser,
    error::{ApiError, ErrorBody},
    input::{self, JsonObject, Target},
};

/// A conversation in the list: the other member, and the last message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageGroupOut {
    /// The conversation's uuid.
    pub uuid: String,
    /// The other member's display name.
    pub display_name: String,
    /// The other member's handle.
    pub handle: String,
    /// The preview: the current text of the newest message not deleted, or
    /// empty when none remains.
    pub message: String,
    /// When the last message was sent: where the conversation stands in the
    /// list (an edit or a delete does not move it).
    pub created_at: String,
    /// The other member's messages the caller has not read (newer than
    /// their read marker), exact up to 99; 100 stands for more (shown `99+`).
    pub unread_count: u32,
}

impl From<Conversation> for MessageGroupOut {
    fn from(c: Conversation) -> Self {
        Self {
            uuid: c.group.to_string(),
            display_name: c.other.display_name,
            handle: c.other.handle,
            message: c.last_message,
            created_at: c.last_message_at.to_string(),
            unread_count: c.unread,
        }
    }
}

/// A message of a conversation, with its sender.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    /// The message's uuid.
    pub uuid: String,
    /// The sender's display name.
    pub display_name: String,
    /// The sender's handle.
    pub handle: String,
    /// The text.
    pub message: String,
    /// When it was sent.
    pub created_at: String,
    /// On the caller's own messages: whether every other member has read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<bool>,
    /// On an edited message: when its author last edited it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// On a deleted message (a tombstone, whose `message` is empty): `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

impl From<Message> for MessageOut {
    fn from(m: Message) -> Self {
        Self {
            uuid: m.id.to_string(),
            display_name: m.sender.display_name,
            handle: m.sender.handle,
            message: m.text,
            created_at: m.created_at.to_string(),
            seen: None,
            edited_at: m.edited_at.map(|at| at.to_string()),
            deleted: m.deleted.then_some(true),
        }
    }
}

/// The body of `PATCH /api/messages/{message_group_uuid}/{message_uuid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditIn {
    /// The new text: 1 to 1024 characters after trimming, as for sending.
    pub message: String,
}

/// The body of `POST /api/message_groups/{uuid}/read`: the newest message
/// the reader has seen, as `GET /api/messages` gave it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadIn {
    /// The message's uuid.
    pub uuid: String,
    /// When it was sent.
    pub created_at: String,
}

/// The caller's read marker in a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadOut {
    /// The newest message the caller has seen: the one named, or a newer
    /// one marked before (markers never move back).
    pub read_through: ReadThrough,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// The user's uuid.
    pub uuid: String,
    /// The handle.
    pub handle: String,
    /// The display name.
    pub display_name: String,
    /// The sum of `unread_count` over all the user's conversations.
    pub unread_total: u32,
}

/// A message just sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedMessageOut {
    /// The message's uuid.
    pub uuid: String,
    /// The conversation it went to (new or existing).
    pub message_group_uuid: String,
    /// The sender's display name.
    pub display_name: String,
    /// The sender's handle.
    pub handle: String,
    /// The text, trimmed.
    pub message: String,
    /// When it was sent.
    pub created_at: String,
}

/// The body of `POST /api/messages`: the text, and either a conversation or a handle.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewMessageIn {
    /// 1 to 1024 characters after trimming.
    pub message: String,
    /// An existing conversation; exactly one of this and `handle`.
    pub message_group_uuid: Option<String>,
    /// A user to message (with or without `@`); exactly one of this and `message_group_uuid`.
    pub handle: Option<String>,
}

/// A user, briefly.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserShortOut {
    /// The user's uuid; absent from `GET /api/users/@{handle}/short` without a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The handle.
    pub handle: String,
    /// The display name.
    pub display_name: String,
}

/// A status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// `Link: <path?limit=n&cursor=c>; rel="next"`, when another page follows.
fn with_next<T: Serialize>(
    items: Vec<T>,
    path: &str,
    limit: usize,
    next: Option<Cursor>,
) -> Response {
    let mut response = Json(items).into_response();
    if let Some(cursor) = next {
        let link = format!("<{path}?limit={limit}&cursor={cursor}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// The signed-in user's conversations, most recent first.
#[utoipa::path(
    get, path = "/api/message_groups",
    params(("limit" = Option<usize>, Query, description = "1 to 100, default 20"), ("cursor" = Option<String>, Query, description = "from the previous page's Link header")),
    responses(
        (status = 200, description = "A page of conversations; `Link` names the next", body = Vec<MessageGroupOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn message_groups(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = input::page(query.as_deref())?;
    let found = state.repo.conversations(user.uuid, &page).await?;
    let items: Vec<MessageGroupOut> = found.items.into_iter().map(Into::into).collect();
    Ok(with_next(
        items,
        "/api/message_groups",
        page.limit,
        found.next,
    ))
}

/// A conversation's messages: the newest page first, each page oldest to
/// newest; or, with `after_created_at`, what came after a message (catch-up).
#[utoipa::path(
    get, path = "/api/messages/{message_group_uuid}",
    params(
        ("message_group_uuid" = String, Path, description = "the conversation"),
        ("limit" = Option<usize>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "from the previous page's Link header; goes back in time"),
        ("after_created_at" = Option<String>, Query, description = "catch-up: only messages after the one sent then (the last one the client has), oldest first; `Link` names the next page forward"),
        ("after_uuid" = Option<String>, Query, description = "catch-up: that message's uuid; without it, every message of `after_created_at` counts as had"),
    ),
    responses(
        (status = 200, description = "A page of messages; `Link` names the older page (the newer one, catching up)", body = Vec<MessageOut>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation, or the caller is not a member", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn messages(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let group = input::group_id(&group)?;
    let page = input::page(query.as_deref())?;
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
            format!("</api/messages/{group}?{query}>; rel=\"next\"")
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
        &format!("/api/messages/{group}"),
        page.limit,
        found.next,
    ))
}

/// The messages, with `seen` on `reader`'s own: read by every other member,
/// by the markers they recorded.
async fn with_seen(
    state: &AppState,
    group: GroupId,
    reader: UserId,
    messages: Vec<Message>,
) -> Result<Vec<MessageOut>, ApiError> {
    let mine = |m: &Message| m.sender.uuid == reader;
    if !messages.iter().any(mine) {
        return Ok(messages.into_iter().map(Into::into).collect());
    }
    // The members, as remembered (a seed conversation has no group item: no receipts).
    let Some(found) = state.repo.group_unchecked(group).await? else {
        return Ok(messages.into_iter().map(Into::into).collect());
    };
    let markers = state.repo.read_markers(group, reader).await?;
    // How far every other member has read: the least of their markers.
    let seen_through: Option<MessageRef> = found
        .members
        .iter()
        .filter(|m| m.uuid != reader)
        .map(|m| {
            markers
                .iter()
                .find(|r| r.member == m.uuid)
                .map(|r| r.through)
        })
        .min()
        .flatten();
    Ok(messages
        .into_iter()
        .map(|m| {
            let seen = mine(&m).then(|| seen_through.is_some_and(|t| m.reference() <= t));
            MessageOut { seen, ..m.into() }
        })
        .collect())
}

/// Marks a conversation read up to a message the caller has seen.
#[utoipa::path(
    post, path = "/api/message_groups/{message_group_uuid}/read",
    params(("message_group_uuid" = String, Path, description = "the conversation")),
    request_body = ReadIn,
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
pub async fn mark_read(
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
        (status = 200, description = "The message as it now is. Edits apply in the order the API receives them (each is stamped later than the edit it replaces); an edit to the text it has changes nothing, so a retry is harmless. The rows' preview follows through the stream handler (`message_edited` and `conversation` frames)", body = MessageOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation (or not a member), or no such message of the caller's in it", body = ErrorBody),
        (status = 409, description = "`message_deleted`: a deleted message is not edited", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Every failed check listed", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn edit_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((group, message)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    JsonObject(body): JsonObject,
) -> Result<Json<MessageOut>, ApiError> {
    let at = Timestamp::now();
    let (group, lookup) = message_path(&group, &message, query.as_deref())?;
    let text = input::edit(&body)?;
    let edited = state
        .repo
        .edit_message(group, user.uuid, lookup, text, at)
        .await?;
    Ok(Json(edited.into()))
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
        (status = 200, description = "The tombstone (`deleted: true`, no text); a repeated delete answers the same. The rows' preview and unread counts follow through the stream handler (`message_deleted` and `conversation` frames)", body = MessageOut),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such conversation (or not a member), or no such message of the caller's in it", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((group, message)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<MessageOut>, ApiError> {
    let (group, lookup) = message_path(&group, &message, query.as_deref())?;
    let deleted = state.repo.delete_message(group, user.uuid, lookup).await?;
    Ok(Json(deleted.into()))
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
pub async fn create_message(
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

/// `GET /api/me`: the signed-in user.
#[utoipa::path(
    get, path = "/api/me",
    responses((status = 200, description = "The user, and their unread messages over all conversations", body = MeOut), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn me(
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
pub async fn user_short(
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

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = StatusOut)))]
pub async fn healthz() -> Json<StatusOut> {
    Json(StatusOut { status: "ok" })
}

/// Readiness: the table can be reached.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = StatusOut), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<StatusOut>, ApiError> {
    match state.repo.ping().await {
        Ok(()) => Ok(Json(StatusOut { status: "ready" })),
        Err(e @ (StoreError::Unavailable(_) | StoreError::Throttled(_))) => Err(e.into()),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route_not_found")
}

/// The OpenAPI document of the routes above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Cruddur direct messaging", description = "The messaging routes of the Cruddur frontend."),
    paths(message_groups, messages, create_message, edit_message, delete_message, mark_read, user_short, me, crate::live::socket, healthz, readyz),
    components(schemas(MessageGroupOut, MessageOut, CreatedMessageOut, NewMessageIn, EditIn, ReadIn, ReadOut, MeOut, UserShortOut, StatusOut, ErrorBody, Frame, MessageFrame, ConversationFrame, ReadThrough)),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    (StatusCode::OK, HeaderMap::new(), Json(ApiDoc::openapi()))
}
