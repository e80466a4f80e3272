//! A conversation's own item: `GROUP#{group_uuid}` / `META`: its members and
//! when it started, and a named group's name, owner and version. Written
//! when the conversation starts and when a named group's members or name
//! change; messages do not change it. Its id is `group_uuid`, not `message_group_uuid`, so that it
//! stays out of the sparse `message-group-sk-index`.
//!
//! Items written before issue 25 also carry where the rows stood, what they
//! showed and each member's read state (`last_message_*`, `preview`,
//! `message`, `version`, `members[].read_through`, `members[].unread_count`):
//! that state now lives on each member's row, and those attributes are
//! ignored when read.

use dm_domain::{
    Group, GroupId, GroupKind, GroupName, MAX_MEMBERS, Member, Timestamp, UserId, UserSummary,
};
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
    /// A named group's name; absent on a one-to-one conversation's item.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    name: Option<GroupName>,
    /// A named group's owner.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    owner_uuid: Option<UserId>,
    /// The members the change that made this version removed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    removed: Vec<UserId>,
    /// A named group's version, bumped by each change of its members or name.
    /// (One-to-one items written before issue 25 carry a `version` of their
    /// rows' state, which is not this and is ignored.)
    #[serde(skip_serializing_if = "Option::is_none", default)]
    members_version: Option<u64>,
}

/// A member of a group item.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// The group's version when they joined; absent for its first members.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    joined_version: Option<u64>,
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
                    user_uuid: m.user.uuid,
                    user_handle: m.user.handle.clone(),
                    user_display_name: m.user.display_name.clone(),
                    joined_version: (m.joined_version > 0).then_some(m.joined_version),
                })
                .collect(),
            created_at: g.created_at,
            name: match &g.kind {
                GroupKind::Direct => None,
                GroupKind::Named { name, .. } => Some(name.clone()),
            },
            owner_uuid: g.owner(),
            removed: g.removed.clone(),
            members_version: g.owner().map(|_| g.version),
        }
    }

    pub(super) fn decode(self, id: GroupId, place: At<'_>) -> StoreResult<Group> {
        let members: Vec<Member> = self
            .members
            .into_iter()
            .map(|m| Member {
                user: UserSummary {
                    uuid: m.user_uuid,
                    handle: m.user_handle,
                    display_name: m.user_display_name,
                },
                joined_version: m.joined_version.unwrap_or(0),
            })
            .collect();
        let (kind, version) = match (self.name, self.owner_uuid) {
            (None, None) if members.len() == 2 => (GroupKind::Direct, 0),
            (None, None) => {
                return Err(place.error_in_partition("a one-to-one conversation has two members"));
            }
            (Some(name), Some(owner)) if members.len() <= MAX_MEMBERS => (
                GroupKind::Named { name, owner },
                self.members_version.unwrap_or(0),
            ),
            (Some(_), Some(_)) => {
                return Err(place.error_in_partition("a group has at most 100 members"));
            }
            _ => return Err(place.error_in_partition("a named group has a name and an owner")),
        };
        Ok(Group {
            id,
            kind,
            members,
            created_at: self.created_at,
            version,
            removed: self.removed,
        })
    }
}
