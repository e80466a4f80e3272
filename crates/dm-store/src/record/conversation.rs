//! A member's conversation row: `GRP#{owner_uuid}` /
//! `{last_message_at}#{group_uuid}`. The seed's rows have a bare timestamp
//! for a sort key, no `last_message_*`, and `message_group_uuid`, which puts
//! them in `message-group-sk-index`: the seed's own way to find a
//! conversation's rows, which reads them only for conversations without a
//! group item. Rows written here name their conversation in their sort key
//! and carry no `message_group_uuid`, so they stay out of that index: every
//! move of a row would cost two index writes more (see
//! `docs/access-patterns.md`). Rows written so before stay in the index
//! until their next move, and read the same.

use dm_domain::{Conversation, GroupId, MessageId, Timestamp, UserId, UserSummary};
use serde::{Deserialize, Serialize};

use super::At;
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct ConversationItem {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    entity: Option<String>,
    /// On the seed's rows (and on rows written here before they left the
    /// index); the sort key names the conversation otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    message_group_uuid: Option<GroupId>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    last_message_uuid: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    last_message_at: Option<Timestamp>,
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// The owner's unread count; absent on rows written before read state.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    unread_count: Option<u32>,
}

impl ConversationItem {
    pub(super) fn new(c: &Conversation, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: Some(entity.into()),
            // Only a row written the seed's way (no last message id) is
            // written with it, as the seed wrote it.
            message_group_uuid: c.last_message_id.is_none().then_some(c.group),
            message: c.preview.clone(),
            last_message_uuid: c.last_message_id,
            last_message_at: Some(c.last_message_at),
            user_uuid: c.other.uuid,
            user_handle: c.other.handle.clone(),
            user_display_name: c.other.display_name.clone(),
            unread_count: Some(c.unread),
        }
    }

    /// `owner`'s row, whose key stands at `at` and names `group` when it
    /// carries one.
    pub(super) fn decode(
        self,
        owner: UserId,
        at: Timestamp,
        group: Option<GroupId>,
        place: At<'_>,
    ) -> StoreResult<Conversation> {
        Ok(Conversation {
            group: self
                .message_group_uuid
                .or(group)
                .ok_or_else(|| place.error("a row that names no conversation"))?,
            owner,
            other: UserSummary {
                uuid: self.user_uuid,
                handle: self.user_handle,
                display_name: self.user_display_name,
            },
            preview: self.message,
            last_message_id: self.last_message_uuid,
            last_message_at: self.last_message_at.unwrap_or(at),
            unread: self.unread_count.unwrap_or(0),
        })
    }
}
