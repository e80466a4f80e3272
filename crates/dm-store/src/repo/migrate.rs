//! `cargo xtask migrate`: brings a table written before issue 25 to the
//! current layout, item by item, safe to run again and while the API and the
//! stream handler serve.
//!
//! - Each conversation with a group item gets one row per member keyed by
//!   the conversation (`GRP#{owner}` / `{group}`, in
//!   `conversations-by-recency`), made from its messages and the member's
//!   read marker, as the stream handler makes a row it finds missing
//!   ([`super::rows::rebuild_row`]). A row that exists is left alone: it is
//!   current, or the handler keeps it so.
//! - A conversation the seed wrote (its rows, no group item) gets its group
//!   item and its pair's claim first, from its two rows, which name each
//!   other.
//! - Then the rows of the older forms (sort key `{time}#{group}` or a bare
//!   time) are deleted: nothing reads or writes them any more.
//!
//! Every write is conditional or idempotent (rows and group items are
//! created only if absent, old rows deleted), so a run stopped at any point
//! and started again ends in the same state, and a second run writes
//! nothing.

use std::collections::BTreeMap;

use dm_domain::{Conversation, Group, GroupId, ItemKey, UserSummary};

use super::rows::rebuild_row;
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
    /// Group items made for conversations the seed wrote.
    pub groups_made: usize,
    /// Rows made in the current layout.
    pub rows_made: usize,
    /// Rows of the older forms deleted.
    pub old_rows_removed: usize,
    /// Conversations the seed wrote whose rows do not name both members,
    /// left as they are.
    pub unresolved: Vec<GroupId>,
}

impl Migrated {
    /// Whether the table was (or would be) changed.
    pub fn changed(&self) -> bool {
        self.groups_made + self.rows_made + self.old_rows_removed > 0
    }
}

/// Brings the table to the current layout; with `dry_run`, only counts what
/// it would do. `progress` is told the items scanned so far.
pub async fn migrate<T: Table + ?Sized>(
    table: &T,
    dry_run: bool,
    progress: &mut (dyn FnMut(usize) + Send),
) -> StoreResult<Migrated> {
    let mut done = Migrated::default();
    let mut groups: BTreeMap<GroupId, Group> = BTreeMap::new();
    let mut old_rows: BTreeMap<GroupId, Vec<(ItemKey, Conversation)>> = BTreeMap::new();
    let mut rows: Vec<(GroupId, dm_domain::UserId)> = Vec::new();
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
                    groups.insert(group.id, group);
                }
                (ItemKey::Row { owner, group }, Record::Conversation(_)) => {
                    rows.push((group, owner));
                }
                (ItemKey::Conversation { .. }, Record::Conversation(row)) => {
                    old_rows.entry(row.group).or_default().push((stored, row));
                }
                _ => {}
            }
        }
        progress(done.scanned);
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    // The seed's conversations: a group item from their rows.
    for (id, found) in &old_rows {
        if groups.contains_key(id) {
            continue;
        }
        let Some(group) = seed_group(*id, found) else {
            done.unresolved.push(*id);
            continue;
        };
        done.groups_made += 1;
        if !dry_run {
            let [a, b] = &group.members;
            let ItemKey::DmPair(low, high) = ItemKey::dm_pair(a.uuid, b.uuid) else {
                unreachable!("dm_pair builds a DmPair key")
            };
            // The pair's claim stays with the conversation it names, if any.
            let claim = Record::DmPair {
                low,
                high,
                group: group.id,
            };
            for record in [Record::Group(group.clone()), claim] {
                match table.write(vec![Write::create(record)]).await {
                    Ok(()) | Err(WriteError::ConditionFailed { .. }) => {}
                    Err(WriteError::Store(e)) => return Err(e),
                }
            }
        }
        groups.insert(*id, group);
    }
    done.conversations = groups.len();
    for group in groups.values() {
        for member in &group.members {
            if rows.contains(&(group.id, member.uuid)) {
                continue;
            }
            done.rows_made += 1;
            if dry_run {
                continue;
            }
            let row = rebuild_row(table, group, member.uuid).await?;
            match table
                .write(vec![Write::create(Record::Conversation(row))])
                .await
            {
                // Made meanwhile by the stream handler: it is current.
                Ok(()) | Err(WriteError::ConditionFailed { .. }) => {}
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
        for (key, _) in old_rows.remove(&group.id).unwrap_or_default() {
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
    let members: [UserSummary; 2] = members.try_into().ok()?;
    let created_at = rows.iter().map(|(_, row)| row.last_message_at).min()?;
    owners_named.then_some(Group {
        id,
        members,
        created_at,
    })
}
