//! Users that come from elsewhere: Cognito sign-ups (the post-confirmation
//! trigger), `cargo xtask users add` and Cruddur's Postgres `users` table.
//!
//! [`provision`] creates a user, or recognises them as already there, so
//! every caller may retry it freely: a retried Cognito trigger, an import run
//! twice, or the same `users add` typed again create nothing twice. What it
//! cannot reconcile (a handle or Cognito subject held by someone else) is a
//! [`Conflict`], never an overwrite.

use dm_domain::{NewUser, User};

use crate::{Clash, Repository, StoreError};

/// What [`provision`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioned {
    /// The user was created.
    Created(User),
    /// The same person was already there (same uuid, or same Cognito subject,
    /// with the same handle); nothing was written.
    Present(User),
}

impl Provisioned {
    /// The user, created or found.
    pub fn user(&self) -> &User {
        match self {
            Self::Created(user) | Self::Present(user) => user,
        }
    }
}

/// Why a user could not be provisioned without touching someone else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// Another user has the handle (in some case).
    #[error("the handle @{handle} is taken by another user ({holder})")]
    HandleTaken {
        /// The handle asked for.
        handle: String,
        /// The uuid of the user who has it.
        holder: String,
    },
    /// Another user is linked to the Cognito subject.
    #[error("the Cognito user {sub} is already linked to @{holder}")]
    CognitoSubTaken {
        /// The subject.
        sub: String,
        /// The handle of the user linked to it.
        holder: String,
    },
    /// A user with this uuid exists with another handle or Cognito subject.
    #[error("a user with uuid {uuid} exists as @{holder}")]
    UuidTaken {
        /// The uuid.
        uuid: String,
        /// That user's handle.
        holder: String,
    },
}

/// Why [`provision`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProvisionError {
    /// Someone else holds what the new user needs.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `existing` is the person `new` describes: same handle (in any
/// case), and the same Cognito subject when `new` names one.
fn same_person(existing: &User, new: &NewUser) -> bool {
    existing.handle.same_as(&new.handle)
        && (new.cognito_user_id.is_none() || existing.cognito_user_id == new.cognito_user_id)
}

/// Creates `new`, or finds them already there; see the module docs.
///
/// # Errors
///
/// [`ProvisionError::Conflict`] when the handle, the Cognito subject or the
/// uuid belongs to someone else; [`ProvisionError::Store`] when the store fails.
pub async fn provision(
    repo: &(impl Repository + ?Sized),
    new: NewUser,
) -> Result<Provisioned, ProvisionError> {
    let clash = match repo.create_user(new.clone()).await {
        Ok(user) => return Ok(Provisioned::Created(user)),
        Err(StoreError::Conflict(clash)) => clash,
        Err(e) => return Err(e.into()),
    };
    // Who holds what we asked for? Ours if it is the same person.
    let holder = match clash {
        Clash::UserExists => repo.user(new.uuid).await?,
        Clash::CognitoSubTaken => {
            repo.user_by_cognito_sub(new.cognito_user_id.as_deref().unwrap_or_default())
                .await?
        }
        Clash::HandleTaken | Clash::ItemExists | Clash::MessageDeleted => {
            repo.user_by_handle(&new.handle).await?
        }
    };
    if same_person(&holder, &new) && (holder.uuid == new.uuid || new.cognito_user_id.is_some()) {
        return Ok(Provisioned::Present(holder));
    }
    Err(match clash {
        Clash::UserExists => Conflict::UuidTaken {
            uuid: new.uuid.to_string(),
            holder: holder.handle.to_string(),
        },
        Clash::CognitoSubTaken => Conflict::CognitoSubTaken {
            sub: new.cognito_user_id.unwrap_or_default(),
            holder: holder.handle.to_string(),
        },
        Clash::HandleTaken | Clash::ItemExists | Clash::MessageDeleted => Conflict::HandleTaken {
            handle: new.handle.to_string(),
            holder: holder.uuid.to_string(),
        },
    }
    .into())
}

#[cfg(test)]
mod tests {
    use dm_domain::{DisplayName, Handle, UserId};

    use super::*;
    use crate::MemoryRepository;

    fn new(handle: &str, sub: Option<&str>) -> NewUser {
        NewUser {
            uuid: UserId::new(),
            handle: Handle::parse(handle).unwrap(),
            display_name: DisplayName::parse("Someone").unwrap(),
            cognito_user_id: sub.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn a_retry_with_a_new_uuid_finds_the_same_cognito_user() {
        let repo = MemoryRepository::new();
        let first = provision(&repo, new("vir", Some("sub-1"))).await.unwrap();
        assert!(matches!(first, Provisioned::Created(_)));
        // A retried trigger draws another uuid: the same person, found.
        let again = provision(&repo, new("Vir", Some("sub-1"))).await.unwrap();
        assert_eq!(again, Provisioned::Present(first.user().clone()));
    }

    #[tokio::test]
    async fn the_same_uuid_twice_is_present() {
        let repo = MemoryRepository::new();
        let user = new("vir", None);
        provision(&repo, user.clone()).await.unwrap();
        let again = provision(&repo, user.clone()).await.unwrap();
        assert_eq!(again.user().uuid, user.uuid);
        assert!(matches!(again, Provisioned::Present(_)));
    }

    #[tokio::test]
    async fn someone_elses_handle_sub_or_uuid_is_a_conflict_and_writes_nothing() {
        let repo = MemoryRepository::new();
        let vir = provision(&repo, new("vir", Some("sub-1"))).await.unwrap();
        let vir = vir.user().clone();

        let err = provision(&repo, new("VIR", Some("sub-2")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProvisionError::Conflict(Conflict::HandleTaken { holder, .. }) if *holder == vir.uuid.to_string()),
            "{err:?}"
        );
        assert!(repo.user_by_cognito_sub("sub-2").await.is_err());

        let err = provision(&repo, new("londo", Some("sub-1")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                ProvisionError::Conflict(Conflict::CognitoSubTaken { .. })
            ),
            "{err:?}"
        );
        assert!(
            repo.user_by_handle(&Handle::parse("londo").unwrap())
                .await
                .is_err()
        );

        // Without a Cognito subject, a handle held by another uuid is not "the same person".
        let err = provision(&repo, new("vir", None)).await.unwrap_err();
        assert!(matches!(
            err,
            ProvisionError::Conflict(Conflict::HandleTaken { .. })
        ));

        let mut same_uuid = new("londo", None);
        same_uuid.uuid = vir.uuid;
        let err = provision(&repo, same_uuid).await.unwrap_err();
        assert!(matches!(
            err,
            ProvisionError::Conflict(Conflict::UuidTaken { .. })
        ));
    }
}
