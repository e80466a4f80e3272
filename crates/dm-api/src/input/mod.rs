//! Reading requests: the JSON body, the query, the path, each checked with
//! every failure listed, never a panic and never a 500. The bodies' schemas
//! for the OpenAPI document (`*In`) sit beside their parsers.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header,
};
use dm_domain::{Cursor, GroupId, Handle, MessageId, MessageRef, MessageText, Timestamp};
use dm_store::{MessageBound, PAGE_DEFAULT, PAGE_MAX, PageRequest};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{AppState, error::ApiError};

mod groups;

pub use groups::{AddMembersIn, NewGroupIn, RenameIn, add_members, new_group, rename};

/// A JSON object body: read within the body limit, `application/json`,
/// well-formed, an object.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::bad("body_unreadable")
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::bad("body_not_an_object")),
            Err(_) => Err(ApiError::bad("json_malformed")),
        }
    }
}

/// Where a new message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Into an existing conversation.
    Group(GroupId),
    /// To a user, starting the conversation if the pair has none.
    Handle(Handle),
}

/// A checked `POST /api/messages` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessageBody {
    /// The text, trimmed.
    pub text: MessageText,
    /// Where it goes.
    pub target: Target,
}

impl NewMessageBody {
    /// The request in one canonical form, to tell a retry from another
    /// request that reuses its idempotency key.
    pub fn canonical(&self) -> String {
        match &self.target {
            Target::Group(group) => format!("group:{group}\n{}", self.text),
            Target::Handle(handle) => format!("handle:{}\n{}", handle.key(), self.text),
        }
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 128 visible ASCII characters.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::bad("idempotency_key_invalid")),
    }
}

const FIELDS: [&str; 3] = ["message", "message_group_uuid", "handle"];

/// The body of `POST /api/messages`: the text, and either a conversation or a handle.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewMessageIn {
    /// 1 to 1024 characters after trimming.
    pub message: String,
    /// An existing conversation; exactly one of this and `handle`. `@` and a
    /// handle (`@bayko`, as the Cruddur frontend replies from a
    /// `/messages/@bayko` page) writes into the caller's conversation with
    /// that user, starting it if there is none, as `handle` does.
    pub message_group_uuid: Option<String>,
    /// A user to message (with or without `@`); exactly one of this and `message_group_uuid`.
    pub handle: Option<String>,
}

/// Checks a message body, listing every failed check.
pub fn new_message(body: &Map<String, Value>) -> Result<NewMessageBody, ApiError> {
    let mut errors = Vec::new();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) {
            errors.push("unknown_field".to_owned());
        }
    }
    let text = text_field(body, &mut errors);
    let present = |name| body.get(name).is_some_and(|v| !v.is_null());
    let target = match (present("message_group_uuid"), present("handle")) {
        (true, true) => {
            errors.push("target_ambiguous".into());
            None
        }
        (false, false) => {
            errors.push("target_missing".into());
            None
        }
        (true, false) => match body.get("message_group_uuid") {
            // `@handle`: the Cruddur frontend's reply to a conversation it
            // opened from a `/messages/@handle` link.
            Some(Value::String(s)) if s.starts_with('@') => Handle::parse(s)
                .map(Target::Handle)
                .map_err(|e| errors.push(e.code().into()))
                .ok(),
            Some(Value::String(s)) => s
                .parse()
                .map(Target::Group)
                .map_err(|_| errors.push("message_group_uuid_invalid".into()))
                .ok(),
            _ => {
                errors.push("message_group_uuid_invalid".into());
                None
            }
        },
        (false, true) => match body.get("handle") {
            Some(Value::String(s)) => Handle::parse(s)
                .map(Target::Handle)
                .map_err(|e| errors.push(e.code().into()))
                .ok(),
            _ => {
                errors.push("handle_invalid".into());
                None
            }
        },
    };
    errors.dedup();
    match (text, target) {
        (Some(text), Some(target)) if errors.is_empty() => Ok(NewMessageBody { text, target }),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// The `message` field of a body, checked as a message's text is.
fn text_field(body: &Map<String, Value>, errors: &mut Vec<String>) -> Option<MessageText> {
    match body.get("message") {
        None | Some(Value::Null) => {
            errors.push("message_missing".into());
            None
        }
        Some(Value::String(s)) => MessageText::parse(s)
            .map_err(|e| errors.push(e.code().into()))
            .ok(),
        Some(_) => {
            errors.push("message_not_a_string".into());
            None
        }
    }
}

/// The body of `PATCH /api/messages/{message_group_uuid}/{message_uuid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditIn {
    /// The new text: 1 to 1024 characters after trimming, as for sending.
    pub message: String,
}

/// Checks an edit's body, `{"message"}`, as a new message's text is checked,
/// listing every failed check.
pub fn edit(body: &Map<String, Value>) -> Result<MessageText, ApiError> {
    let mut errors = Vec::new();
    if body.keys().any(|key| key != "message") {
        errors.push("unknown_field".to_owned());
    }
    match text_field(body, &mut errors) {
        Some(text) if errors.is_empty() => Ok(text),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// A message id from the path.
pub fn message_id(text: &str) -> Result<MessageId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad("message_uuid_invalid"))
}

/// The optional `created_at` of a query string: when the message named in
/// the path was sent, which saves searching for it. A `+` sent unencoded
/// arrives as a space and is read as the `+` it was.
pub fn sent_at(query: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    let mut found = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "created_at" {
            if found.is_some() {
                return Err(ApiError::bad("created_at_repeated"));
            }
            let at = value
                .replace(' ', "+")
                .parse::<Timestamp>()
                .map_err(|_| ApiError::bad("created_at_invalid"))?;
            found = Some(at);
        }
    }
    Ok(found)
}

/// Checks a read marker's body, `{"uuid", "created_at"}` of the newest
/// message seen (as `GET /api/messages` gives them), listing every failed check.
pub fn read_marker(body: &Map<String, Value>) -> Result<MessageRef, ApiError> {
    let mut errors = Vec::new();
    if body.keys().any(|key| key != "uuid" && key != "created_at") {
        errors.push("unknown_field".to_owned());
    }
    let id = match body.get("uuid") {
        None | Some(Value::Null) => {
            errors.push("uuid_missing".to_owned());
            None
        }
        Some(Value::String(s)) => s
            .parse::<MessageId>()
            .map_err(|_| errors.push("uuid_invalid".to_owned()))
            .ok(),
        Some(_) => {
            errors.push("uuid_invalid".to_owned());
            None
        }
    };
    let at = match body.get("created_at") {
        None | Some(Value::Null) => {
            errors.push("created_at_missing".to_owned());
            None
        }
        Some(Value::String(s)) => s
            .parse::<Timestamp>()
            .map_err(|_| errors.push("created_at_invalid".to_owned()))
            .ok(),
        Some(_) => {
            errors.push("created_at_invalid".to_owned());
            None
        }
    };
    match (at, id) {
        (Some(at), Some(id)) if errors.is_empty() => Ok(MessageRef { at, id }),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// Reads `limit` (1 to 100, default 20) and `cursor` from a query string.
pub fn page(query: Option<&str>) -> Result<PageRequest, ApiError> {
    let mut limit = None;
    let mut cursor = None;
    let mut errors = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=PAGE_MAX).contains(&n) && limit.is_none() => limit = Some(n),
                _ => errors.push("limit_invalid".to_owned()),
            },
            // Cursors are base64url: nothing in them needs decoding.
            "cursor" if cursor.is_none() && !value.is_empty() => {
                cursor = Some(Cursor::from_text(value))
            }
            "cursor" => errors.push("cursor_invalid".to_owned()),
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(PageRequest {
            limit: limit.unwrap_or(PAGE_DEFAULT),
            cursor,
        })
    } else {
        Err(ApiError::BadRequest(errors))
    }
}

/// Reads a catch-up read's start from a query string: `after_created_at`
/// (a message's `created_at`) and, optionally, `after_uuid` (that message's
/// uuid); `None` when neither is there. A `+` sent unencoded arrives as a
/// space and is read as the `+` it was.
pub fn catch_up(query: Option<&str>) -> Result<Option<MessageBound>, ApiError> {
    let mut at = None;
    let mut id = None;
    let mut cursor = false;
    let mut errors = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "after_created_at" if at.is_none() => {
                match value.replace(' ', "+").parse::<Timestamp>() {
                    Ok(t) => at = Some(t),
                    Err(_) => errors.push("after_created_at_invalid".to_owned()),
                }
            }
            "after_uuid" if id.is_none() => match value.parse::<MessageId>() {
                Ok(m) => id = Some(m),
                Err(_) => errors.push("after_uuid_invalid".to_owned()),
            },
            "after_created_at" | "after_uuid" => errors.push(format!("{key}_repeated")),
            "cursor" => cursor = true,
            _ => {}
        }
    }
    if at.is_none() && id.is_none() && errors.is_empty() {
        return Ok(None);
    }
    if at.is_none() && !errors.iter().any(|e| e.starts_with("after_created_at")) {
        errors.push("after_created_at_missing".to_owned());
    }
    if cursor {
        errors.push("cursor_with_after".to_owned());
    }
    match at {
        Some(at) if errors.is_empty() => Ok(Some(MessageBound { at, id })),
        _ => Err(ApiError::BadRequest(errors)),
    }
}

/// A conversation id from the path.
pub fn group_id(text: &str) -> Result<GroupId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad("message_group_uuid_invalid"))
}

/// A handle from the path: `@handle`.
pub fn path_handle(text: &str) -> Result<Handle, ApiError> {
    text.strip_prefix('@')
        .and_then(|h| Handle::parse(h).ok())
        .ok_or_else(|| ApiError::bad("handle_invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, expected: Result<(), &[&str]>) {
        let Value::Object(map) = body.clone() else {
            panic!("not an object")
        };
        match (new_message(&map), expected) {
            (Ok(_), Ok(())) => {}
            (Err(ApiError::Invalid(codes)), Err(expected)) => assert_eq!(codes, expected, "{body}"),
            (got, expected) => panic!("{body}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn message_bodies() {
        let g = "5ae290ed-55d1-47a0-bc6d-fe2bc2700399";
        check(json!({"message": "hi", "message_group_uuid": g}), Ok(()));
        check(json!({"message": "hi", "handle": "@bayko"}), Ok(()));
        check(json!({}), Err(&["message_missing", "target_missing"]));
        check(
            json!({"message": " ", "handle": "x", "message_group_uuid": g}),
            Err(&["message_blank", "target_ambiguous"]),
        );
        check(
            json!({"message": 5, "handle": 5}),
            Err(&["message_not_a_string", "handle_invalid"]),
        );
        check(
            json!({"message": "hi", "message_group_uuid": "nope", "extra": 1}),
            Err(&["unknown_field", "message_group_uuid_invalid"]),
        );
        check(
            json!({"message": "a".repeat(1025), "handle": "bad handle!"}),
            Err(&["message_too_long", "handle_invalid"]),
        );
    }

    #[test]
    fn pages() {
        assert_eq!(page(None).unwrap(), PageRequest::first(PAGE_DEFAULT));
        assert_eq!(page(Some("limit=5&x=1")).unwrap(), PageRequest::first(5));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=abc",
            "limit=-1",
            "limit=5&limit=6",
            "cursor=",
            "cursor=a&cursor=b",
        ] {
            assert!(page(Some(bad)).is_err(), "{bad}");
        }
    }
}
