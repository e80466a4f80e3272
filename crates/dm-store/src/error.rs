//! The errors every repository returns.
//!
//! Variants say what happened in the terms of the domain, so callers can map
//! them (the API maps them to HTTP statuses in one place) without knowing
//! which backend produced them. Backend text stays inside `Backend` and
//! `Unavailable`, for logs; it is never meant for an end user.

use dm_domain::CursorError;

/// What was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A user (by uuid, handle or Cognito subject).
    User,
    /// A conversation, or one the caller is not a member of.
    Conversation,
    /// A message of a conversation.
    Message,
}

/// What a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// The handle is taken, in some case.
    HandleTaken,
    /// Another user has this Cognito subject.
    CognitoSubTaken,
    /// A user with this uuid exists.
    UserExists,
    /// An item with this key exists (for example the same message id sent twice).
    ItemExists,
    /// The message was deleted: it cannot be edited.
    MessageDeleted,
}

/// A repository failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing does not exist, or is not visible to the caller.
    #[error("{0:?} not found")]
    NotFound(Missing),
    /// A conditional write found something in the way.
    #[error("conflict: {0:?}")]
    Conflict(Clash),
    /// The request is not acceptable (for example messaging oneself).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// The caller is a member, but may not do this (a group's member who is
    /// not its owner renaming it, or removing another member).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The pagination cursor is malformed or belongs elsewhere.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// A transaction was cancelled for a reason other than a failed condition
    /// (a conflicting transaction, throttling); worth retrying.
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCancelled {
        /// The cancellation reason codes, one per item.
        reasons: Vec<String>,
    },
    /// The backend throttled the request and its retries ran out.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The backend could not be reached or failed; worth retrying later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An item could not be decoded.
    #[error("undecodable item: {0}")]
    Decode(String),
    /// Any other backend failure (a bug, a misconfiguration).
    #[error("backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::TransactionCancelled { .. } | Self::Throttled(_) | Self::Unavailable(_)
        )
    }
}

/// Shorthand for repository results.
pub type StoreResult<T> = Result<T, StoreError>;
