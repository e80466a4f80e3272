//! Who belongs to a conversation: the one check every member-only call makes
//! ([`require_member`]), and the group item's read behind it.

use dm_domain::{Group, GroupId, ItemKey, UserId};

use crate::{Missing, Record, StoreError, StoreResult, table::Table};

/// Fails with `NotFound(Conversation)` unless `member` belongs to `group`:
/// for anyone else a conversation does not exist. Every call on behalf of a
/// member starts here. The group's version the check was made at (0 for a
/// one-to-one conversation), which a message sent on it carries.
pub(super) async fn require_member<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
) -> StoreResult<u64> {
    checked_at(table, group, member)
        .await?
        .ok_or(StoreError::NotFound(Missing::Conversation))
}

/// Whether `member` belongs to the conversation; `false` for one that does
/// not exist.
pub(super) async fn is_member<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
    member: UserId,
) -> StoreResult<bool> {
    Ok(checked_at(table, id, member).await?.is_some())
}

/// The group's version at which `member` was found a member, if they are
/// one. Answers from the group cache for a one-to-one conversation, and for
/// conversations the seed wrote (rows, no group item) from their rows.
async fn checked_at<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
    member: UserId,
) -> StoreResult<Option<u64>> {
    // A one-to-one conversation's members never change, so once read they
    // are good for the life of the process. A named group's are read each
    // time (strongly consistent), so that a member removed is refused at once.
    if let Some(cached) = table.group_cache().and_then(|cache| cache.get(id))
        && cached.owner().is_none()
    {
        return Ok(cached.has_member(member).then_some(cached.version));
    }
    if let Some(group) = load_group(table, id).await? {
        return Ok(group.has_member(member).then_some(group.version));
    }
    // A conversation the seed wrote has no group item, only its rows.
    let rows = table.group_rows(id).await?;
    Ok(rows
        .iter()
        .any(|row| matches!(row, Record::Conversation(c) if c.owner == member))
        .then_some(0))
}

/// A conversation's group item, if `member` is one of its members.
pub(super) async fn group_of_member<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
    member: UserId,
) -> StoreResult<Group> {
    match load_group(table, id).await? {
        Some(group) if group.has_member(member) => Ok(group),
        _ => Err(StoreError::NotFound(Missing::Conversation)),
    }
}

/// The group item, read (strongly consistent) and remembered in the cache.
pub(super) async fn load_group<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
) -> StoreResult<Option<Group>> {
    match table.get(&ItemKey::Group(id)).await? {
        Some(Record::Group(group)) => {
            if let Some(cache) = table.group_cache() {
                cache.insert(group.clone());
            }
            Ok(Some(group))
        }
        Some(other) => Err(other.unexpected()),
        None => Ok(None),
    }
}
