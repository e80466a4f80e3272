//! The routes: the Cruddur frontend's messaging paths and JSON fields, one
//! module per resource, each with its own `router()` and its answers' types
//! beside its handlers. Request bodies are parsed (every failed check
//! listed) in `crate::input`, beside their schemas; the JSON of messages and
//! rows is `dm_stream::live`'s, shared with the live frames.
//!
//! | module | paths |
//! |---|---|
//! | `message_groups` | `GET /api/message_groups`, `POST /api/message_groups/{uuid}/read` |
//! | `groups` | `POST /api/message_groups`, `GET`/`PATCH /api/message_groups/{uuid}`, `POST /api/message_groups/{uuid}/members`, `DELETE /api/message_groups/{uuid}/members/@{handle}` |
//! | `messages` | `GET /api/messages/{uuid}`, `POST /api/messages`, `PATCH`/`DELETE /api/messages/{uuid}/{message}` |
//! | `users` | `GET /api/me`, `GET /api/users/@{handle}/short` |
//! | `health` | `GET /healthz`, `GET /readyz` |
//! | [`openapi`] | `GET /api/openapi.json`, the document of them all |

mod groups;
mod health;
mod message_groups;
mod messages;
pub mod openapi;
mod users;

use axum::{
    Json, Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use dm_domain::Cursor;
use serde::Serialize;

pub use openapi::ApiDoc;

use crate::{AppState, error::ApiError};

/// The API's routes (without the web page and the sockets).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(message_groups::router())
        .merge(groups::router())
        .merge(messages::router())
        .merge(users::router())
        .merge(health::router())
        .merge(openapi::router())
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

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route_not_found")
}
