//! Named groups (pattern J): making one. A group is made by one write of its
//! group item, however many members it has (no transaction, so no limit of
//! 100 actions, and nothing half-made: the item is there or not); each
//! member's row follows through the stream handler, which makes the rows a
//! group record names ([`super::rows::apply`]).

use std::collections::HashSet;

use dm_domain::{
    GROUP_MIN_MEMBERS, Group, GroupId, GroupKind, GroupName, MAX_MEMBERS, Member, Timestamp,
    UserId, UserSummary,
};

use crate::{
    Record, StoreError, StoreResult,
    table::{Table, Write, WriteError},
};

/// Makes a named group owned by `creator`, with `others`; see
/// [`crate::Repository::create_group`].
pub(super) async fn create<T: Table + ?Sized>(
    table: &T,
    creator: &UserSummary,
    name: GroupName,
    others: Vec<UserSummary>,
) -> StoreResult<Group> {
    check_others(creator.uuid, &others)?;
    let mut members = Vec::with_capacity(others.len() + 1);
    members.push(Member::founding(creator.clone()));
    members.extend(others.into_iter().map(Member::founding));
    let group = Group {
        id: GroupId::new(),
        kind: GroupKind::Named {
            name,
            owner: creator.uuid,
        },
        members,
        created_at: Timestamp::now(),
        version: 1,
        removed: Vec::new(),
    };
    match table
        .write(vec![Write::create(Record::Group(group.clone()))])
        .await
    {
        Ok(()) => {
            if let Some(cache) = table.group_cache() {
                cache.insert(group.clone());
            }
            Ok(group)
        }
        // A new uuid already taken: not something a caller can mend.
        Err(WriteError::ConditionFailed { .. }) => Err(StoreError::Backend(format!(
            "group id {} is taken",
            group.id
        ))),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// The members a group starts with besides `creator`: each once, not the
/// creator, enough for [`GROUP_MIN_MEMBERS`] to [`MAX_MEMBERS`] in all.
fn check_others(creator: UserId, others: &[UserSummary]) -> StoreResult<()> {
    if others.len() + 1 < GROUP_MIN_MEMBERS {
        return Err(StoreError::Invalid("too_few_members"));
    }
    if others.len() + 1 > MAX_MEMBERS {
        return Err(StoreError::Invalid("too_many_members"));
    }
    if others.iter().any(|m| m.uuid == creator) {
        return Err(StoreError::Invalid("self_among_members"));
    }
    let mut seen = HashSet::with_capacity(others.len());
    if !others.iter().all(|m| seen.insert(m.uuid)) {
        return Err(StoreError::Invalid("duplicate_members"));
    }
    Ok(())
}
