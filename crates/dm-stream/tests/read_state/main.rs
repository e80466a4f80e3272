//! Read state, edits and deletes under everything the stream does, on both
//! repositories: messages sent with skewed clocks (an older `created_at`
//! written after a newer one), read markers set as the API sets them, edits
//! and deletes by the authors, and their records shuffled, duplicated,
//! replayed, and applied by two handlers at once. Once the stream has caught
//! up:
//!
//! 1. a member's own messages never count as unread for them;
//! 2. each unread count is the number of the other member's messages newer
//!    than the member's marker and not deleted, up to the cap;
//! 3. a marker never moves backwards, even under concurrent marks;
//! 4. marking, sending, editing, deleting and the stream racing each other
//!    converge to 2 and 5;
//! 5. a row's preview is the current text of the newest message not deleted
//!    (empty when none remains), and the row stands at the newest message
//!    sent, deleted or not: edits and deletes never move it.

//!
//! `world.rs` holds the two conversations every case runs in and the API's
//! calls; `property.rs` the property test; `cases.rs` the cases on both
//! repositories.

mod cases;
mod property;
mod world;

pub(crate) use std::{sync::Arc, time::Duration};

pub(crate) use chrono::TimeDelta;
pub(crate) use dm_domain::{
    DisplayName, GroupId, Handle, ItemKey, Message, MessageId, MessageRef, MessageText, NewUser,
    ReadMarker, Timestamp, UNREAD_CAP, User, UserId,
};
pub(crate) use dm_store::{
    ChangeEvent, ChangeKind, MessageLookup, NewMessage, PageRequest, Record, Repository,
    testing::Backend,
};
pub(crate) use dm_stream::{Handler, RetryPolicy};
pub(crate) use proptest::prelude::*;
