//! A member's conversation row: `GRP#{owner_uuid}` / `{group_uuid}`, updated
//! in place, listed through the index `conversations-by-recency` (`pk`,
//! `recency` = `{last_message_at}#{group_uuid}`). The row carries its owner's
//! whole state in the conversation: what it shows (`message`, and `preview`,
//! the shown message's sort key when it is not the last), the owner's read
//! marker as applied (`read_through`) and unread count, and the `version` the
//! stream handler's writes are conditioned on.
//!
//! Two older forms decode too, for `cargo xtask migrate` to bring in: the
//! seed's rows (a bare timestamp for a sort key, no `last_message_*`, and
//! `message_group_uuid`, which puts them in `message-group-sk-index`), and
//! this project's rows before issue 25 (`{last_message_at}#{group_uuid}` for
//! a sort key, moved by a delete and a put).

use dm_domain::{
    Conversation, GroupId, GroupName, MessageId, MessageRef, Timestamp, Topic, UserId, UserSummary,
};
use serde::{Deserialize, Serialize};

use super::{At, parse_ref};
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
    /// The row's place in its owner's list, the sort key of
    /// `conversations-by-recency`; absent on the older forms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    recency: Option<String>,
    /// The sort key of the message the preview shows, empty when none
    /// remains; absent when it is the last message.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview: Option<String>,
    /// When that message was last edited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview_edited_at: Option<Timestamp>,
    /// The sort key of the newest message the owner marked read, as applied.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    read_through: Option<String>,
    /// Absent on the older forms: 0.
    #[serde(default)]
    version: u64,
    /// A named group's name; absent in a one-to-one conversation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    group_name: Option<GroupName>,
    /// A named group's number of members.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    members_count: Option<u32>,
    /// In a named group, the version of the owner's last join or leave.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    membership_version: Option<u64>,
    /// `true` once the owner has left the group; the row then carries no
    /// `recency`, so it is not listed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    left: Option<bool>,
}

impl ConversationItem {
    pub(super) fn new(c: &Conversation, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: Some(entity.into()),
            // Only a row written the seed's way (no last message id) is
            // written with it, as the seed wrote it.
            message_group_uuid: c.is_seed_form().then_some(c.group),
            message: c.preview.clone(),
            last_message_uuid: c.last_message_id,
            last_message_at: Some(c.last_message_at),
            user_uuid: c.other.uuid,
            user_handle: c.other.handle.clone(),
            user_display_name: c.other.display_name.clone(),
            unread_count: Some(c.unread),
            recency: (!c.is_seed_form() && !c.left)
                .then(|| format!("{}#{}", c.last_message_at, c.group)),
            // Only when it is not the last message (after an edit or a
            // delete): the row a send rewrites stays its size.
            preview: (c.shown != c.last())
                .then(|| c.shown.map(|r| r.sort_key()).unwrap_or_default()),
            preview_edited_at: c.shown_edited_at,
            read_through: c.read_through.map(|r| r.sort_key()),
            version: c.version,
            group_name: c.topic.as_ref().map(|t| t.name.clone()),
            members_count: c.topic.as_ref().map(|t| t.members_count),
            membership_version: (c.membership_version > 0).then_some(c.membership_version),
            left: c.left.then_some(true),
        }
    }

    /// `owner`'s row, whose key names `group` when it carries one, and stands
    /// at `at` in the older forms (`None`: the row is keyed by its group and
    /// carries `last_message_at`).
    pub(super) fn decode(
        self,
        owner: UserId,
        at: Option<Timestamp>,
        group: Option<GroupId>,
        place: At<'_>,
    ) -> StoreResult<Conversation> {
        let Some(at) = self.last_message_at.or(at) else {
            return Err(place.error("a row without `last_message_at`"));
        };
        let last_message_at = at;
        let last = self.last_message_uuid.map(|id| MessageRef {
            at: last_message_at,
            id,
        });
        // Absent: the preview is the last message.
        let shown = match self.preview.as_deref() {
            None => last,
            Some("") => None,
            Some(sk) => Some(parse_ref(sk).map_err(|e| place.error(e))?),
        };
        let read_through = self
            .read_through
            .as_deref()
            .map(parse_ref)
            .transpose()
            .map_err(|e| place.error(e))?;
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
            topic: match (self.group_name, self.members_count) {
                (Some(name), Some(members_count)) => Some(Topic {
                    name,
                    members_count,
                }),
                (None, None) => None,
                _ => return Err(place.error("a group's row without its name or size")),
            },
            preview: self.message,
            last_message_id: self.last_message_uuid,
            last_message_at,
            unread: self.unread_count.unwrap_or(0),
            shown,
            shown_edited_at: self.preview_edited_at,
            read_through,
            version: self.version,
            membership_version: self.membership_version.unwrap_or(0),
            left: self.left.unwrap_or(false),
        })
    }
}
