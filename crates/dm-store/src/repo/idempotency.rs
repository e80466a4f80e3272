//! Idempotency claims: one item per user and key, so a retried send answers
//! with the first message instead of sending a second ([`crate::SendOnce`]).

use dm_domain::{IdempotencyClaim, ItemKey};

use crate::{
    Clash, Record, StoreError, StoreResult,
    table::{Condition, Table, Write, WriteError},
};

/// Claims a key; returns the claim in force (this one, or an unexpired one
/// made before). Expired claims count as absent.
pub(super) async fn claim<T: Table + ?Sized>(
    table: &T,
    claim: IdempotencyClaim,
    now: i64,
) -> StoreResult<IdempotencyClaim> {
    let key = ItemKey::Idempotency(claim.user, claim.key.clone());
    let write = Write::put_if(
        Record::Idempotency(claim.clone()),
        Condition::NotExistsOrExpired(now),
    );
    match table.write(vec![write]).await {
        Ok(()) => Ok(claim),
        Err(WriteError::ConditionFailed { .. }) => match table.get(&key).await? {
            Some(Record::Idempotency(existing)) => Ok(existing),
            Some(other) => Err(other.unexpected()),
            // Gone since (it expired and was deleted): claim again.
            None => match table
                .write(vec![Write::create(Record::Idempotency(claim.clone()))])
                .await
            {
                Ok(()) => Ok(claim),
                Err(WriteError::ConditionFailed { .. }) => {
                    Err(StoreError::Conflict(Clash::ItemExists))
                }
                Err(WriteError::Store(e)) => Err(e),
            },
        },
        Err(WriteError::Store(e)) => Err(e),
    }
}
