//! Sending a message once per idempotency key: the one call behind
//! `POST /api/messages`.
//!
//! The first request with a key claims it ([`Repository::claim_idempotency`]),
//! which fixes the message's id and time; every retry with that key sends the
//! very same message, which exists at most once, and is answered with it. A
//! key used again with another request is refused and changes nothing. Claims
//! expire after [`IDEMPOTENCY_TTL`] (the table's TTL attribute deletes them).

use std::time::Duration;

use async_trait::async_trait;
use dm_domain::{GroupId, IdempotencyClaim, Message, MessageText, Timestamp, UserSummary};

use crate::{Clash, NewMessage, Repository, StoreError, StoreResult};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Whom a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A conversation the sender belongs to.
    Group(GroupId),
    /// A user: into the pair's conversation, started if there is none.
    User(UserSummary),
}

/// A client's idempotency key and what it asked for with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key, as the client sent it.
    pub key: String,
    /// The request in a canonical form: the same request always gives the
    /// same text, and a different one a different text.
    pub request: String,
}

/// Sending through any [`Repository`], once per idempotency key.
#[async_trait]
pub trait SendOnce {
    /// Sends `text` from `sender` to `to` and returns the message as stored.
    /// With a key, a retry returns the message the first request sent and
    /// stores nothing new; a key reused for another request is
    /// `Invalid("idempotency_key_reused")`.
    async fn send_once(
        &self,
        sender: &UserSummary,
        to: Recipient,
        text: MessageText,
        key: Option<IdempotencyKey>,
    ) -> StoreResult<Message>;
}

#[async_trait]
impl<R: Repository + ?Sized> SendOnce for R {
    async fn send_once(
        &self,
        sender: &UserSummary,
        to: Recipient,
        text: MessageText,
        key: Option<IdempotencyKey>,
    ) -> StoreResult<Message> {
        let mut new = NewMessage::now(text);
        let Some(key) = key else {
            return send(self, sender, &to, new).await;
        };
        let now = Timestamp::unix_now();
        let claim = IdempotencyClaim {
            user: sender.uuid,
            key: key.key,
            message: new.id,
            at: new.created_at,
            request: key.request.clone(),
            expires_at: now + IDEMPOTENCY_TTL.as_secs() as i64,
        };
        let claim = self.claim_idempotency(claim, now).await?;
        if claim.request != key.request {
            return Err(StoreError::Invalid("idempotency_key_reused"));
        }
        new.id = claim.message;
        new.created_at = claim.at;
        let at = new.reference();
        match send(self, sender, &to, new).await {
            Err(StoreError::Conflict(Clash::ItemExists)) => {
                // A retry: the message was sent before; answer with it.
                let group = match &to {
                    Recipient::Group(group) => Some(*group),
                    Recipient::User(recipient) => {
                        self.conversation_between(sender.uuid, recipient.uuid)
                            .await?
                    }
                };
                let sent = match group {
                    Some(group) => self.message_unchecked(group, at).await?,
                    None => None,
                };
                sent.ok_or(StoreError::Conflict(Clash::ItemExists))
            }
            sent => sent,
        }
    }
}

async fn send<R: Repository + ?Sized>(
    repo: &R,
    sender: &UserSummary,
    to: &Recipient,
    message: NewMessage,
) -> StoreResult<Message> {
    match to {
        Recipient::Group(group) => repo.send_message(*group, sender, message).await,
        Recipient::User(recipient) => Ok(repo
            .start_conversation(sender, recipient, message)
            .await?
            .message),
    }
}
