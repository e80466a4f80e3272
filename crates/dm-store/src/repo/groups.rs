//! Named groups (pattern J): making one, renaming it, adding and removing
//! members. A group is made by one write of its
//! group item, however many members it has (no transaction, so no limit of
//! 100 actions, and nothing half-made: the item is there or not); each
//! member's row follows through the stream handler, which makes the rows a
//! group record names ([`super::rows::apply`]).

use std::collections::HashSet;

use dm_domain::{
    GROUP_MIN_MEMBERS, Group, GroupId, GroupKind, GroupName, MAX_MEMBERS, Member, Timestamp,
    UserId, UserSummary,
};

use super::{member_rows::leave_row, membership::load_group};
use crate::{
    Missing, Record, StoreError, StoreResult,
    retry::RACE_ATTEMPTS,
    table::{Condition, Table, Write, WriteError},
};

/// A named group's version when it is made; each change bumps it.
pub(super) const FIRST_VERSION: u64 = 1;

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
        version: FIRST_VERSION,
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

/// A change of a named group's members or name, made by `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// The owner renames it.
    Rename(GroupName),
    /// The owner adds these users (none a member yet).
    Add(Vec<UserSummary>),
    /// The owner removes a member, or a member removes themselves (leaves);
    /// when the owner leaves, the earliest remaining member becomes owner.
    Remove(UserId),
}

/// Applies `change` by `actor` to a named group: one write of its group item
/// under the version it was read at (so concurrent changes are serialized,
/// and none passes the cap of [`MAX_MEMBERS`]), retried on a lost race; then,
/// for a removal, the member's row is taken away at once. The rows of the
/// others follow through the stream handler. Returns the group as changed.
pub(super) async fn change<T: Table + ?Sized>(
    table: &T,
    id: GroupId,
    actor: UserId,
    change: &GroupChange,
) -> StoreResult<Group> {
    for _ in 0..RACE_ATTEMPTS {
        let Some(group) = load_group(table, id).await? else {
            return Err(StoreError::NotFound(Missing::Conversation));
        };
        if !group.has_member(actor) {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        let Some(next) = changed(&group, actor, change)? else {
            return Ok(group);
        };
        let write = Write::put_if(
            Record::Group(next.clone()),
            Condition::GroupVersionIs(group.version),
        )
        .replacing(Record::Group(group));
        match table.write(vec![write]).await {
            Ok(()) => {
                if let Some(cache) = table.group_cache() {
                    cache.insert(next.clone());
                }
                for &user in &next.removed {
                    leave_row(table, id, user, next.version).await?;
                }
                return Ok(next);
            }
            // Changed meanwhile: look again, and check again.
            Err(WriteError::ConditionFailed { .. }) => {}
            Err(WriteError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::TransactionCancelled {
        reasons: vec!["ConditionalCheckFailed".into()],
    })
}

/// The group `change` makes of `group`, or `None` when it changes nothing.
fn changed(group: &Group, actor: UserId, change: &GroupChange) -> StoreResult<Option<Group>> {
    let GroupKind::Named { name, owner } = &group.kind else {
        return Err(StoreError::Invalid("not_a_group"));
    };
    let (name, owner) = (name.clone(), *owner);
    let version = group.version + 1;
    let mut next = Group {
        version,
        removed: Vec::new(),
        ..group.clone()
    };
    match change {
        GroupChange::Rename(new) => {
            if actor != owner {
                return Err(StoreError::Forbidden("not_owner"));
            }
            if *new == name {
                return Ok(None);
            }
            next.kind = GroupKind::Named {
                name: new.clone(),
                owner,
            };
        }
        GroupChange::Add(users) => {
            if actor != owner {
                return Err(StoreError::Forbidden("not_owner"));
            }
            if users.is_empty() {
                return Err(StoreError::Invalid("handles_empty"));
            }
            let mut seen = HashSet::with_capacity(users.len());
            if !users.iter().all(|u| seen.insert(u.uuid)) {
                return Err(StoreError::Invalid("duplicate_members"));
            }
            if users.iter().any(|u| group.has_member(u.uuid)) {
                return Err(StoreError::Invalid("already_member"));
            }
            if group.members.len() + users.len() > MAX_MEMBERS {
                return Err(StoreError::Invalid("too_many_members"));
            }
            next.members.extend(users.iter().map(|user| Member {
                user: user.clone(),
                joined_version: version,
            }));
        }
        GroupChange::Remove(member) => {
            if *member != actor && actor != owner {
                return Err(StoreError::Forbidden("not_owner"));
            }
            if !group.has_member(*member) {
                return Err(StoreError::NotFound(Missing::User));
            }
            next.members.retain(|m| m.user.uuid != *member);
            next.removed = vec![*member];
            // The owner leaving hands the group to the earliest member left.
            let owner = if *member == owner {
                next.members.first().map_or(owner, |m| m.user.uuid)
            } else {
                owner
            };
            next.kind = GroupKind::Named { name, owner };
        }
    }
    Ok(Some(next))
}
