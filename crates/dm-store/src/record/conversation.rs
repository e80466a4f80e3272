//! A member's conversation row: `GRP#{owner_uuid}` /
//! `{last_message_at}#{group_uuid}`. The only item that carries
//! `message_group_uuid`, which keeps `message-group-sk-index` sparse. The
//! seed's rows have a bare timestamp for a sort key and no `last_message_*`.

use dm_domain::{Conversation, GroupId, MessageId, Timestamp, UserId, UserSummary};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) struct ConversationItem {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    entity: Option<String>,
    message_group_uuid: GroupId,
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
            message_group_uuid: c.group,
            message: c.preview.clone(),
            last_message_uuid: c.last_message_id,
            last_message_at: Some(c.last_message_at),
            user_uuid: c.other.uuid,
            user_handle: c.other.handle.clone(),
            user_display_name: c.other.display_name.clone(),
            unread_count: Some(c.unread),
        }
    }

    /// `owner`'s row, whose key stands at `at`.
    pub(super) fn decode(self, owner: UserId, at: Timestamp) -> Conversation {
        Conversation {
            group: self.message_group_uuid,
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
        }
    }
}
