//! A user's live connection: `WS#{user_uuid}` / `{connection_id}`, until
//! `expires_at` (the table's TTL attribute).

use dm_domain::{Connection, UserId};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) struct ConnectionItem {
    pk: String,
    sk: String,
    entity: String,
    /// Epoch seconds; the table's time-to-live attribute.
    expires_at: i64,
}

impl ConnectionItem {
    pub(super) fn new(c: &Connection, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            expires_at: c.expires_at,
        }
    }

    pub(super) fn decode(self, user: UserId, id: String) -> Connection {
        Connection {
            user,
            id,
            expires_at: self.expires_at,
        }
    }
}
