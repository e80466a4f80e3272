//! The repository of Cruddur direct messaging, on DynamoDB or in memory.
//!
//! - [`Repository`]: every access pattern of the design (users, conversations,
//!   messages, the stream handler's row update), written once over [`Table`].
//! - [`DynamoRepository`]: one DynamoDB table through `aws-sdk-dynamodb`, with
//!   conditional writes, transactions and consumed-capacity accounting.
//! - [`MemoryRepository`]: the same semantics in memory, with a change feed;
//!   the embedded default and the one to use in other services' tests.
//! - [`Record`]: the typed items of the single table; [`ChangeEvent`]: what
//!   the stream (or the memory feed) says about a write.
//! - [`schema`]: the table definition and its creation.

pub mod billing;
pub mod capacity;
mod change;
pub mod client;
pub mod dynamo;
mod error;
#[cfg(feature = "test-support")]
mod faults;
pub mod memory;
mod record;
mod repo;
pub mod retry;
pub mod schema;
pub mod sdk_error;
pub mod seed;
mod send;
pub mod table;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod users;

pub use change::{ChangeEvent, ChangeKind};
pub use dm_domain::IdempotencyClaim;
pub use dynamo::DynamoRepository;
pub use error::{Clash, Missing, StoreError, StoreResult};
pub use memory::MemoryRepository;
pub use record::{ENTITY, Record};
pub use repo::{
    Applied, Changes, GroupChange, MessageBound, MessageLookup, Migrated, MigrationProgress,
    NewMessage, PAGE_DEFAULT, PAGE_MAX, PageRequest, Repository, Sent, Written, migrate,
};
pub use send::{IDEMPOTENCY_TTL, IdempotencyKey, Recipient, SendOnce};
