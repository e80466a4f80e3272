//! Live delivery on `dm-api`: the WebSocket endpoint and the local
//! management API that feeds it.
//!
//! - `GET /api/ws?token=...`: a browser cannot set headers on a WebSocket, so
//!   the access token comes in the query (never logged: the trace span holds
//!   the path only). The socket is recorded as a connection of its user in
//!   the table, until its token expires, and is closed when the token does
//!   (close code 4001, `token_expired`). Frames are JSON text
//!   ([`dm_stream::live::Frame`]); the client sends nothing but pings.
//! - `POST /@connections/{id}`: API Gateway's management API, the call the
//!   stream's notifier makes, answered from loopback only. So the poller under
//!   `cargo xtask up` runs the code the Lambda runs, and reaches these sockets.
//!   An unknown connection is `410 GoneException`, as on AWS.
//! - [`Hub`] also implements [`Post`] itself, for one process (`--store
//!   memory`), where the handler posts without HTTP.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    body::Bytes,
    extract::{
        ConnectInfo, Path, Query, Request, State,
        ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use dm_domain::{Connection, Timestamp};
use dm_stream::live::{Frame, Post, PostError};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::{AppState, auth, error::ApiError};

/// The socket and the local management API.
pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/ws", get(socket)).route(
        "/@connections/{connection_id}",
        post(post_to_connection).delete(delete_connection),
    )
}

/// Frames waiting for a slow socket; beyond this the socket is closed (its
/// client reconnects and catches up by reading).
const QUEUE: usize = 256;

/// The close code of a socket whose token expired.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// This process's open sockets, by connection id; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Hub {
    sockets: Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>,
}

impl Hub {
    fn open(&self, id: &str) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.lock().insert(id.to_owned(), tx);
        rx
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Sockets open now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<String>>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `data` for socket `id`. A socket too far behind to take it is
    /// closed, once what it has queued is sent: its client then reconnects
    /// and catches up, rather than missing a frame unawares.
    fn send(&self, id: &str, data: String) -> Result<(), PostError> {
        let mut sockets = self.lock();
        let Some(tx) = sockets.get(id) else {
            return Err(PostError::Gone);
        };
        match tx.try_send(data) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) => {
                sockets.remove(id);
                Err(PostError::Gone)
            }
        }
    }
}

#[async_trait]
impl Post for Hub {
    async fn post(&self, id: &str, data: &str) -> Result<(), PostError> {
        self.send(id, data.to_owned())
    }

    /// The socket's task sees its queue end and closes it.
    async fn close(&self, id: &str) -> Result<(), PostError> {
        match self.lock().remove(id) {
            Some(_) => Ok(()),
            None => Err(PostError::Gone),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// `GET /api/ws?token=...`: upgrades to the live socket of the token's user.
#[utoipa::path(
    get, path = "/api/ws",
    params(("token" = String, Query, description = "An access token (browsers cannot set headers on a WebSocket); never logged")),
    responses(
        (status = 101, description = "A WebSocket of JSON text frames, each a `Frame`: `message` for a new message in one of the user's conversations, then `conversation` for the user's row as `GET /api/message_groups` now shows it. Every connection of every member gets them. Closed with code 4001 when the token expires. Delivery is best effort: after a reconnect, read what was missed with `GET /api/messages/{uuid}?after_created_at=...&after_uuid=...`.", body = Frame),
        (status = 401, body = crate::error::ErrorBody),
    ),
)]
pub async fn socket(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let token = query
        .token
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized("token_missing"))?;
    let (user, claims) =
        auth::authenticate(&*state.verifier, &*state.repo, &state.users, &token).await?;
    let expires_at = i64::try_from(claims.exp).unwrap_or(i64::MAX);
    let connection = Connection {
        user: user.uuid,
        id: uuid::Uuid::new_v4().simple().to_string(),
        expires_at,
    };
    state.repo.add_connection(&connection).await?;
    let rx = state.hub.open(&connection.id);
    // Clients send only pings and closes: small buffers keep an idle socket
    // cheap (tungstenite's defaults reserve 128 KiB to read), and frames are
    // written as they come.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| serve(state, socket, connection, rx))
        .into_response())
}

async fn serve(
    state: AppState,
    mut socket: WebSocket,
    connection: Connection,
    mut rx: mpsc::Receiver<String>,
) {
    let left = u64::try_from(connection.expires_at - Timestamp::unix_now()).unwrap_or(0);
    let expiry = tokio::time::sleep(Duration::from_secs(left));
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(frame) => {
                    if socket.send(WsMessage::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the library; anything else is ignored.
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = &mut expiry => {
                let _ = socket
                    .send(WsMessage::Close(Some(CloseFrame {
                        code: CLOSE_TOKEN_EXPIRED,
                        reason: "token_expired".into(),
                    })))
                    .await;
                break;
            }
        }
    }
    state.hub.forget(&connection.id);
    if let Err(e) = state
        .repo
        .remove_connection(connection.user, &connection.id)
        .await
    {
        tracing::warn!(error = %e, "forgetting a closed connection failed; its TTL will");
    }
}

/// `POST /@connections/{id}`: the management API's PostToConnection, from
/// loopback only (the local poller); the body is the frame.
pub(crate) async fn post_to_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    if !from_loopback(&request) {
        return ApiError::NotFound("route_not_found").into_response();
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), crate::BODY_LIMIT).await else {
        return management_error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException");
    };
    let Ok(frame) = String::from_utf8(Bytes::into(body)) else {
        return management_error(StatusCode::BAD_REQUEST, "BadRequestException");
    };
    match state.hub.send(&id, frame) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(PostError::Gone) => management_error(StatusCode::GONE, "GoneException"),
        Err(PostError::Failed(_)) => {
            management_error(StatusCode::BAD_REQUEST, "BadRequestException")
        }
    }
}

/// `DELETE /@connections/{id}`: the management API's DeleteConnection, from
/// loopback only (the local poller closing an expired connection).
pub(crate) async fn delete_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    if !from_loopback(&request) {
        return ApiError::NotFound("route_not_found").into_response();
    }
    match Post::close(&state.hub, &id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => management_error(StatusCode::GONE, "GoneException"),
    }
}

/// Whether the request came over loopback (served with connect info).
fn from_loopback(request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback())
}

/// An error as API Gateway's management API answers it: the type in
/// `x-amzn-errortype`, a JSON message.
fn management_error(status: StatusCode, kind: &'static str) -> Response {
    let mut response = (status, axum::Json(serde_json::json!({ "message": kind }))).into_response();
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(kind));
    response
}
