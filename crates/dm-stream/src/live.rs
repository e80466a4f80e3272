//! Live delivery: after the handler has applied a conversation's changes
//! (new messages, edits, deletes, read markers), every live connection of
//! every member gets them as frames.
//!
//! [`Notifier`] is the port the [`crate::Handler`] calls; [`ConnectionNotifier`]
//! is its one implementation: it looks up each member's connections in the
//! repository and posts the frames through a [`Post`], which is API
//! Gateway's management API ([`ManagementApi`]) on AWS and locally (where
//! `dm-api` serves the same `POST /@connections/{id}`), or `dm-api`'s own
//! sockets in one process. A connection that is gone (`GoneException`, 410)
//! is deleted.
//!
//! Delivery is best effort and never fails a batch: a frame that cannot be
//! posted is lost, and the client catches up by reading (`GET
//! /api/messages/{uuid}?after=...`). A record the stream replays may repeat a
//! frame; frames carry ids, so a client keeps each message once.

use std::{fmt, sync::Arc, time::SystemTime};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::SdkError;
use dm_domain::{Conversation, Group, GroupId, Message, MessageRef, ReadMarker, UserId};
use dm_store::{Applied, Changes, Repository};
use futures::future::join_all;
use serde::{Deserialize, Serialize};

/// A message as a frame carries it: as `GET /api/messages` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageFrame {
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
    /// When its author last edited it, on an edited message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
}

impl From<&Message> for MessageFrame {
    fn from(message: &Message) -> Self {
        Self {
            uuid: message.id.to_string(),
            display_name: message.sender.display_name.clone(),
            handle: message.sender.handle.clone(),
            message: message.text.clone(),
            created_at: message.created_at.to_string(),
            edited_at: message.edited_at.map(|at| at.to_string()),
        }
    }
}

/// A member's conversation row as a frame carries it: as
/// `GET /api/message_groups` now shows it to that member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationFrame {
    /// The conversation's uuid.
    pub uuid: String,
    /// The other member's display name.
    pub display_name: String,
    /// The other member's handle.
    pub handle: String,
    /// The preview: the current text of the newest message not deleted, or
    /// empty.
    pub message: String,
    /// When the last message was sent: where the row stands in the list.
    pub created_at: String,
    /// The other members' messages this member has not read, up to 100
    /// (100 stands for more than 99).
    pub unread_count: u32,
}

/// Where a read marker stands: the newest message its member has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadThrough {
    /// That message's uuid.
    pub uuid: String,
    /// When it was sent.
    pub created_at: String,
}

impl From<MessageRef> for ReadThrough {
    fn from(at: MessageRef) -> Self {
        Self {
            uuid: at.id.to_string(),
            created_at: at.at.to_string(),
        }
    }
}

/// What a live connection receives, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// A new message in one of the user's conversations.
    Message {
        /// The conversation.
        message_group_uuid: String,
        /// The message.
        message: MessageFrame,
    },
    /// Its author edited a message: its new text. Of several frames of one
    /// message, the one with the latest `edited_at` is its text.
    MessageEdited {
        /// The conversation.
        message_group_uuid: String,
        /// The message, as edited.
        message: MessageFrame,
    },
    /// Its author deleted a message: it stays in its place without text.
    /// Final: no frame of that message after this one changes it.
    MessageDeleted {
        /// The conversation.
        message_group_uuid: String,
        /// The message's uuid.
        uuid: String,
        /// When it was sent.
        created_at: String,
    },
    /// The user's row of a conversation, as it now is: moved to its newest
    /// message, with a new preview (an edit or a delete), or with a new
    /// unread count.
    Conversation {
        /// The row.
        conversation: ConversationFrame,
    },
    /// A member of one of the user's conversations (the user, on another
    /// tab, or the other member) has read it up to a message.
    Read {
        /// The conversation.
        message_group_uuid: String,
        /// The reader's uuid.
        member: String,
        /// The newest message they have seen.
        read_through: ReadThrough,
    },
}

impl Frame {
    /// The frame of a new message.
    pub fn message(message: &Message) -> Self {
        Self::Message {
            message_group_uuid: message.group.to_string(),
            message: message.into(),
        }
    }

    /// The frame of an edited message.
    pub fn edited(message: &Message) -> Self {
        Self::MessageEdited {
            message_group_uuid: message.group.to_string(),
            message: message.into(),
        }
    }

    /// The frame of a deleted message of `group`.
    pub fn deleted(group: GroupId, at: MessageRef) -> Self {
        Self::MessageDeleted {
            message_group_uuid: group.to_string(),
            uuid: at.id.to_string(),
            created_at: at.at.to_string(),
        }
    }

    /// The frame of a member's row.
    pub fn conversation(row: &Conversation) -> Self {
        Self::Conversation {
            conversation: ConversationFrame {
                uuid: row.group.to_string(),
                display_name: row.other.display_name.clone(),
                handle: row.other.handle.clone(),
                message: row.last_message.clone(),
                created_at: row.last_message_at.to_string(),
                unread_count: row.unread,
            },
        }
    }

    /// The frame of a read marker.
    pub fn read(marker: &ReadMarker) -> Self {
        Self::Read {
            message_group_uuid: marker.group.to_string(),
            member: marker.member.to_string(),
            read_through: marker.through.into(),
        }
    }

    /// The frame as the JSON text a connection receives.
    pub fn to_json(&self) -> String {
        // A frame is strings in maps: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the handler applied in one conversation, for the notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The conversation.
    pub group: GroupId,
    /// Its new messages in the batch, oldest first.
    pub messages: Vec<Message>,
    /// The message the members' rows moved to, if they moved.
    pub rows_show: Option<Message>,
    /// Its edited messages in the batch, each in the latest state seen.
    pub edited: Vec<Message>,
    /// Its deleted messages in the batch.
    pub deleted: Vec<MessageRef>,
    /// Its read markers in the batch.
    pub marks: Vec<ReadMarker>,
    /// Whether the rows changed (moved, their preview or unread counts).
    pub changed: bool,
}

impl Update {
    /// What the handler applied in `group`: `changes`, of which `inserted`
    /// are new messages, with the outcome `applied`.
    pub fn new(
        group: GroupId,
        changes: Changes,
        mut inserted: Vec<Message>,
        applied: Applied,
    ) -> Self {
        inserted.sort_by_key(Message::reference);
        inserted.dedup_by_key(|m| m.id);
        let rows_show = (applied == Applied::Moved)
            .then(|| {
                changes
                    .messages
                    .iter()
                    .max_by_key(|m| m.reference())
                    .cloned()
            })
            .flatten();
        let mut deleted: Vec<MessageRef> = changes
            .messages
            .iter()
            .filter(|m| m.deleted)
            .map(Message::reference)
            .chain(changes.removed)
            .collect();
        deleted.sort();
        deleted.dedup();
        // The latest edit of each message not deleted.
        let mut edited: Vec<Message> = changes
            .messages
            .into_iter()
            .filter(|m| m.edited_at.is_some() && !deleted.contains(&m.reference()))
            .collect();
        edited.sort_by(|a, b| (a.reference(), b.edited_at).cmp(&(b.reference(), a.edited_at)));
        edited.dedup_by_key(|m| m.id);
        Self {
            group,
            messages: inserted,
            rows_show,
            edited,
            deleted,
            marks: changes.marks,
            changed: applied != Applied::AlreadyCurrent,
        }
    }
}

/// Tells a conversation's members what the handler update.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Delivers what it can; never fails (delivery is best effort).
    async fn notify(&self, update: &Update);
}

/// Why a frame could not be posted to a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The connection is closed for good (`GoneException`, 410): forget it.
    #[error("the connection is gone")]
    Gone,
    /// Anything else; the frame is lost, the connection kept.
    #[error("posting failed: {0}")]
    Failed(String),
}

/// Posts a frame to a connection, or closes it, as API Gateway's management
/// API does.
#[async_trait]
pub trait Post: Send + Sync + fmt::Debug {
    /// Sends `data` (a frame's JSON) to connection `id`.
    async fn post(&self, id: &str, data: &str) -> Result<(), PostError>;

    /// Closes connection `id` (`DeleteConnection`); one already gone is not
    /// an error.
    async fn close(&self, id: &str) -> Result<(), PostError>;
}

/// The notifier: each member's connections, from the repository, each sent
/// the frames through `post`.
#[derive(Debug, Clone)]
pub struct ConnectionNotifier {
    repo: Arc<dyn Repository>,
    post: Arc<dyn Post>,
}

impl ConnectionNotifier {
    /// Notifies through `post` the connections `repo` keeps.
    pub fn new(repo: Arc<dyn Repository>, post: Arc<dyn Post>) -> Self {
        Self { repo, post }
    }

    async fn deliver(&self, member: UserId, frames: &[String], now: i64) {
        // Every connection kept, the expired ones too: a socket lives no
        // longer than its token, so an expired one is closed (its client
        // reconnects with a fresh token and catches up) instead of posted to.
        let (connections, expired): (Vec<_>, Vec<_>) = match self
            .repo
            .connections(member, i64::MIN)
            .await
        {
            Ok(all) => all.into_iter().partition(|c| c.expires_at > now),
            Err(e) => {
                tracing::warn!(%member, error = %e, "reading live connections failed; frames lost");
                return;
            }
        };
        join_all(expired.iter().map(|connection| async move {
            match self.post.close(&connection.id).await {
                Ok(()) | Err(PostError::Gone) => {
                    if let Err(e) = self.repo.remove_connection(member, &connection.id).await {
                        tracing::warn!(%member, error = %e, "forgetting an expired connection failed; its TTL will");
                    }
                }
                Err(e) => tracing::debug!(%member, error = %e, "closing an expired connection failed"),
            }
        }))
        .await;
        join_all(connections.iter().map(|connection| async move {
            for frame in frames {
                match self.post.post(&connection.id, frame).await {
                    Ok(()) => {}
                    Err(PostError::Gone) => {
                        if let Err(e) = self.repo.remove_connection(member, &connection.id).await {
                            tracing::warn!(%member, error = %e, "forgetting a gone connection failed");
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(%member, error = %e, "a frame was lost");
                        return;
                    }
                }
            }
        }))
        .await;
    }
}

#[async_trait]
impl Notifier for ConnectionNotifier {
    async fn notify(&self, update: &Update) {
        // The group as the handler just wrote it (this process remembers it).
        let group: Option<Group> = match self.repo.group_unchecked(update.group).await {
            Ok(group) => group,
            Err(e) => {
                tracing::warn!(group = %update.group, error = %e, "reading the conversation failed; frames lost");
                return;
            }
        };
        let members: Vec<UserId> = match &group {
            Some(group) => group.members.iter().map(|m| m.uuid).collect(),
            None => match self.repo.members_unchecked(update.group).await {
                Ok(members) => members.iter().map(|m| m.uuid).collect(),
                Err(e) => {
                    tracing::warn!(group = %update.group, error = %e, "reading members failed; frames lost");
                    return;
                }
            },
        };
        // Everyone: the new messages in order, the edits, the deletes, then
        // the markers that moved.
        let mut shared: Vec<String> = update
            .messages
            .iter()
            .map(Frame::message)
            .chain(update.edited.iter().map(Frame::edited))
            .chain(
                update
                    .deleted
                    .iter()
                    .map(|&at| Frame::deleted(update.group, at)),
            )
            .map(|frame| frame.to_json())
            .collect();
        let mut marks = update.marks.clone();
        // Each member's newest.
        marks.sort_by(|a, b| a.member.cmp(&b.member).then(b.through.cmp(&a.through)));
        marks.dedup_by_key(|m| m.member);
        shared.extend(marks.iter().map(|m| Frame::read(m).to_json()));
        let rows: Vec<Conversation> = match (&group, update.changed) {
            (Some(group), true) => group.rows().to_vec(),
            _ => Vec::new(),
        };
        let now = unix_now();
        join_all(members.iter().map(|&member| {
            let mut frames = shared.clone();
            // Each member's own row.
            frames.extend(
                rows.iter()
                    .filter(|row| row.owner == member)
                    .map(|row| Frame::conversation(row).to_json()),
            );
            async move { self.deliver(member, &frames, now).await }
        }))
        .await;
    }
}

/// API Gateway's management API (`aws-sdk-apigatewaymanagement`), at the
/// WebSocket API's callback URL on AWS or at `dm-api` locally.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// Posts through `client`, configured with the callback URL as its endpoint.
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self { client }
    }

    /// A client for the callback URL `endpoint`
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or
    /// `http://127.0.0.1:4567` for `dm-api`), from `sdk`'s credentials and region.
    pub fn at(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self::new(aws_sdk_apigatewaymanagement::Client::from_conf(config))
    }
}

#[async_trait]
impl Post for ManagementApi {
    async fn close(&self, id: &str) -> Result<(), PostError> {
        use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
        let sent = self
            .client
            .delete_connection()
            .connection_id(id)
            .send()
            .await;
        sent.map(|_| ())
            .map_err(|e| post_error(e, |e| matches!(e, DeleteConnectionError::GoneException(_))))
    }

    async fn post(&self, id: &str, data: &str) -> Result<(), PostError> {
        use aws_sdk_apigatewaymanagement::{
            operation::post_to_connection::PostToConnectionError, primitives::Blob,
        };
        let sent = self
            .client
            .post_to_connection()
            .connection_id(id)
            .data(Blob::new(data.as_bytes()))
            .send()
            .await;
        sent.map(|_| ())
            .map_err(|e| post_error(e, |e| matches!(e, PostToConnectionError::GoneException(_))))
    }
}

/// The one mapping of the management API's errors: the operation's
/// `GoneException` (as `gone` recognises it) is [`PostError::Gone`], any
/// other failure [`PostError::Failed`].
fn post_error<E, R>(err: SdkError<E, R>, gone: impl Fn(&E) -> bool) -> PostError
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(e) if gone(e) => PostError::Gone,
        _ => PostError::Failed(
            aws_sdk_apigatewaymanagement::error::DisplayErrorContext(err).to_string(),
        ),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
