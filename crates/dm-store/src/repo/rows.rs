//! The stream's row update (pattern D): a conversation's changes applied to
//! each member's row on its own, conditioned on that row's version. What a
//! row becomes is [`super::plan`]'s. The members' rows are planned first,
//! then written together (concurrent single writes); a row that lost a race
//! is read again and retried on its own. No write is shared by the members,
//! and none is a transaction: a crash between two members' writes leaves the
//! second to the retry, which finds the first already current.

use dm_domain::{Conversation, Group, GroupId, ItemKey, Message, MessageRef, UserId};
use futures::future::join_all;

use super::{
    membership::load_group,
    messages,
    plan::{Changes, Shared, count_unread, newest_live, plan},
    unchecked,
};
use crate::{
    Missing, Record, StoreError, StoreResult,
    retry::{RACE_ATTEMPTS, race_backoff},
    table::{Condition, Table, Write, WriteError},
};

/// What [`crate::Repository::apply_changes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applied {
    /// Everything already reflected the changes; nothing was written.
    AlreadyCurrent,
    /// The rows kept their place; their preview (an edit or a delete),
    /// read markers or unread counts changed.
    Counted,
    /// The members' rows now show the newest of the messages (and their
    /// read state is current).
    Moved,
}

/// What [`crate::Repository::apply_changes`] did, the conversation, and its
/// members' rows as they now stand (as written, or as found when they
/// already reflected the changes), so a notifier needs no read of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// What was done: the most any row had done to it.
    pub applied: Applied,
    /// The conversation.
    pub group: Group,
    /// Each member's row, in the order of the group's members.
    pub rows: Vec<Conversation>,
}

/// Applies a conversation's changes; see [`crate::Repository::apply_changes`].
pub(super) async fn apply<T: Table + ?Sized>(
    table: &T,
    group_id: GroupId,
    changes: &Changes,
) -> StoreResult<Written> {
    let known = unchecked::group(table, group_id).await?;
    // A group record newer than the item as last read is the one in force.
    let group = match (known, &changes.group) {
        (Some(known), Some(record)) if record.id == group_id && record.version > known.version => {
            remember_group(table, record);
            record.clone()
        }
        (Some(known), _) => known,
        (None, Some(record)) if record.id == group_id => {
            remember_group(table, record);
            record.clone()
        }
        (None, _) => return Err(StoreError::NotFound(Missing::Conversation)),
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
    let mut shared = Shared::default();
    // Every member's row planned on its guess (the plans share their reads),
    // then the writes sent together: one round trip for all the members.
    let mut planned = Vec::with_capacity(group.members.len());
    // A row made here (a member's first) is a change the members are told.
    let mut made = false;
    for member in &group.members {
        let guess = table
            .group_cache()
            .and_then(|c| c.row(member.user.uuid, group.id));
        let row = match guess {
            Some(row) => row,
            None => {
                let (row, new) = load_row(table, &group, member.user.uuid).await?;
                made |= new;
                row
            }
        };
        let next = plan(table, &group, &row, changes, &mut shared).await?;
        planned.push((row, next));
    }
    let results = join_all(planned.iter().map(|(row, next)| async move {
        match next {
            Some(next) => table.write(vec![row_write(row, next)]).await,
            None => Ok(()),
        }
    }))
    .await;
    let mut applied = if made {
        Applied::Moved
    } else {
        Applied::AlreadyCurrent
    };
    let mut rows = Vec::with_capacity(planned.len());
    for ((row, next), result) in planned.into_iter().zip(results) {
        let owner = row.owner;
        let (row, done) = match (next, result) {
            (None, _) => {
                remember(table, owner, group.id, Some(&row));
                (row, Applied::AlreadyCurrent)
            }
            (Some(next), Ok(())) => {
                remember(table, owner, group.id, Some(&next));
                let done = moved_or_counted(&row, &next);
                (next, done)
            }
            // The guess was out of date, or another handler got there
            // first: this row again, on its own, from a fresh read.
            (Some(_), Err(WriteError::ConditionFailed { .. })) => {
                remember(table, owner, group.id, None);
                shared = Shared::default();
                apply_to_row(table, &group, owner, changes, &mut shared).await?
            }
            (Some(_), Err(WriteError::Store(e))) => {
                remember(table, owner, group.id, None);
                return Err(e);
            }
        };
        applied = applied.max(done);
        rows.push(row);
    }
    Ok(Written {
        applied,
        group,
        rows,
    })
}

/// Remembers a group item as a record carried it.
fn remember_group<T: Table + ?Sized>(table: &T, group: &Group) {
    if let Some(cache) = table.group_cache() {
        cache.insert(group.clone());
    }
}

/// Remembers `owner`'s row of `group` as written or found, or (`None`: a
/// write failed, and may or may not have taken effect) forgets it, so that
/// the next guess is read.
fn remember<T: Table + ?Sized>(
    table: &T,
    owner: UserId,
    group: GroupId,
    row: Option<&Conversation>,
) {
    if let Some(cache) = table.group_cache() {
        match row {
            Some(row) => cache.insert_row(row.clone()),
            None => cache.forget_row(owner, group),
        }
    }
}

/// The write of `next` over `row`, under the version it was read at.
fn row_write(row: &Conversation, next: &Conversation) -> Write {
    Write::put_if(
        Record::Conversation(next.clone()),
        Condition::RowVersionIs(row.version),
    )
    .replacing(Record::Conversation(row.clone()))
}

/// Whether writing `next` over `row` moved it, or only counted.
fn moved_or_counted(row: &Conversation, next: &Conversation) -> Applied {
    if next.last() == row.last() {
        Applied::Counted
    } else {
        Applied::Moved
    }
}

/// Applies the changes to `owner`'s row, reading it again after a lost
/// race: one conditional write per attempt, or none.
async fn apply_to_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
    changes: &Changes,
    shared: &mut Shared,
) -> StoreResult<(Conversation, Applied)> {
    // The row as last seen is a guess its write's condition (its version)
    // checks.
    let mut guess = table.group_cache().and_then(|c| c.row(owner, group.id));
    let mut races = race_backoff();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let row = match guess.take() {
            Some(row) => row,
            None => load_row(table, group, owner).await?.0,
        };
        let Some(next) = plan(table, group, &row, changes, shared).await? else {
            remember(table, owner, group.id, Some(&row));
            return Ok((row, Applied::AlreadyCurrent));
        };
        let applied = moved_or_counted(&row, &next);
        let result = table.write(vec![row_write(&row, &next)]).await;
        remember(table, owner, group.id, result.is_ok().then_some(&next));
        match result {
            Ok(()) => return Ok((next, applied)),
            // Another handler changed the row since we read it (or the guess
            // was out of date): look again, at once the first time (a stale
            // guess), after a jittered pause from then on (contenders). What
            // was read for the plan may be out of date too. Other failures go
            // back to the stream handler, whose retry policy decides.
            Err(WriteError::ConditionFailed { .. }) if attempt < RACE_ATTEMPTS => {
                *shared = Shared::default();
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

/// `owner`'s row of `group` (strongly consistent), made from the
/// conversation's messages and the owner's marker if it has none yet: a
/// table written before issue 25, whose rows `cargo xtask migrate` has not
/// brought in yet, or a named group's member whose row the handler has not
/// made yet. Whether it made the row.
pub(super) async fn load_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
) -> StoreResult<(Conversation, bool)> {
    let key = ItemKey::Row {
        owner,
        group: group.id,
    };
    if let Some(found) = table.get(&key).await? {
        return match found {
            Record::Conversation(row) => Ok((row, false)),
            other => Err(other.unexpected()),
        };
    }
    let row = rebuild_row(table, group, owner).await?;
    match table
        .write(vec![Write::create(Record::Conversation(row.clone()))])
        .await
    {
        Ok(()) => Ok((row, true)),
        // Made meanwhile by another handler (or the migration): theirs.
        Err(WriteError::ConditionFailed { .. }) => match table.get(&key).await? {
            Some(Record::Conversation(row)) => Ok((row, false)),
            Some(other) => Err(other.unexpected()),
            None => Err(StoreError::Backend("a conversation row vanished".into())),
        },
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// What `owner`'s row of `group` is, from the table's messages and the
/// owner's read marker (strongly consistent): at the newest message, showing
/// the newest not deleted, counting what is unread after the marker.
pub(super) async fn rebuild_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
) -> StoreResult<Conversation> {
    if !group.has_member(owner) {
        return Err(StoreError::NotFound(Missing::Conversation));
    }
    let Some(newest) = messages::newest(table, group.id).await? else {
        // A named group before its first message: at its creation.
        let Some(other) = group
            .shown_as(owner, None)
            .filter(|_| group.topic().is_some())
        else {
            return Err(StoreError::Backend(format!(
                "conversation {} has no messages to make a row from",
                group.id
            )));
        };
        return Ok(Conversation {
            group: group.id,
            owner,
            other,
            topic: group.topic(),
            preview: String::new(),
            last_message_id: None,
            last_message_at: group.created_at,
            unread: 0,
            shown: None,
            shown_edited_at: None,
            read_through: None,
            version: 0,
        });
    };
    let last: MessageRef = newest.reference();
    let shown: Option<Message> = newest_live(table, group.id, last).await?;
    let read_through = match table.get(&ItemKey::ReadMarker(group.id, owner)).await? {
        Some(Record::ReadMarker(marker)) => Some(marker.through),
        Some(other) => return Err(other.unexpected()),
        None => None,
    };
    let unread = count_unread(table, group.id, owner, read_through, last).await?;
    let other = group
        .shown_as(owner, shown.as_ref().map(|m| &m.sender))
        .ok_or(StoreError::NotFound(Missing::Conversation))?;
    Ok(Conversation {
        group: group.id,
        owner,
        other,
        topic: group.topic(),
        preview: shown.as_ref().map(|m| m.text.clone()).unwrap_or_default(),
        last_message_id: Some(last.id),
        last_message_at: last.at,
        unread,
        shown: shown.as_ref().map(Message::reference),
        shown_edited_at: shown.and_then(|m| m.edited_at),
        read_through,
        version: 0,
    })
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
