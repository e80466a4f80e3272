//! A message: `MSG#{group_uuid}` / `{created_at}#{message_uuid}`. The seed's
//! messages have a bare timestamp for a sort key and no `created_at` or
//! `entity`; they keep their uuid only in `message_uuid`.

use dm_domain::{GroupId, Message, MessageId, Timestamp, UserId, UserSummary};
use serde::{Deserialize, Serialize};

use super::At;
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct MessageItem {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    entity: Option<String>,
    #[serde(default)]
    message_uuid: Option<MessageId>,
    message: String,
    #[serde(default)]
    created_at: Option<Timestamp>,
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// When its author last edited it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    edited_at: Option<Timestamp>,
    /// `true` on a tombstone; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    deleted: Option<bool>,
    /// In a named group, the group's version the sender's membership was
    /// checked at; absent (0) in a one-to-one conversation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    members_version: Option<u64>,
}

impl MessageItem {
    pub(super) fn new(m: &Message, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: Some(entity.into()),
            message_uuid: Some(m.id),
            message: m.text.clone(),
            created_at: Some(m.created_at),
            user_uuid: m.sender.uuid,
            user_handle: m.sender.handle.clone(),
            user_display_name: m.sender.display_name.clone(),
            edited_at: m.edited_at,
            deleted: m.deleted.then_some(true),
            members_version: (m.members_version > 0).then_some(m.members_version),
        }
    }

    /// The message stored at `group`, `at`, with the id its key holds (none
    /// for the seed's).
    pub(super) fn decode(
        self,
        group: GroupId,
        at: Timestamp,
        id: Option<MessageId>,
        place: At<'_>,
    ) -> StoreResult<Message> {
        Ok(Message {
            id: self
                .message_uuid
                .or(id)
                .ok_or_else(|| place.error("message without a uuid"))?,
            group,
            created_at: self.created_at.unwrap_or(at),
            text: self.message,
            sender: UserSummary {
                uuid: self.user_uuid,
                handle: self.user_handle,
                display_name: self.user_display_name,
            },
            edited_at: self.edited_at,
            deleted: self.deleted.unwrap_or(false),
            members_version: self.members_version.unwrap_or(0),
        })
    }
}
