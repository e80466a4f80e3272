//! Conversations: a user's list of rows (pattern B), the pair's conversation,
//! and starting one with a user (pattern E).

use dm_domain::{Conversation, Group, GroupId, ItemKey, Page, Partition, UserId, UserSummary};

use super::{
    messages::{self, NewMessage},
    paging::{PageRequest, list, start_after},
};
use crate::{
    Clash, Record, StoreError, StoreResult,
    retry::{RACE_ATTEMPTS, race_backoff},
    table::{Order, Table, Write, WriteError},
};

/// The result of starting a conversation ([`crate::Repository::start_conversation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message, as stored.
    pub message: dm_domain::Message,
    /// Whether the conversation was created by this call (rather than reused).
    pub started: bool,
}

/// `owner`'s conversation rows, most recent first.
pub(super) async fn list_rows<T: Table + ?Sized>(
    table: &T,
    owner: UserId,
    page: &PageRequest,
) -> StoreResult<Page<Conversation>> {
    let partition = Partition::Conversations(owner);
    let after = start_after(partition, page)?;
    list(
        table,
        partition,
        after,
        page,
        Order::NewestFirst,
        |record| match record {
            Record::Conversation(c) => Ok(c),
            other => Err(other.unexpected()),
        },
    )
    .await
}

/// The conversation of a pair of users, from the pair's claim.
pub(super) async fn between<T: Table + ?Sized>(
    table: &T,
    a: UserId,
    b: UserId,
) -> StoreResult<Option<GroupId>> {
    match table.get(&ItemKey::dm_pair(a, b)).await? {
        Some(Record::DmPair { group, .. }) => Ok(Some(group)),
        Some(other) => Err(other.unexpected()),
        None => Ok(None),
    }
}

/// Sends to the pair's conversation, creating it (pair claim, group, both
/// rows and the message, in one transaction) if there is none.
pub(super) async fn start<T: Table + ?Sized>(
    table: &T,
    sender: &UserSummary,
    recipient: &UserSummary,
    message: NewMessage,
) -> StoreResult<Sent> {
    if sender.uuid == recipient.uuid {
        return Err(StoreError::Invalid("self_conversation"));
    }
    let ItemKey::DmPair(low, high) = ItemKey::dm_pair(sender.uuid, recipient.uuid) else {
        unreachable!("dm_pair builds a DmPair key")
    };
    let mut races = race_backoff();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(group) = between(table, sender.uuid, recipient.uuid).await? {
            let message = messages::send(table, group, sender, message).await?;
            return Ok(Sent {
                message,
                started: false,
            });
        }
        let group_id = GroupId::new();
        let stored = message.clone().into_message(group_id, sender);
        let group = Group::direct(
            group_id,
            sender.clone(),
            recipient.clone(),
            stored.created_at,
        );
        // The recipient has the first message to read.
        let [row_a, row_b] = <[Conversation; 2]>::try_from(group.first_rows(&stored))
            .map_err(|_| StoreError::Backend("a conversation of two has two rows".into()))?;
        let writes = vec![
            Write::create(Record::DmPair {
                low,
                high,
                group: group_id,
            }),
            Write::create(Record::Group(group)),
            Write::put(Record::Conversation(row_a)),
            Write::put(Record::Conversation(row_b)),
            Write::create(Record::Message(stored.clone())),
        ];
        match table.write(writes).await {
            Ok(()) => {
                return Ok(Sent {
                    message: stored,
                    started: true,
                });
            }
            // Someone started this pair's conversation first: use theirs.
            Err(WriteError::ConditionFailed { index: 0 }) if attempt < RACE_ATTEMPTS => {}
            // A concurrent transaction touched the same items: a race too.
            // Throttling and outages are not retried here: the SDK did.
            Err(WriteError::Store(StoreError::TransactionCancelled { .. }))
                if attempt < RACE_ATTEMPTS =>
            {
                if let Some(delay) = races.next() {
                    tokio::time::sleep(delay).await;
                }
            }
            Err(WriteError::ConditionFailed { .. }) => {
                return Err(StoreError::Conflict(Clash::ItemExists));
            }
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
}
