//! An idempotency key's claim on the message it sent:
//! `IDEMP#{user_uuid}#{key}` / `IDEMP`, until `expires_at` (the table's TTL
//! attribute).

use dm_domain::{IdempotencyClaim, MessageId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) struct IdempotencyItem {
    pk: String,
    sk: String,
    entity: String,
    message_uuid: MessageId,
    created_at: Timestamp,
    request: String,
    /// Epoch seconds; the table's time-to-live attribute.
    expires_at: i64,
}

impl IdempotencyItem {
    pub(super) fn new(c: &IdempotencyClaim, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            message_uuid: c.message,
            created_at: c.at,
            request: c.request.clone(),
            expires_at: c.expires_at,
        }
    }

    pub(super) fn decode(self, user: UserId, key: String) -> IdempotencyClaim {
        IdempotencyClaim {
            user,
            key,
            message: self.message_uuid,
            at: self.created_at,
            request: self.request,
            expires_at: self.expires_at,
        }
    }
}
