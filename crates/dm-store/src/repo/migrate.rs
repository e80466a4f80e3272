//! `cargo xtask migrate`: brings a table written by Cruddur's Python, by
//! its seed, or by this project before issue 25 to the current layout, item
//! by item, safe to run again and while the API and the stream handler serve.
//!
//! 1. Every message gets the project's key, `{created_at}#{message_uuid}`,
//!    its time in UTC (Cruddur's keys are bare timestamps in the writer's
//!    local offset, without a fraction when it was zero): the message is
//!    created under its key, then the old item deleted.
//! 2. A conversation with no group item (the seed's and Cruddur's: two rows
//!    that name each other) gets one, once both members are users of the
//!    table; a missing user stops the run before anything is written, and
//!    is named. A pair with several conversations keeps them all; the pair's
//!    claim names the newest, which starting a conversation by handle
//!    reaches.
//! 3. Each conversation gets one row per member keyed by the conversation
//!    (in `conversations-by-recency`), made from its messages and the
//!    member's read marker, as the stream handler makes a row it finds
//!    missing ([`super::rows::rebuild_row`]); history counts as unread up to
//!    the member's marker, which Cruddur never wrote (so its conversations'
//!    other members' messages are unread, capped at 99+). A row that exists
//!    is left alone: it is current, or the handler keeps it so. Then the rows
//!    of the older forms are deleted.
//!
//! Every write is conditional or idempotent (created only if absent, old
//! items deleted by the key they are stored under), so a run stopped at any
//! point and started again ends in the same state, and a second run writes
//! nothing. Its writes, replayed through the stream, change nothing: a
//! message under its new key is one the rows already reflect, and the
//! removal of its old item (which has no message id in its key) is ignored.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use dm_domain::{Conversation, Group, GroupId, ItemKey, Message, UserId, UserSummary};

use super::{
    messages,
    plan::Changes,
    rows::{NewestMessages, apply, rebuild_row},
};
use crate::{
    Record, StoreResult,
    table::{Scanned, Table, Write, WriteError},
};

/// What [`migrate`] found and did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Items read.
    pub scanned: usize,
    /// Items that are neither this project's nor the seed's, left alone.
    pub foreign: usize,
    /// Conversations found.
    pub conversations: usize,
    /// Messages moved to the project's key (their time in UTC).
    pub messages_rekeyed: usize,
    /// Group items made for conversations the seed or Cruddur wrote.
    pub groups_made: usize,
    /// Pair claims made or moved to a pair's newest conversation.
    pub claims_made: usize,
    /// Rows made in the current layout.
    pub rows_made: usize,
    /// Rows of the older forms deleted.
    pub old_rows_removed: usize,
    /// Conversations the seed wrote whose rows do not name both members,
    /// left as they are.
    pub unresolved: Vec<GroupId>,
    /// Members of those conversations who are not users of the table: the
    /// run wrote nothing; bring them in and run it again.
    pub missing_users: Vec<UserSummary>,
}

impl Migrated {
    /// Whether the table was (or would be) changed.
    pub fn changed(&self) -> bool {
        self.messages_rekeyed
            + self.groups_made
            + self.claims_made
            + self.rows_made
            + self.old_rows_removed
            > 0
    }
}

/// Where a migration is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Reading the table: the items read so far.
    Reading { items: usize },
    /// Changing it: the messages moved and conversations converted so far,
    /// of all there are to move and convert (both known once read).
    Converting { done: usize, of: usize },
}

/// What the scan found.
#[derive(Default)]
struct Found {
    groups: BTreeMap<GroupId, Group>,
    rows: HashSet<(GroupId, UserId)>,
    old_rows: BTreeMap<GroupId, Vec<(ItemKey, Conversation)>>,
    /// Messages stored under another key than theirs: that key, and the message.
    rekey: Vec<(ItemKey, Message)>,
}

/// Brings the table to the current layout; with `dry_run`, only counts what
/// it would do. `progress` is told where it is after each page read, each
/// message moved and each conversation converted.
pub async fn migrate<T: Table + ?Sized>(
    table: &T,
    dry_run: bool,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> StoreResult<Migrated> {
    let mut done = Migrated::default();
    let mut found = scan(table, &mut done, progress).await?;
    // The conversations without a group item, from their rows.
    let mut seeds = Vec::new();
    for (id, rows) in &found.old_rows {
        if found.groups.contains_key(id) {
            continue;
        }
        match seed_group(*id, rows) {
            Some(group) => seeds.push(group),
            None => done.unresolved.push(*id),
        }
    }
    // Their members must be users first; nothing is written otherwise.
    let mut checked = BTreeSet::new();
    for member in seeds.iter().flat_map(|g| g.members.iter()) {
        let member = &member.user;
        if checked.insert(member.uuid) && table.get(&ItemKey::User(member.uuid)).await?.is_none() {
            done.missing_users.push(member.clone());
        }
    }
    if !done.missing_users.is_empty() {
        return Ok(done);
    }
    let of = found.rekey.len() + found.groups.len() + seeds.len();
    let mut converted = 0;
    let mut step = |progress: &mut (dyn FnMut(Progress) + Send)| {
        converted += 1;
        progress(Progress::Converting {
            done: converted,
            of,
        });
    };
    // 1. Messages under their own keys.
    for (stored, message) in std::mem::take(&mut found.rekey) {
        step(progress);
        done.messages_rekeyed += 1;
        if !dry_run {
            create(table, Record::Message(message)).await?;
            table
                .write(vec![Write::delete(stored)])
                .await
                .map_err(WriteError::into_store)?;
        }
    }
    // 2. Group items, and each pair's claim on its newest conversation.
    let mut newest_of_pair: BTreeMap<(UserId, UserId), (dm_domain::Timestamp, GroupId)> =
        BTreeMap::new();
    for group in &seeds {
        done.groups_made += 1;
        if !dry_run {
            create(table, Record::Group(group.clone())).await?;
        }
        // Its newest message, or (a conversation without one) its rows' time.
        let last = match messages::newest(table, group.id).await? {
            Some(m) => m.created_at,
            None => found.old_rows[&group.id]
                .iter()
                .map(|(_, r)| r.last_message_at)
                .max()
                .unwrap_or(group.created_at),
        };
        let ItemKey::DmPair(low, high) =
            ItemKey::dm_pair(group.members[0].user.uuid, group.members[1].user.uuid)
        else {
            unreachable!("dm_pair builds a DmPair key")
        };
        let newest = newest_of_pair
            .entry((low, high))
            .or_insert((last, group.id));
        if last >= newest.0 {
            *newest = (last, group.id);
        }
        found.groups.insert(group.id, group.clone());
    }
    let seed_ids: HashSet<GroupId> = seeds.iter().map(|g| g.id).collect();
    for ((low, high), (_, newest)) in newest_of_pair {
        let pair = ItemKey::DmPair(low, high);
        let claim = Record::DmPair {
            low,
            high,
            group: newest,
        };
        // A claim on another conversation of the pair's, made by the seed's
        // conversations, moves to the newest; one on a conversation started
        // here stays.
        let write = match table.get(&pair).await? {
            None => Write::create(claim),
            Some(Record::DmPair { group, .. }) if group != newest && seed_ids.contains(&group) => {
                Write::put(claim)
            }
            Some(_) => continue,
        };
        done.claims_made += 1;
        if !dry_run {
            match table.write(vec![write]).await {
                Ok(()) | Err(WriteError::ConditionFailed { .. }) => {}
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
    }
    // 3. Rows.
    done.conversations = found.groups.len();
    for group in found.groups.values() {
        step(progress);
        let mut made = false;
        let newest = NewestMessages::default();
        for member in &group.members {
            if found.rows.contains(&(group.id, member.user.uuid)) {
                continue;
            }
            done.rows_made += 1;
            made = true;
            if !dry_run {
                let row = rebuild_row(table, group, member.user.uuid, &newest).await?;
                // Made meanwhile by the stream handler: it is current.
                create(table, Record::Conversation(row)).await?;
            }
        }
        if made && !dry_run {
            // A message sent while the rows were made, whose record the
            // handler saw before the group item existed, is applied now.
            if let Some(newest) = messages::newest(table, group.id).await? {
                let changes = Changes {
                    messages: vec![newest],
                    ..Changes::default()
                };
                apply(table, group.id, &changes).await?;
            }
        }
        for (key, _) in found.old_rows.remove(&group.id).unwrap_or_default() {
            done.old_rows_removed += 1;
            if !dry_run {
                table
                    .write(vec![Write::delete(key)])
                    .await
                    .map_err(WriteError::into_store)?;
            }
        }
    }
    Ok(done)
}

/// Reads the whole table.
async fn scan<T: Table + ?Sized>(
    table: &T,
    done: &mut Migrated,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> StoreResult<Found> {
    let mut found = Found::default();
    let mut start = None;
    loop {
        let page = table.scan_page(start.take()).await?;
        done.scanned += page.items.len() + page.foreign;
        done.foreign += page.foreign;
        for Scanned {
            key,
            stored,
            record,
        } in page.items
        {
            match (key, record) {
                (_, Record::Group(group)) => {
                    found.groups.insert(group.id, group);
                }
                (ItemKey::Row { owner, group }, Record::Conversation(_)) => {
                    found.rows.insert((group, owner));
                }
                (ItemKey::Conversation { .. }, Record::Conversation(row)) => {
                    found
                        .old_rows
                        .entry(row.group)
                        .or_default()
                        .push((stored, row));
                }
                (_, Record::Message(m)) => {
                    let own = Record::Message(m.clone()).key();
                    if (own.pk(), own.sk()) != (stored.pk(), stored.sk()) {
                        found.rekey.push((stored, m));
                    }
                }
                _ => {}
            }
        }
        progress(Progress::Reading {
            items: done.scanned,
        });
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(found),
        }
    }
}

/// Creates `record` unless its item exists (made by an earlier run, or by
/// the service meanwhile).
async fn create<T: Table + ?Sized>(table: &T, record: Record) -> StoreResult<()> {
    match table.write(vec![Write::create(record)]).await {
        Ok(()) | Err(WriteError::ConditionFailed { .. }) => Ok(()),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// The members of a conversation the seed wrote, from its rows: each names
/// the other member, so two rows owned by two users name both.
fn seed_group(id: GroupId, rows: &[(ItemKey, Conversation)]) -> Option<Group> {
    let mut members: Vec<UserSummary> = Vec::new();
    for (_, row) in rows {
        if !members.iter().any(|m| m.uuid == row.other.uuid) {
            members.push(row.other.clone());
        }
    }
    let owners_named = rows
        .iter()
        .all(|(_, row)| members.iter().any(|m| m.uuid == row.owner));
    let [a, b]: [UserSummary; 2] = members.try_into().ok()?;
    let created_at = rows.iter().map(|(_, row)| row.last_message_at).min()?;
    owners_named.then(|| Group::direct(id, a, b, created_at))
}
