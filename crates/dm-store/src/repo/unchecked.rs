//! Reads that check no membership, for the stream's side (the row update and
//! the notifier) and the API's own lookups after it has checked: a
//! conversation's group item, one message, the members. Nothing on behalf of
//! a member may call these without [`super::membership::require_member`]
//! first.

use dm_domain::{Group, GroupId, ItemKey, Message, MessageRef, UserSummary};

use super::membership::load_group;
use crate::{Missing, Record, StoreError, StoreResult, table::Table};

/// A conversation's group item, as this process last saw it (or read).
pub(super) async fn group<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
) -> StoreResult<Option<Group>> {
    if let Some(found) = table.group_cache().and_then(|cache| cache.get(group)) {
        return Ok(Some(found));
    }
    load_group(table, group).await
}

/// One message by its place in a conversation (strongly consistent).
pub(super) async fn message<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    at: MessageRef,
) -> StoreResult<Option<Message>> {
    match table.get(&ItemKey::message(group, at)).await? {
        Some(Record::Message(m)) => Ok(Some(m)),
        Some(other) => Err(other.unexpected()),
        None => Ok(None),
    }
}

/// The members of a conversation, as its group item (or, for a seed
/// conversation, its rows) names them.
pub(super) async fn members<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
) -> StoreResult<Vec<UserSummary>> {
    if let Some(found) = self::group(table, group).await? {
        return Ok(found.members.into_iter().map(|m| m.user).collect());
    }
    // A conversation the seed wrote: each row names the other member.
    let members: Vec<UserSummary> = table
        .group_rows(group)
        .await?
        .into_iter()
        .filter_map(|row| match row {
            Record::Conversation(c) => Some(c.other),
            _ => None,
        })
        .collect();
    if members.is_empty() {
        return Err(StoreError::NotFound(Missing::Conversation));
    }
    Ok(members)
}
