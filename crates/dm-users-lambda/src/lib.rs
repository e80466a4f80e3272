//! The Cognito post-confirmation trigger: each new Cruddur user, created in
//! the messaging table as Cruddur's own trigger inserts them into Postgres.
//!
//! The event's `userAttributes` give the user: `sub` (the Cognito subject
//! that access tokens carry), `preferred_username` (the handle) and `name`
//! (the display name; the handle when absent). A new uuid is drawn; a
//! retried trigger finds the user by their subject and creates nothing twice
//! ([`dm_store::users::provision`]). A handle held by someone else, or
//! attributes that are not a valid user, fail the trigger with a sentence
//! Cognito shows to the person signing up
//! (`PostConfirmation failed with error <sentence>.`).
//!
//! The trigger also runs after a confirmed password reset
//! (`PostConfirmation_ConfirmForgotPassword`): then it creates the user only
//! if they are missing, which brings in users who signed up before the
//! trigger was installed.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation;
use dm_domain::{DisplayName, Handle, NewUser, UserId};
use dm_store::{
    Repository,
    users::{Conflict, ProvisionError, Provisioned, provision},
};

/// Why a sign-up could not be completed; the text is shown to the person.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// An attribute the user needs is missing.
    #[error("the sign-up has no {0} attribute")]
    Missing(&'static str),
    /// The preferred username is not a valid handle.
    #[error(
        "the username {0:?} can hold only letters, digits and underscores (at most {max} of them)",
        max = dm_domain::HANDLE_MAX_CHARS
    )]
    HandleInvalid(String),
    /// The name is not a valid display name.
    #[error("the name {0:?} is empty, too long or has control characters")]
    NameInvalid(String),
    /// Someone else has the handle.
    #[error("the username @{0} is taken; please choose another one")]
    HandleTaken(String),
    /// The subject or uuid belongs to another user: not the person's fault.
    #[error("this account could not be set up ({0}); please contact support")]
    Conflict(Conflict),
    /// The table could not be reached; Cognito does not retry, the person can.
    #[error("the messaging service is unavailable; please try again")]
    Store(#[source] dm_store::StoreError),
}

/// The user an event asks for.
///
/// # Errors
///
/// When `sub` or `preferred_username` is missing, or a value is invalid.
pub fn new_user(event: &CognitoEventUserPoolsPostConfirmation) -> Result<NewUser, TriggerError> {
    let attributes = &event.request.user_attributes;
    let sub = attributes
        .get("sub")
        .filter(|s| !s.is_empty())
        .ok_or(TriggerError::Missing("sub"))?;
    let username = attributes
        .get("preferred_username")
        .filter(|s| !s.is_empty())
        .ok_or(TriggerError::Missing("preferred_username"))?;
    let handle =
        Handle::parse(username).map_err(|_| TriggerError::HandleInvalid(username.clone()))?;
    let name = attributes
        .get("name")
        .map(String::as_str)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(handle.as_str());
    let display_name =
        DisplayName::parse(name).map_err(|_| TriggerError::NameInvalid(name.to_owned()))?;
    Ok(NewUser {
        uuid: UserId::new(),
        handle,
        display_name,
        cognito_user_id: Some(sub.clone()),
    })
}

/// Handles one trigger: creates the user (or finds them) and answers the
/// event back, as Cognito expects.
///
/// # Errors
///
/// [`TriggerError`], whose text Cognito shows.
pub async fn handle(
    repo: &(impl Repository + ?Sized),
    event: CognitoEventUserPoolsPostConfirmation,
) -> Result<CognitoEventUserPoolsPostConfirmation, TriggerError> {
    let new = new_user(&event)?;
    let handle = new.handle.to_string();
    match provision(repo, new).await {
        Ok(Provisioned::Created(user)) => {
            tracing::info!(user = %user.uuid, handle = %user.handle, "user created");
        }
        Ok(Provisioned::Present(user)) => {
            tracing::info!(user = %user.uuid, handle = %user.handle, "user already present");
        }
        Err(ProvisionError::Conflict(Conflict::HandleTaken { .. })) => {
            return Err(TriggerError::HandleTaken(handle));
        }
        Err(ProvisionError::Conflict(conflict)) => {
            tracing::warn!(%conflict, "sign-up conflicts with another user");
            return Err(TriggerError::Conflict(conflict));
        }
        Err(ProvisionError::Store(e)) => {
            tracing::error!(error = %e, "could not create the user");
            return Err(TriggerError::Store(e));
        }
    }
    Ok(event)
}
