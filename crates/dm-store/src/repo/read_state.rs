//! Read state (pattern H): a member's forward-only read marker, the
//! conversation's markers, and a member's unread total. The counts
//! themselves are kept by the row update ([`super::plan`]).

use dm_domain::{GroupId, ItemKey, MessageRef, Partition, ReadMarker, UserId};

use super::{
    conversations::list_rows,
    membership::require_member,
    paging::{PAGE_MAX, PageRequest},
    unchecked,
};
use crate::{
    Missing, Record, StoreError, StoreResult,
    table::{Condition, Order, Read, Table, Write, WriteError},
};

/// Moves `member`'s marker forward to `through`; returns the marker in force.
pub(super) async fn mark<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    through: MessageRef,
) -> StoreResult<MessageRef> {
    require_member(table, group, member).await?;
    if unchecked::message(table, group, through).await?.is_none() {
        return Err(StoreError::NotFound(Missing::Message));
    }
    let write = Write::put_if(
        Record::ReadMarker(ReadMarker {
            group,
            member,
            through,
        }),
        Condition::MarkerBefore(through),
    );
    match table.write(vec![write]).await {
        Ok(()) => Ok(through),
        // Already at this message or a newer one: that one stands.
        Err(WriteError::ConditionFailed { .. }) => {
            match table.get(&ItemKey::ReadMarker(group, member)).await? {
                Some(Record::ReadMarker(current)) => Ok(current.through),
                Some(other) => Err(other.unexpected()),
                // Markers are never deleted.
                None => Err(StoreError::Backend("a read marker vanished".into())),
            }
        }
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// The markers of a conversation `member` belongs to: one per member who
/// ever marked.
pub(super) async fn markers<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
) -> StoreResult<Vec<ReadMarker>> {
    require_member(table, group, member).await?;
    table
        .query(
            Partition::ReadMarkers(group),
            None,
            PAGE_MAX,
            Order::OldestFirst,
            Read::Eventual,
        )
        .await?
        .into_iter()
        .map(|(_, record)| match record {
            Record::ReadMarker(r) => Ok(r),
            other => Err(other.unexpected()),
        })
        .collect()
}

/// The sum of `owner`'s unread counts, over every page of their rows.
pub(super) async fn total<T: Table + ?Sized>(table: &T, owner: UserId) -> StoreResult<u32> {
    let mut total = 0u32;
    let mut page = PageRequest::first(PAGE_MAX);
    loop {
        let rows = list_rows(table, owner, &page).await?;
        total = rows
            .items
            .iter()
            .fold(total, |sum, row| sum.saturating_add(row.unread));
        match rows.next {
            Some(next) => page = PageRequest::after(PAGE_MAX, next),
            None => return Ok(total),
        }
    }
}
