//! Live delivery: after the handler has applied a conversation's changes
//! (new messages, edits, deletes, read markers), every live connection of
//! every member gets them as frames.
//!
//! - [`frames`]: the JSON a client sees, in frames and in `dm-api`'s REST
//!   answers alike.
//! - [`Update`] (in `update.rs`): what the handler applied in one
//!   conversation, with the members and their rows as the row update left
//!   them (no read again), and [`Notifier`], the port the [`crate::Handler`]
//!   calls with it;
//!   [`ConnectionNotifier`] (in `notifier.rs`) is its one implementation: it
//!   looks up each member's connections in the repository and posts the
//!   frames through a [`Post`].
//! - [`ManagementApi`] (in `management.rs`): [`Post`] through API Gateway's
//!   management API, on AWS and locally (where `dm-api` serves the same
//!   `POST /@connections/{id}`); `dm-api`'s own sockets are another [`Post`]
//!   in one process. A connection that is gone (`GoneException`, 410) is
//!   deleted.
//!
//! Delivery is best effort and never fails a batch: a frame that cannot be
//! posted is lost, and the client catches up by reading (`GET
//! /api/messages/{uuid}?after=...`). A record the stream replays may repeat a
//! frame; frames carry ids, so a client keeps each message once.

pub mod frames;
mod management;
mod notifier;
mod update;

pub use frames::{
    ConversationJson, ConversationKind, Frame, GroupJson, MemberJson, MessageJson, ReadThrough,
    Role,
};
pub use management::ManagementApi;
pub use notifier::{ConnectionNotifier, Post, PostError};
pub use update::{Notifier, Update};
