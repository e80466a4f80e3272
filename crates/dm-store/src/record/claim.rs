//! The claims that make things unique, each one item created under
//! `attribute_not_exists(pk)`:
//! - a DM pair, `DM#{low}#{high}` / `DM`: the pair's one conversation
//!   (`group_uuid`);
//! - a handle, `HANDLE#{lowercased handle}` / `HANDLE`, and a Cognito
//!   subject, `COGNITO#{sub}` / `COGNITO`: their user (`user_uuid`).

use dm_domain::{GroupId, UserId};
use serde::{Deserialize, Serialize};

use super::At;
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct ClaimItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    group_uuid: Option<GroupId>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    user_uuid: Option<UserId>,
}

impl ClaimItem {
    /// A DM pair's claim on its conversation.
    pub(super) fn of_group(group: GroupId, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            group_uuid: Some(group),
            user_uuid: None,
        }
    }

    /// A handle's or a Cognito subject's claim on its user.
    pub(super) fn of_user(user: UserId, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            group_uuid: None,
            user_uuid: Some(user),
        }
    }

    pub(super) fn group(self, place: At<'_>) -> StoreResult<GroupId> {
        self.group_uuid
            .ok_or_else(|| place.error_in_partition("no group_uuid"))
    }

    pub(super) fn user(self, place: At<'_>) -> StoreResult<UserId> {
        self.user_uuid
            .ok_or_else(|| place.error_in_partition("claim without user_uuid"))
    }
}
