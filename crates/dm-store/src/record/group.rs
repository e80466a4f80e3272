//! A conversation's own item: `GROUP#{group_uuid}` / `META`. Its members with
//! their read state, where the rows stand (`last_message_*`), what they show
//! (`preview`, `message`), and the `version` the row update conditions on.
//! Its id is `group_uuid`, not `message_group_uuid`, so that it stays out of
//! the sparse `message-group-sk-index`.

use dm_domain::{Group, GroupId, MessageId, MessageRef, ReadState, Timestamp, UserId, UserSummary};
use serde::{Deserialize, Serialize};

use super::{At, parse_ref};
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct GroupItem {
    pk: String,
    sk: String,
    entity: String,
    group_uuid: GroupId,
    members: Vec<MemberItem>,
    /// Absent on items written before it existed: version 0.
    #[serde(default)]
    version: u64,
    created_at: Timestamp,
    last_message_at: Timestamp,
    last_message_uuid: MessageId,
    /// The sort key of the message the preview shows, empty when none
    /// remains; absent when it is the last message (and on items written
    /// before edits).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview: Option<String>,
    /// When that message was last edited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview_edited_at: Option<Timestamp>,
    message: String,
}

/// A member of a group item, with their read state.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// The sort key of the newest message they marked read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    read_through: Option<String>,
    /// Their unread count; absent when never counted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    unread_count: Option<u32>,
}

impl GroupItem {
    pub(super) fn new(g: &Group, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            group_uuid: g.id,
            members: g
                .members
                .iter()
                .zip(&g.reads)
                .map(|(member, read)| MemberItem::new(member, read))
                .collect(),
            version: g.version,
            created_at: g.created_at,
            last_message_at: g.last.at,
            last_message_uuid: g.last.id,
            // Only when it is not the last message (after an edit or a
            // delete): the group item a send rewrites stays its size.
            preview: (g.shown != Some(g.last))
                .then(|| g.shown.map(|r| r.sort_key()).unwrap_or_default()),
            preview_edited_at: g.shown_edited_at,
            message: g.preview.clone(),
        }
    }

    pub(super) fn decode(self, id: GroupId, place: At<'_>) -> StoreResult<Group> {
        let (members, reads): (Vec<UserSummary>, Vec<ReadState>) = self
            .members
            .into_iter()
            .map(MemberItem::decode)
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| place.error(e))?
            .into_iter()
            .unzip();
        let two = || place.error_in_partition("a group has two members");
        let last = MessageRef {
            at: self.last_message_at,
            id: self.last_message_uuid,
        };
        // Absent: the preview is the last message.
        let shown = match self.preview.as_deref() {
            None => Some(last),
            Some("") => None,
            Some(sk) => Some(parse_ref(sk).map_err(|e| place.error(e))?),
        };
        Ok(Group {
            id,
            members: members.try_into().map_err(|_| two())?,
            reads: reads.try_into().map_err(|_| two())?,
            version: self.version,
            created_at: self.created_at,
            last,
            shown,
            shown_edited_at: self.preview_edited_at,
            preview: self.message,
        })
    }
}

impl MemberItem {
    fn new(u: &UserSummary, read: &ReadState) -> Self {
        Self {
            user_uuid: u.uuid,
            user_handle: u.handle.clone(),
            user_display_name: u.display_name.clone(),
            read_through: read.through.map(|r| r.sort_key()),
            unread_count: read.unread,
        }
    }

    fn decode(self) -> Result<(UserSummary, ReadState), String> {
        let read = ReadState {
            through: self.read_through.as_deref().map(parse_ref).transpose()?,
            unread: self.unread_count,
        };
        let member = UserSummary {
            uuid: self.user_uuid,
            handle: self.user_handle,
            display_name: self.user_display_name,
        };
        Ok((member, read))
    }
}
