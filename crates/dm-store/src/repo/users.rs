//! Users and their claims (pattern F): a user item, a handle claim (its
//! lowercased handle) and a Cognito claim, created in one transaction.

use dm_domain::{Handle, ItemKey, NewUser, User, UserId};

use crate::{
    Clash, Missing, Record, StoreError, StoreResult,
    table::{Table, Write, WriteError},
};

/// Creates a user, claiming its handle and Cognito subject.
pub(super) async fn create<T: Table + ?Sized>(table: &T, user: NewUser) -> StoreResult<User> {
    let created = User {
        uuid: user.uuid,
        handle: user.handle,
        display_name: user.display_name,
        cognito_user_id: user.cognito_user_id,
    };
    let mut writes = vec![
        Write::create(Record::User(created.clone())),
        Write::create(Record::HandleClaim {
            handle: created.handle.key(),
            user: created.uuid,
        }),
    ];
    if let Some(sub) = &created.cognito_user_id {
        writes.push(Write::create(Record::CognitoClaim {
            sub: sub.clone(),
            user: created.uuid,
        }));
    }
    match table.write(writes).await {
        Ok(()) => Ok(created),
        Err(WriteError::ConditionFailed { index }) => Err(StoreError::Conflict(match index {
            0 => Clash::UserExists,
            1 => Clash::HandleTaken,
            _ => Clash::CognitoSubTaken,
        })),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// A user by uuid.
pub(super) async fn by_id<T: Table + ?Sized>(table: &T, id: UserId) -> StoreResult<User> {
    match table.get(&ItemKey::User(id)).await? {
        Some(Record::User(user)) => Ok(user),
        Some(other) => Err(other.unexpected()),
        None => Err(StoreError::NotFound(Missing::User)),
    }
}

/// A user by handle, in any case: the claim, then the user.
pub(super) async fn by_handle<T: Table + ?Sized>(table: &T, handle: &Handle) -> StoreResult<User> {
    match table.get(&ItemKey::Handle(handle.key())).await? {
        Some(Record::HandleClaim { user, .. }) => by_id(table, user).await,
        Some(other) => Err(other.unexpected()),
        None => Err(StoreError::NotFound(Missing::User)),
    }
}

/// A user by Cognito subject: the claim, then the user.
pub(super) async fn by_cognito_sub<T: Table + ?Sized>(table: &T, sub: &str) -> StoreResult<User> {
    if sub.is_empty() {
        return Err(StoreError::NotFound(Missing::User));
    }
    match table.get(&ItemKey::Cognito(sub.to_owned())).await? {
        Some(Record::CognitoClaim { user, .. }) => by_id(table, user).await,
        Some(other) => Err(other.unexpected()),
        None => Err(StoreError::NotFound(Missing::User)),
    }
}
