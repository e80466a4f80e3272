//! The stream's row update (pattern D): a conversation's changes applied to
//! its group item and its members' rows in one transaction, conditioned on
//! the group item's version. What the group becomes is [`super::plan`]'s.

use dm_domain::{Group, GroupId, Message};

use super::{
    membership::load_group,
    plan::{Changes, plan},
};
use crate::{
    Missing, Record, StoreError, StoreResult,
    retry::{RACE_ATTEMPTS, race_backoff},
    table::{Condition, Table, Write, WriteError},
};

/// What [`crate::Repository::apply_changes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The members' rows now show the newest of the messages (and their
    /// read state is current).
    Moved,
    /// The rows kept their place; their preview (an edit or a delete),
    /// read markers or unread counts changed.
    Counted,
    /// Everything already reflected the changes; nothing was written.
    AlreadyCurrent,
}

/// What [`crate::Repository::apply_changes`] did, and the group item it
/// leaves: as written, or as found when it already reflected the changes.
/// Its rows ([`Group::rows`]) are the members' rows as they now stand, so a
/// notifier needs no read of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// What was done.
    pub applied: Applied,
    /// The group item as it now stands.
    pub group: Group,
}

/// Applies a conversation's changes; see [`crate::Repository::apply_changes`].
pub(super) async fn apply<T: Table + ?Sized>(
    table: &T,
    group_id: GroupId,
    changes: &Changes,
) -> StoreResult<Written> {
    let cache = table.group_cache();
    // The group as last seen is a guess the transaction's condition (its
    // version) checks.
    let mut guess = cache.and_then(|c| c.get(group_id));
    let mut races = race_backoff();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let group = match guess.take() {
            Some(group) => group,
            None => match load_group(table, group_id).await? {
                Some(group) => group,
                None => return Err(StoreError::NotFound(Missing::Conversation)),
            },
        };
        if !changes.messages.is_empty()
            && changes
                .messages
                .iter()
                .all(|m| m.group != group.id || !group.has_member(m.sender.uuid))
            && changes.marks.is_empty()
            && changes.removed.is_empty()
        {
            return Err(StoreError::Invalid("sender_not_member"));
        }
        let Some(next) = plan(table, &group, changes).await? else {
            return Ok(Written {
                applied: Applied::AlreadyCurrent,
                group,
            });
        };
        let moved = next.last != group.last;
        // Each write names the item it replaces, as read, for billing.
        let mut writes = vec![
            Write::put_if(
                Record::Group(next.clone()),
                Condition::GroupVersionIs(group.version),
            )
            .replacing(Record::Group(group.clone())),
        ];
        for (old, new) in group.rows().into_iter().zip(next.rows()) {
            if old == new {
                continue;
            }
            let (old, new) = (Record::Conversation(old), Record::Conversation(new));
            // Two messages of the same microsecond give the row the same key.
            if old.key() == new.key() {
                writes.push(Write::put(new).replacing(old));
            } else {
                writes.push(Write::delete_of(old));
                writes.push(Write::put(new));
            }
        }
        let result = table.write(writes).await;
        if let Some(cache) = cache {
            match result {
                Ok(()) => cache.insert(next.clone()),
                // The group may have changed (or a lost response may hide
                // that it did): read it next time.
                Err(_) => cache.forget(group_id),
            }
        }
        match result {
            Ok(()) => {
                let applied = if moved {
                    Applied::Moved
                } else {
                    Applied::Counted
                };
                return Ok(Written {
                    applied,
                    group: next,
                });
            }
            // Another handler changed the group since we read it (or the
            // guess was out of date): look again, at once the first time
            // (a stale guess), after a jittered pause from then on
            // (contenders). Other failures go back to the stream handler,
            // whose retry policy decides.
            Err(WriteError::ConditionFailed { .. }) if attempt < RACE_ATTEMPTS => {
                if attempt > 1
                    && let Some(delay) = races.next()
                {
                    tokio::time::sleep(delay).await;
                }
            }
            Err(WriteError::ConditionFailed { .. }) => {
                return Err(StoreError::TransactionCancelled {
                    reasons: vec!["ConditionalCheckFailed".into()],
                });
            }
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
}

/// Stores many messages of one conversation in batches (no conditions: ids
/// are unique) and moves the rows to the newest. For seeds and imports.
pub(super) async fn import<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    messages: Vec<Message>,
) -> StoreResult<()> {
    let Some(found) = load_group(table, group).await? else {
        return Err(StoreError::NotFound(Missing::Conversation));
    };
    if messages
        .iter()
        .any(|m| m.group != group || !found.has_member(m.sender.uuid))
    {
        return Err(StoreError::Invalid("sender_not_member"));
    }
    table
        .put_batch(messages.iter().cloned().map(Record::Message).collect())
        .await?;
    let changes = Changes {
        messages,
        ..Changes::default()
    };
    apply(table, group, &changes).await?;
    Ok(())
}
