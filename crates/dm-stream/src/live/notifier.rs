//! [`ConnectionNotifier`]: each member's live connections, from the
//! repository, sent an update's frames through a [`Post`]; a gone connection
//! forgotten, an expired one closed.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use dm_domain::{Timestamp, UserId};
use dm_store::Repository;
use futures::future::join_all;

use super::{
    frames::Frame,
    update::{Notifier, Update},
};

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
        // Every member: the new messages in order and the edits (of those
        // that reached them: accepted once they had joined), the deletes,
        // the markers that moved, who is in a group now, then their own row.
        let messages: Vec<(u64, String)> = update
            .messages
            .iter()
            .map(|m| (m.members_version, Frame::message(m).to_json()))
            .chain(
                update
                    .edited
                    .iter()
                    .map(|m| (m.members_version, Frame::edited(m).to_json())),
            )
            .collect();
        let mut shared: Vec<String> = update
            .deleted
            .iter()
            .map(|&at| Frame::deleted(update.group, at).to_json())
            .collect();
        let mut marks = update.marks.clone();
        // Each member's newest.
        marks.sort_by(|a, b| a.member.cmp(&b.member).then(b.through.cmp(&a.through)));
        marks.dedup_by_key(|m| m.member);
        shared.extend(marks.iter().map(|m| Frame::read(m).to_json()));
        shared.extend(
            update
                .group_changed
                .iter()
                .map(|g| Frame::members(g).to_json()),
        );
        let now = Timestamp::unix_now();
        let members = update.members.iter().map(|member| {
            let mut frames: Vec<String> = messages
                .iter()
                .filter(|(accepted_at, _)| *accepted_at >= member.joined_version)
                .map(|(_, frame)| frame.clone())
                .collect();
            frames.extend(shared.iter().cloned());
            frames.extend(
                update
                    .rows
                    .iter()
                    .filter(|row| row.owner == member.user.uuid)
                    .map(|row| Frame::conversation(row).to_json()),
            );
            (member.user.uuid, frames)
        });
        // Who is no longer in it: told so, and nothing else.
        let gone = update
            .gone
            .iter()
            .map(|&user| (user, vec![Frame::removed(update.group).to_json()]));
        join_all(
            members
                .chain(gone)
                .map(|(user, frames)| async move { self.deliver(user, &frames, now).await }),
        )
        .await;
    }
}
