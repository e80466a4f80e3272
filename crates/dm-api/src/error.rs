//! The one error type of the API, and its one mapping to HTTP.
//!
//! Every failure is `{"errors": ["code", ...]}` with a status that says who is
//! at fault. Internal failures are logged with their detail and answered with
//! a bare code; no backend text ever reaches a client.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dm_store::{Clash, Missing, StoreError};
use serde::Serialize;

/// The error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable codes, one per failed check.
    pub errors: Vec<String>,
    /// With `handle_unknown`: each handle that names no user.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handles: Vec<String>,
}

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (JSON, query, path, cursor).
    #[error("bad request: {0:?}")]
    BadRequest(Vec<String>),
    /// 401: no valid token, or a token of no known user.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 404: no such thing, or one the caller may not see.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 403: a member who may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 409: a conflicting write.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 413: the body is over its limit.
    #[error("body too large")]
    TooLarge,
    /// 431: the headers are over their limit.
    #[error("headers too large")]
    HeadersTooLarge,
    /// 415: the body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: well-formed, but breaks the rules.
    #[error("invalid: {0:?}")]
    Invalid(Vec<String>),
    /// 422 `handle_unknown`: these handles name no user.
    #[error("unknown handles: {0:?}")]
    UnknownHandles(Vec<String>),
    /// 503: DynamoDB unavailable or throttled after retries, or the request timed out.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or a misconfiguration; the detail is logged only.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// One malformed-request code.
    pub fn bad(code: &str) -> Self {
        Self::BadRequest(vec![code.to_owned()])
    }

    fn parts(&self) -> (StatusCode, Vec<String>) {
        let one = |code: &str| vec![code.to_owned()];
        match self {
            Self::BadRequest(codes) => (StatusCode::BAD_REQUEST, codes.clone()),
            Self::Unauthorized(code) => (StatusCode::UNAUTHORIZED, one(code)),
            Self::NotFound(code) => (StatusCode::NOT_FOUND, one(code)),
            Self::Forbidden(code) => (StatusCode::FORBIDDEN, one(code)),
            Self::Conflict(code) => (StatusCode::CONFLICT, one(code)),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, one("body_too_large")),
            Self::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                one("headers_too_large"),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                one("content_type_not_json"),
            ),
            Self::Invalid(codes) => (StatusCode::UNPROCESSABLE_ENTITY, codes.clone()),
            Self::UnknownHandles(_) => (StatusCode::UNPROCESSABLE_ENTITY, one("handle_unknown")),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, one("unavailable")),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, one("internal")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(Missing::User) => Self::NotFound("user_not_found"),
            StoreError::NotFound(Missing::Conversation) => Self::NotFound("conversation_not_found"),
            StoreError::NotFound(Missing::Message) => Self::NotFound("message_not_found"),
            StoreError::Conflict(Clash::ItemExists) => Self::Conflict("already_exists"),
            StoreError::Conflict(Clash::MessageDeleted) => Self::Conflict("message_deleted"),
            StoreError::Conflict(Clash::HandleTaken) => Self::Conflict("handle_taken"),
            StoreError::Conflict(Clash::CognitoSubTaken | Clash::UserExists) => {
                Self::Conflict("user_exists")
            }
            StoreError::Invalid(code) => Self::Invalid(vec![code.to_owned()]),
            StoreError::Forbidden(code) => Self::Forbidden(code),
            StoreError::Cursor(_) => Self::bad("cursor_invalid"),
            e @ (StoreError::Throttled(_)
            | StoreError::Unavailable(_)
            | StoreError::TransactionCancelled { .. }) => Self::Unavailable(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, errors) = self.parts();
        match &self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            other => tracing::debug!(error = %other, "request refused"),
        }
        let handles = match &self {
            Self::UnknownHandles(handles) => handles.clone(),
            _ => Vec::new(),
        };
        let mut response = (status, Json(ErrorBody { errors, handles })).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
