//! The stream's row update (pattern D): a conversation's changes applied to
//! each member's row on its own, conditioned on that row's version. What a
//! row becomes is [`super::plan`]'s. The members' rows are found together
//! (remembered, read, or made), planned, then written together (concurrent
//! single writes); a row that lost a race
//! is read again and retried on its own. No write is shared by the members,
//! and none is a transaction: a crash between two members' writes leaves the
//! second to the retry, which finds the first already current.

use dm_domain::{Conversation, Group, GroupId, ItemKey, Message, MessageRef, UserId};
use futures::future::join_all;
use tokio::sync::OnceCell;

use super::{
    groups::FIRST_VERSION,
    member_rows::{Guess, current_row, group_in_force, take_away_rows},
    membership::load_group,
    messages,
    plan::{Changes, Reader, Shared, count_unread, newest_live, plan},
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
    /// Each member's row, in the order of the group's members (a member
    /// whose row the item in force is too old to know of has none here).
    pub rows: Vec<Conversation>,
    /// The members the batch's group records removed (or who left), whose
    /// rows are gone: they are told, and nothing more.
    pub gone: Vec<UserId>,
}

/// Applies a conversation's changes; see [`crate::Repository::apply_changes`].
pub(super) async fn apply<T: Table + ?Sized>(
    table: &T,
    group_id: GroupId,
    changes: &Changes,
) -> StoreResult<Written> {
    let group = group_in_force(table, group_id, changes).await?;
    // (A named group's sender was checked when the message was accepted.)
    if group.owner().is_none()
        && !changes.messages.is_empty()
        && changes
            .messages
            .iter()
            .all(|m| m.group != group.id || !group.has_member(m.sender.uuid))
        && changes.marks.is_empty()
        && changes.removed.is_empty()
    {
        return Err(StoreError::Invalid("sender_not_member"));
    }
    let gone = take_away_rows(table, &group, changes).await?;
    // Every member's row as it stands: remembered, else read, else made
    // (from the newest messages, read once for all), all members at once.
    let founding = changes
        .group
        .as_ref()
        .is_some_and(|g| g.id == group.id && g.version == FIRST_VERSION);
    let newest = NewestMessages::default();
    let found = join_all(group.members.iter().map(|member| {
        let owner = member.user.uuid;
        let guess = match table.group_cache().and_then(|c| c.row(owner, group.id)) {
            Some(row) => Guess::Row(Box::new(row)),
            None if founding && member.joined_version == 0 => Guess::Absent,
            None => Guess::Unknown,
        };
        current_row(table, &group, owner, guess, &newest)
    }))
    .await;
    let mut shared = Shared::default();
    // Every member's row planned (the plans share their reads), then the
    // writes sent together: one round trip for all the members.
    let mut planned = Vec::with_capacity(group.members.len());
    // A row made here (a member's first) is a change the members are told.
    let mut made = !gone.is_empty();
    for found in found {
        // Gone after the join the item in force knows of: not theirs now.
        let Some((row, new)) = found? else {
            continue;
        };
        made |= new;
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
                match apply_to_row(table, &group, owner, changes, &mut shared).await? {
                    Some(done) => done,
                    // Left meanwhile: no row of theirs to apply to.
                    None => continue,
                }
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
        gone,
    })
}

/// Remembers `owner`'s row of `group` as written or found, or (`None`: a
/// write failed, and may or may not have taken effect) forgets it, so that
/// the next guess is read.
pub(super) fn remember<T: Table + ?Sized>(
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
/// race: one conditional write per attempt, or none; `None` when the row
/// was taken away meanwhile (they left).
async fn apply_to_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
    changes: &Changes,
    shared: &mut Shared,
) -> StoreResult<Option<(Conversation, Applied)>> {
    // The row as last seen is a guess its write's condition (its version)
    // checks.
    let mut guess = table.group_cache().and_then(|c| c.row(owner, group.id));
    let mut races = race_backoff();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let guess = guess
            .take()
            .map_or(Guess::Unknown, |row| Guess::Row(Box::new(row)));
        let newest = NewestMessages::default();
        let Some((row, _)) = current_row(table, group, owner, guess, &newest).await? else {
            return Ok(None);
        };
        let Some(next) = plan(table, group, &row, changes, shared).await? else {
            remember(table, owner, group.id, Some(&row));
            return Ok(Some((row, Applied::AlreadyCurrent)));
        };
        let applied = moved_or_counted(&row, &next);
        let result = table.write(vec![row_write(&row, &next)]).await;
        remember(table, owner, group.id, result.is_ok().then_some(&next));
        match result {
            Ok(()) => return Ok(Some((next, applied))),
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

/// A conversation's newest message and its newest not deleted, read once
/// (strongly consistent) for every row made in one call, however many
/// members' rows that is.
#[derive(Debug, Default)]
pub(super) struct NewestMessages(OnceCell<(Option<Message>, Option<Message>)>);

impl NewestMessages {
    async fn read<T: Table + ?Sized>(
        &self,
        table: &T,
        group: GroupId,
    ) -> StoreResult<&(Option<Message>, Option<Message>)> {
        self.0
            .get_or_try_init(|| async {
                let Some(newest) = messages::newest(table, group).await? else {
                    return Ok((None, None));
                };
                let shown = if newest.deleted {
                    newest_live(table, group, newest.reference()).await?
                } else {
                    Some(newest.clone())
                };
                Ok((Some(newest), shown))
            })
            .await
    }
}

/// What `owner`'s row of `group` is, from the table's messages and the
/// owner's read marker (strongly consistent): at the newest message, showing
/// the newest not deleted, counting what is unread after the marker.
pub(super) async fn rebuild_row<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    owner: UserId,
    newest: &NewestMessages,
) -> StoreResult<Conversation> {
    let Some(joined) = group.member(owner).map(|m| m.joined_version) else {
        return Err(StoreError::NotFound(Missing::Conversation));
    };
    let (newest, shown) = newest.read(table, group.id).await?;
    let Some(newest) = newest.clone() else {
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
            membership_version: joined,
            left: false,
        });
    };
    let last: MessageRef = newest.reference();
    let shown: Option<Message> = shown.clone();
    let read_through = match table.get(&ItemKey::ReadMarker(group.id, owner)).await? {
        Some(Record::ReadMarker(marker)) => Some(marker.through),
        Some(other) => return Err(other.unexpected()),
        None => None,
    };
    let reader = Reader {
        member: owner,
        since: joined,
    };
    let unread = count_unread(table, group.id, reader, read_through, last).await?;
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
        membership_version: joined,
        left: false,
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
