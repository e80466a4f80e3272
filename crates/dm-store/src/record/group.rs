//! A conversation's own item: `GROUP#{group_uuid}` / `META`: its members and
//! when it started. Written when the conversation starts; messages do not
//! change it. Its id is `group_uuid`, not `message_group_uuid`, so that it
//! stays out of the sparse `message-group-sk-index`.
//!
//! Items written before issue 25 also carry where the rows stood, what they
//! showed and each member's read state (`last_message_*`, `preview`,
//! `message`, `version`, `members[].read_through`, `members[].unread_count`):
//! that state now lives on each member's row, and those attributes are
//! ignored when read.

use dm_domain::{Group, GroupId, Timestamp, UserId, UserSummary};
use serde::{Deserialize, Serialize};

use super::At;
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct GroupItem {
    pk: String,
    sk: String,
    entity: String,
    group_uuid: GroupId,
    members: Vec<MemberItem>,
    created_at: Timestamp,
}

/// A member of a group item.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
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
                .map(|m| MemberItem {
                    user_uuid: m.uuid,
                    user_handle: m.handle.clone(),
                    user_display_name: m.display_name.clone(),
                })
                .collect(),
            created_at: g.created_at,
        }
    }

    pub(super) fn decode(self, id: GroupId, place: At<'_>) -> StoreResult<Group> {
        let members: Vec<UserSummary> = self
            .members
            .into_iter()
            .map(|m| UserSummary {
                uuid: m.user_uuid,
                handle: m.user_handle,
                display_name: m.user_display_name,
            })
            .collect();
        Ok(Group {
            id,
            members: members
                .try_into()
                .map_err(|_| place.error_in_partition("a group has two members"))?,
            created_at: self.created_at,
        })
    }
}
