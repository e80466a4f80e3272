//! A named group's membership as the row update applies it: which group item
//! is in force for a batch, the rows of members who left (kept, out of their
//! list, so that nothing older brings them back), and a member's row when it
//! is missing, left or from an earlier membership.
//!
//! The versions decide, never the order records arrive in: a group record
//! older than the item in force changes nothing but its own removals; a
//! message accepted at a version the handler has not seen makes it read the
//! group item again; a row's `membership_version` (its owner's last join or
//! leave applied) keeps a replayed join or leave from undoing a later one.

use dm_domain::{Conversation, Group, GroupId, ItemKey, UserId};

use super::{
    membership::load_group,
    plan::Changes,
    rows::{NewestMessages, rebuild_row, remember},
    unchecked,
};
use crate::{
    Missing, Record, StoreError, StoreResult,
    retry::RACE_ATTEMPTS,
    table::{Condition, Table, Write, WriteError},
};

/// The group item a batch is applied under: the newer of the item as last
/// read and the batch's group record, read again (strongly consistent) when
/// a message of the batch was accepted at a later version than either.
pub(super) async fn group_in_force<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
    changes: &Changes,
) -> StoreResult<Group> {
    let known = unchecked::group(table, id).await?;
    let record = changes.group.as_ref().filter(|g| g.id == id);
    let newest = match (known, record) {
        (Some(known), Some(record)) if record.version > known.version => record.clone(),
        (Some(known), _) => known,
        (None, Some(record)) => record.clone(),
        (None, None) => return Err(StoreError::NotFound(Missing::Conversation)),
    };
    let accepted_at = changes
        .messages
        .iter()
        .map(|m| m.members_version)
        .max()
        .unwrap_or(0);
    let newest = if accepted_at > newest.version {
        load_group(table, id)
            .await?
            .ok_or(StoreError::NotFound(Missing::Conversation))?
    } else {
        newest
    };
    if let Some(cache) = table.group_cache()
        && cache.get(id).is_none_or(|g| g.version < newest.version)
    {
        cache.insert(newest.clone());
    }
    Ok(newest)
}

/// Takes away the rows of the members the batch's group records (and the
/// item in force) removed, unless they are members again; who those are
/// (their rows gone now, by this call or before it).
pub(super) async fn take_away_rows<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    changes: &Changes,
) -> StoreResult<Vec<UserId>> {
    let mut removals: Vec<(UserId, u64)> = changes
        .group
        .iter()
        .chain(std::iter::once(group))
        .flat_map(|source| source.removed.iter().map(|&user| (user, source.version)))
        .filter(|&(user, _)| !group.has_member(user))
        .collect();
    removals.sort();
    removals.dedup();
    let mut gone = Vec::with_capacity(removals.len());
    for (user, at) in removals {
        leave_row(table, group.id, user, at).await?;
        gone.push(user);
    }
    gone.dedup();
    Ok(gone)
}

/// Marks `owner`'s row of `group` left at version `at`, unless it is already,
/// or reflects a later join.
pub(super) async fn leave_row<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    owner: UserId,
    at: u64,
) -> StoreResult<()> {
    let key = ItemKey::Row { owner, group };
    for _ in 0..RACE_ATTEMPTS {
        let row = match table.get(&key).await? {
            Some(Record::Conversation(row)) => row,
            Some(other) => return Err(other.unexpected()),
            None => return Ok(()),
        };
        if row.left || row.membership_version >= at {
            remember(table, owner, group, Some(&row));
            return Ok(());
        }
        let gone = Conversation {
            left: true,
            unread: 0,
            membership_version: at,
            version: row.version + 1,
            ..row.clone()
        };
        let write = Write::put_if(
            Record::Conversation(gone.clone()),
            Condition::RowVersionIs(row.version),
        )
        .replacing(Record::Conversation(row));
        match table.write(vec![write]).await {
            Ok(()) => {
                remember(table, owner, group, Some(&gone));
                return Ok(());
            }
            Err(WriteError::ConditionFailed { .. }) => {}
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::TransactionCancelled {
        reasons: vec!["ConditionalCheckFailed".into()],
    })
}

/// Where [`current_row`] starts from.
#[derive(Debug, Clone)]
pub(super) enum Guess {
    /// The row as last seen: its write's condition checks it.
    Row(Box<Conversation>),
    /// Nothing known: read it.
    Unknown,
    /// A founding member of a group whose making this batch holds: there is
    /// most likely no row yet, so it is made without a read (its write's
    /// condition, that there is none, checks that; a replay reads it then).
    Absent,
}

/// `owner`'s current row of `group` as a member since their join: the row
/// guessed or read when it is theirs now; made again when it is missing,
/// left or from an earlier membership of theirs (from `newest`, read once
/// for all the rows a call makes, and read again for this row alone after a
/// lost race); `None` when it was left after that join
/// (the item in force is older than the leave). Whether it made the row.
pub(super) async fn current_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
    guess: Guess,
    newest: &NewestMessages,
) -> StoreResult<Option<(Conversation, bool)>> {
    let Some(joined) = group.joined_version(owner) else {
        return Err(StoreError::NotFound(Missing::Conversation));
    };
    let key = ItemKey::Row {
        owner,
        group: group.id,
    };
    let mut guess = guess;
    // After a lost race the messages are read again, for this row alone.
    let mut own: Option<NewestMessages> = None;
    for _ in 0..RACE_ATTEMPTS {
        let newest = own.as_ref().unwrap_or(newest);
        let found = match std::mem::replace(&mut guess, Guess::Unknown) {
            Guess::Row(row) => Some(*row),
            Guess::Absent => None,
            Guess::Unknown => match table.get(&key).await? {
                Some(Record::Conversation(row)) => Some(row),
                Some(other) => return Err(other.unexpected()),
                None => None,
            },
        };
        let (made, write) = match found {
            Some(found) if !found.left && found.membership_version >= joined => {
                return Ok(Some((found, false)));
            }
            Some(found) if found.membership_version >= joined => return Ok(None),
            // Left before this join, or from an earlier membership.
            Some(found) => {
                let mut fresh = rebuild_row(table, group, owner, newest).await?;
                fresh.version = found.version + 1;
                let write = Write::put_if(
                    Record::Conversation(fresh.clone()),
                    Condition::RowVersionIs(found.version),
                )
                .replacing(Record::Conversation(found));
                (fresh, write)
            }
            None => {
                let fresh = rebuild_row(table, group, owner, newest).await?;
                (fresh.clone(), Write::create(Record::Conversation(fresh)))
            }
        };
        match table.write(vec![write]).await {
            Ok(()) => {
                remember(table, owner, group.id, Some(&made));
                return Ok(Some((made, true)));
            }
            // Made or changed meanwhile (by another handler, or the
            // migration): look again.
            Err(WriteError::ConditionFailed { .. }) => {
                remember(table, owner, group.id, None);
                own = Some(NewestMessages::default());
            }
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::TransactionCancelled {
        reasons: vec!["ConditionalCheckFailed".into()],
    })
}
