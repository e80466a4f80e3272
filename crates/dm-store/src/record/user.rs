//! A user profile: `USER#{user_uuid}` / `PROFILE`.

use dm_domain::{DisplayName, Handle, User, UserId};
use serde::{Deserialize, Serialize};

use super::At;
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct UserItem {
    pk: String,
    sk: String,
    entity: String,
    user_uuid: UserId,
    handle: String,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    cognito_user_id: Option<String>,
}

impl UserItem {
    pub(super) fn new(u: &User, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            user_uuid: u.uuid,
            handle: u.handle.to_string(),
            display_name: u.display_name.to_string(),
            cognito_user_id: u.cognito_user_id.clone(),
        }
    }

    /// The user, its handle and name validated as when they were created.
    pub(super) fn decode(self, uuid: UserId, place: At<'_>) -> StoreResult<User> {
        let invalid = |e: dm_domain::ValidationError| place.error_in_partition(e);
        Ok(User {
            uuid,
            handle: Handle::parse(&self.handle).map_err(invalid)?,
            display_name: DisplayName::parse(&self.display_name).map_err(invalid)?,
            cognito_user_id: self.cognito_user_id,
        })
    }
}
