//! The primitives a backend provides, with DynamoDB's semantics.
//!
//! The access patterns ([`crate::Repository`]) are written once, in
//! `repo/`, on top of these few operations; the DynamoDB backend maps them
//! to API calls and the memory backend reproduces their semantics (consistent
//! reads, conditional writes, all-or-nothing transactions, key order, a change
//! record for every write). So the two repositories cannot drift apart in
//! logic, and the contract suite tests each backend's primitives through the
//! same algorithms.

use std::fmt;

use async_trait::async_trait;
use dm_domain::{Conversation, Group, GroupId, ItemKey, MessageRef, Partition, Timestamp, UserId};

use crate::{Record, StoreError};

/// A condition on the item a write targets, checked atomically with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    Always,
    /// The item must not exist (`attribute_not_exists(pk)`).
    NotExists,
    /// A conversation row must exist at exactly this version (0: written
    /// when the conversation started, or by `cargo xtask migrate`, and never
    /// since).
    RowVersionIs(u64),
    /// A named group's item must exist at exactly this version: its members
    /// and name are changed one change at a time.
    GroupVersionIs(u64),
    /// A read marker: absent, or at a message older than this one (markers
    /// only move forward).
    MarkerBefore(MessageRef),
    /// A message: it exists, is not deleted, and was last edited before this
    /// time or never (edits apply in the order of their stamps).
    EditableBefore(Timestamp),
    /// A message: it exists and is not deleted.
    NotDeleted,
    /// The item must not exist, or its `expires_at` (epoch seconds) must be
    /// before this: DynamoDB deletes expired items lazily, so they are
    /// treated as absent.
    NotExistsOrExpired(i64),
}

/// One write of a [`Table::write`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "writes live for one call, at most 100 of them; boxing each record would cost an allocation per write"
)]
pub enum Write {
    /// Create or replace an item.
    Put {
        /// The item.
        record: Record,
        /// Its condition.
        condition: Condition,
        /// The item it replaces, as the caller read it, when it knows: for
        /// billing inside a transaction, where DynamoDB returns no old item
        /// (see [`crate::billing`]). Nothing else reads it.
        before: Option<Record>,
    },
    /// Delete an item; deleting a missing item is not an error.
    Delete {
        /// The item's key.
        key: ItemKey,
        /// The item deleted, as the caller read it, when it knows: for
        /// billing inside a transaction.
        before: Option<Record>,
    },
}

impl Write {
    /// A put without a condition.
    pub fn put(record: Record) -> Self {
        Self::put_if(record, Condition::Always)
    }

    /// A put that fails if the item exists.
    pub fn create(record: Record) -> Self {
        Self::put_if(record, Condition::NotExists)
    }

    /// A put under `condition`.
    pub fn put_if(record: Record, condition: Condition) -> Self {
        Self::Put {
            record,
            condition,
            before: None,
        }
    }

    /// A delete of the item at `key`.
    pub fn delete(key: ItemKey) -> Self {
        Self::Delete { key, before: None }
    }

    /// A delete of `record`, as the caller read it.
    pub fn delete_of(record: Record) -> Self {
        Self::Delete {
            key: record.key(),
            before: Some(record),
        }
    }

    /// This write, replacing `before` (as the caller read it).
    #[must_use]
    pub fn replacing(mut self, replaced: Record) -> Self {
        match &mut self {
            Self::Put { before, .. } | Self::Delete { before, .. } => *before = Some(replaced),
        }
        self
    }

    /// The key it writes.
    pub fn key(&self) -> ItemKey {
        match self {
            Self::Put { record, .. } => record.key(),
            Self::Delete { key, .. } => key.clone(),
        }
    }
}

/// Why a [`Table::write`] did nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// The condition of the write at this index failed; nothing was written.
    ConditionFailed {
        /// The index in the writes given.
        index: usize,
    },
    /// Any other failure; nothing was written.
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl WriteError {
    /// The failure of writes that have no condition (a failed one cannot
    /// happen, and is reported as a backend error if it does).
    pub fn into_store(self) -> StoreError {
        match self {
            Self::Store(e) => e,
            Self::ConditionFailed { index } => {
                StoreError::Backend(format!("unconditional write {index} failed a condition"))
            }
        }
    }
}

/// How fresh a query's items must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Eventually consistent (half the capacity on DynamoDB).
    Eventual,
    /// Strongly consistent: every write acknowledged before is seen.
    Consistent,
}

/// The order a partition is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Descending sort keys: the newest first.
    NewestFirst,
    /// Ascending sort keys: the oldest first.
    OldestFirst,
}

/// A single DynamoDB-like table.
#[async_trait]
pub trait Table: Send + Sync + fmt::Debug {
    /// Reads one item, strongly consistent.
    async fn get(&self, key: &ItemKey) -> Result<Option<Record>, StoreError>;

    /// Reads up to `limit` items of a partition in `order` of their sort
    /// keys, starting after `after` (a sort key of that partition), each with
    /// the key it is stored under.
    ///
    /// A user's conversation rows ([`Partition::Conversations`]) are read
    /// through the index `conversations-by-recency` instead (eventually
    /// consistent on DynamoDB), in the order of their places in the list,
    /// and each comes with its place ([`ItemKey::Conversation`]) as its key,
    /// which is what `after` names. Rows of the older forms are not in it.
    async fn query(
        &self,
        partition: Partition,
        after: Option<&str>,
        limit: usize,
        order: Order,
        read: Read,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError>;

    /// The conversation rows of a conversation, through the sparse index
    /// `message-group-sk-index` (eventually consistent on DynamoDB).
    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError>;

    /// Applies the writes all or nothing: one write is a conditional put or
    /// delete, several are one transaction. At most 100 writes, each to a
    /// different item.
    async fn write(&self, writes: Vec<Write>) -> Result<(), WriteError>;

    /// One page of a scan of the whole table from after `start`: the items
    /// in the table's own order, each with its key, and where the next page
    /// starts (`None` after the last). Items that do not decode are skipped
    /// and counted. For `cargo xtask migrate`.
    async fn scan_page(&self, start: Option<ItemKey>) -> Result<ScanPage, StoreError>;

    /// Puts many items without conditions, in batches, retrying what the
    /// backend leaves unprocessed.
    async fn put_batch(&self, records: Vec<Record>) -> Result<(), StoreError>;

    /// Checks that the table can be reached.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The conversations this process last read or wrote, if this backend
    /// keeps them.
    fn group_cache(&self) -> Option<&GroupCache> {
        None
    }
}

/// A page of [`Table::scan_page`].
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// The items that decoded.
    pub items: Vec<Scanned>,
    /// How many items did not decode (not this project's, nor the seed's).
    pub foreign: usize,
    /// Where the next page starts.
    pub next: Option<ItemKey>,
}

/// An item a scan read.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// Its key, decoded.
    pub key: ItemKey,
    /// Its key exactly as stored ([`ItemKey::Stored`]), which deletes it
    /// whatever form its sort key has.
    pub stored: ItemKey,
    /// The item.
    pub record: Record,
}

/// Conversations and rows as this process last read or wrote them: two
/// bounded caches (moka; least recently used entries go first once
/// [`Self::CAPACITY`] is reached) whose entries expire
/// [`Self::TIME_TO_LIVE`] after they were written.
///
/// Both uses are safe when an entry is out of date:
/// - the membership check of a send trusts the entry of a one-to-one
///   conversation, whose members never change; a named group's members are
///   read (strongly consistent) for every check, so a removal holds at once;
/// - the stream handler takes a group entry as the members to apply a
///   message to, and a group record newer than the entry replaces it;
/// - the stream handler takes a row entry as its guess of the row, which the
///   row's write checks atomically (its version): a wrong guess fails it,
///   and the handler reads the row and tries again. So a steady conversation
///   costs the handler no reads.
#[derive(Debug)]
pub struct GroupCache {
    entries: moka::sync::Cache<GroupId, Group>,
    rows: moka::sync::Cache<(UserId, GroupId), Conversation>,
}

impl Default for GroupCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(Self::CAPACITY)
                .time_to_live(Self::TIME_TO_LIVE)
                .build(),
            rows: moka::sync::Cache::builder()
                .max_capacity(2 * Self::CAPACITY)
                .time_to_live(Self::TIME_TO_LIVE)
                .build(),
        }
    }
}

impl GroupCache {
    /// Conversations kept at most (a few MB), and twice as many rows.
    pub const CAPACITY: u64 = 16_384;
    /// How long an entry is trusted after it was written.
    pub const TIME_TO_LIVE: std::time::Duration = std::time::Duration::from_secs(60);

    /// The conversation, as last seen.
    pub fn get(&self, group: GroupId) -> Option<Group> {
        self.entries.get(&group)
    }

    /// Remembers a conversation as it was read or written.
    pub fn insert(&self, group: Group) {
        self.entries.insert(group.id, group);
    }

    /// Forgets a conversation, when what was remembered may be out of date.
    pub fn forget(&self, group: GroupId) {
        self.entries.invalidate(&group);
    }

    /// `owner`'s row of `group`, as last seen.
    pub fn row(&self, owner: UserId, group: GroupId) -> Option<Conversation> {
        self.rows.get(&(owner, group))
    }

    /// Remembers a row as it was read or written.
    pub fn insert_row(&self, row: Conversation) {
        self.rows.insert((row.owner, row.group), row);
    }

    /// Forgets a row, when what was remembered may be out of date.
    pub fn forget_row(&self, owner: UserId, group: GroupId) {
        self.rows.invalidate(&(owner, group));
    }
}
