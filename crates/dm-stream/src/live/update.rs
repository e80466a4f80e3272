//! [`Update`], what the handler applied in one conversation, and
//! [`Notifier`], the port it tells.

use std::fmt;

use async_trait::async_trait;
use dm_domain::{Conversation, Group, GroupId, Member, Message, MessageRef, ReadMarker, UserId};
use dm_store::{Applied, Changes, Written};

/// What the handler applied in one conversation, for the notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The conversation.
    pub group: GroupId,
    /// Its members, as the row update saw them, each with the version they
    /// joined at: a message reaches those who had joined when it was
    /// accepted.
    pub members: Vec<Member>,
    /// The group itself when its members or name changed in the batch.
    pub group_changed: Option<Group>,
    /// Who is no longer a member (removed, or left) and lost their row.
    pub gone: Vec<UserId>,
    /// Each member's row as the row update left it, when the rows changed
    /// (see `changed`); empty otherwise.
    pub rows: Vec<Conversation>,
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
    /// What the handler applied: `changes`, of which `inserted` are new
    /// messages, with what the row update wrote (`written`).
    pub fn new(written: &Written, changes: Changes, mut inserted: Vec<Message>) -> Self {
        inserted.sort_by_key(Message::reference);
        inserted.dedup_by_key(|m| m.id);
        let changed = written.applied != Applied::AlreadyCurrent;
        let rows_show = (written.applied == Applied::Moved)
            .then(|| {
                changes
                    .messages
                    .iter()
                    .max_by_key(|m| m.reference())
                    .cloned()
            })
            .flatten();
        // Each message at its latest state: deleted, or its latest edit.
        let latest = Message::latest_states(&changes.messages);
        let mut deleted: Vec<MessageRef> = latest
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.reference())
            .chain(changes.removed.iter().copied())
            .collect();
        deleted.sort();
        deleted.dedup();
        let edited: Vec<Message> = latest
            .into_iter()
            .filter(|m| m.edited_at.is_some() && !deleted.contains(&m.reference()))
            .cloned()
            .collect();
        let group = &written.group;
        Self {
            group: group.id,
            members: group.members.clone(),
            group_changed: changes
                .group
                .as_ref()
                .filter(|g| g.id == group.id)
                .map(|_| group.clone()),
            gone: written.gone.clone(),
            rows: if changed {
                written.rows.clone()
            } else {
                Vec::new()
            },
            messages: inserted,
            rows_show,
            edited,
            deleted,
            marks: changes.marks,
            changed,
        }
    }
}

/// Tells a conversation's members what the handler updated.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Delivers what it can; never fails (delivery is best effort).
    async fn notify(&self, update: &Update);
}
