//! Keeps every member's conversation list current from the table's changes.
//!
//! One piece of logic, [`Handler`], serves three sources of change records,
//! all decoded into [`dm_store::ChangeEvent`] first, so the handler never
//! knows which one it serves:
//!
//! - AWS Lambda's DynamoDB event ([`decode::from_lambda`], the `dm-stream-lambda` binary);
//! - the DynamoDB Streams API, polled locally ([`poller::Poller`], the `dm-stream-poll` binary and `cargo xtask stream`);
//! - the memory repository's feed ([`memory_feed::MemoryFeed::run`]).
//!
//! The invariants it keeps (each tested against both repositories):
//! one row per member; newest wins, never backwards; idempotent; nothing
//! dropped (the first failed record is reported, everything from it is
//! retried); only a message newer than where the rows stand moves them (edits,
//! deletes and read markers change what they show, never their place).

pub mod decode;
mod handler;
pub mod lambda;
pub mod live;
pub mod memory_feed;
pub mod poller;

pub use handler::{BatchOutcome, DEFAULT_CONCURRENCY, Handler, Observer, RetryPolicy};
