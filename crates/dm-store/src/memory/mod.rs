//! The in-memory repository: the embedded default, and what services use in
//! their own tests.
//!
//! It is not a mock. It implements the same [`Table`] primitives as DynamoDB
//! with the same semantics, so every access pattern runs the same code as on
//! DynamoDB: items ordered by key bytes, conditional writes, all-or-nothing
//! transactions that reject two writes to one item, and a change feed that
//! records every write in order, as a DynamoDB Stream with `NEW_IMAGE` would.
//! The contract suite runs against both.
//!
//! ```
//! use dm_domain::{DisplayName, Handle, MessageText, NewUser, UserId};
//! use dm_store::{MemoryRepository, NewMessage, PageRequest, Repository};
//!
//! # tokio_test_block(async {
//! let repo = MemoryRepository::new();
//! let user = |handle: &str| NewUser {
//!     uuid: UserId::new(),
//!     handle: Handle::parse(handle).unwrap(),
//!     display_name: DisplayName::parse(handle).unwrap(),
//!     cognito_user_id: None,
//! };
//! let alice = repo.create_user(user("alice")).await.unwrap();
//! let bob = repo.create_user(user("bob")).await.unwrap();
//!
//! let hello = NewMessage::now(MessageText::parse("hello").unwrap());
//! let sent = repo.start_conversation(&alice.summary(), &bob.summary(), hello).await.unwrap();
//!
//! let bobs = repo.conversations(bob.uuid, &PageRequest::default()).await.unwrap();
//! assert_eq!(bobs.items[0].group, sent.message.group);
//! assert_eq!(bobs.items[0].other.handle, "alice");
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use dm_domain::{GroupId, ItemKey, Partition};
use serde_dynamo::Item;
use tokio::sync::Notify;

use crate::{
    ChangeEvent, ChangeKind, Record, StoreError, billing,
    capacity::{CapacityMeter, Consumed},
    table::{Condition, GroupCache, Order, Read, ScanPage, Scanned, Table, Write, WriteError},
};

mod recency;

/// How many change records the feed keeps by default (DynamoDB keeps 24 hours).
pub const FEED_RETENTION: usize = 100_000;

/// An in-memory table with DynamoDB's semantics; cheap to clone (clones share
/// the same data).
#[derive(Debug, Clone)]
pub struct MemoryRepository {
    inner: Arc<Inner>,
    /// Kept as DynamoDB's repository keeps one, so the same code paths run
    /// here; shared by clones, as by the clones of a DynamoDB repository.
    groups: Arc<GroupCache>,
    /// What the calls would cost on AWS ([`crate::billing`]), from the items
    /// they read and write; shared by clones, as DynamoDB's.
    meter: Arc<CapacityMeter>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: Notify,
    retention: usize,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<(String, String), Record>,
    feed: VecDeque<ChangeEvent>,
    /// Sequence number of the next change record; the first is 1.
    next_sequence: u64,
    /// Calls made so far (every [`Table`] method counts one).
    calls: u64,
    /// Failures to inject, by call number.
    faults: BTreeMap<u64, Fault>,
}

/// A failure to inject into one call of the memory repository, for tests of
/// what uses it (the stream handler's retries, the API's error mapping).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The call fails before it has any effect (throttling, an outage).
    Before(StoreError),
    /// The call takes effect, then fails: the response was lost on its way back.
    After(StoreError),
}

/// The feed no longer holds the records after this position: a reader fell
/// further behind than the retention (like DynamoDB's `TrimmedDataAccessException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("change records after {after} were trimmed; the oldest kept is {oldest}")]
pub struct Trimmed {
    /// The position asked for.
    pub after: u64,
    /// The oldest sequence number still kept.
    pub oldest: u64,
}

impl Default for MemoryRepository {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::with_retention(FEED_RETENTION)
    }

    /// An empty repository whose feed keeps the last `retention` changes.
    pub fn with_retention(retention: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    next_sequence: 1,
                    ..State::default()
                }),
                changed: Notify::new(),
                retention: retention.max(1),
            }),
            groups: Arc::default(),
            meter: Arc::default(),
        }
    }

    /// The same store, through a group cache of its own: what another
    /// process using the same table would see.
    pub fn with_own_cache(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            groups: Arc::default(),
            meter: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write:
        // writes check everything before changing anything.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many calls were made so far; every [`Table`] method counts one.
    pub fn calls(&self) -> u64 {
        self.state().calls
    }

    /// What the calls of this repository (and its clones) would have cost on
    /// AWS so far, by [`crate::billing`]'s rules; nothing is reported.
    pub fn capacity(&self) -> Consumed {
        self.meter.snapshot()
    }

    /// Makes call number `call` (counting from 1, as [`calls`](Self::calls)
    /// does) fail with `fault`.
    pub fn inject(&self, call: u64, fault: Fault) {
        self.state().faults.insert(call, fault);
    }

    /// Drops every injected fault that has not fired.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Counts a call, and fails it now if a [`Fault::Before`] is due; returns
    /// the error of a [`Fault::After`] to report once the call took effect.
    fn begin(&self) -> Result<Option<StoreError>, StoreError> {
        let mut state = self.state();
        state.calls += 1;
        let call = state.calls;
        match state.faults.remove(&call) {
            Some(Fault::Before(e)) => Err(e),
            Some(Fault::After(e)) => Ok(Some(e)),
            None => Ok(None),
        }
    }

    /// Every item, in key order (a scan).
    pub fn scan(&self) -> Vec<Record> {
        self.state().items.values().cloned().collect()
    }

    /// The change records after sequence number `after` (0 for the start),
    /// at most `max`.
    pub fn changes_after(&self, after: u64, max: usize) -> Result<Vec<ChangeEvent>, Trimmed> {
        let state = self.state();
        let oldest = state.next_sequence - state.feed.len() as u64;
        if after + 1 < oldest {
            return Err(Trimmed { after, oldest });
        }
        let skip = usize::try_from(after + 1 - oldest).unwrap_or(usize::MAX);
        Ok(state.feed.iter().skip(skip).take(max).cloned().collect())
    }

    /// The sequence number of the newest change record (0 if none).
    pub fn latest_sequence(&self) -> u64 {
        self.state().next_sequence - 1
    }

    /// Waits until a change record after `after` exists.
    pub async fn wait_for_changes(&self, after: u64) {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.latest_sequence() > after {
                return;
            }
            notified.await;
        }
    }

    /// Stores an item as it is, under the key its `pk` and `sk` attributes
    /// give, as a DynamoDB PutItem would: for importing items another tool
    /// wrote, such as the seed's. Emits a change record like any write.
    pub fn put_item(&self, item: impl Into<serde_dynamo::Item>) -> Result<(), StoreError> {
        let (key, record) = Record::from_item_with_key(item)?;
        self.apply(vec![(key, Some(record))]);
        Ok(())
    }

    /// Deletes the items whose `expires_at` (epoch seconds) is before `now`
    /// (idempotency claims, live connections), as DynamoDB's TTL does some
    /// time after they expire: the change records are removals made by the
    /// service, not by a user ([`ChangeEvent::expired`]). Returns how many.
    pub fn expire(&self, now: i64) -> usize {
        let mut state = self.state();
        let expired: Vec<(ItemKey, Option<Record>)> = state
            .items
            .values()
            .filter(|record| match record {
                Record::Idempotency(c) => c.expires_at < now,
                Record::Connection(c) => c.expires_at < now,
                _ => false,
            })
            .map(|record| (record.key(), None))
            .collect();
        let count = expired.len();
        Self::apply_locked(&mut state, self.inner.retention, expired, true);
        drop(state);
        self.inner.changed.notify_waiters();
        count
    }

    /// Applies puts (`Some`) and deletes (`None`), recording each change.
    fn apply(&self, changes: Vec<(ItemKey, Option<Record>)>) {
        Self::apply_locked(&mut self.state(), self.inner.retention, changes, false);
        self.inner.changed.notify_waiters();
    }

    fn apply_locked(
        state: &mut State,
        retention: usize,
        changes: Vec<(ItemKey, Option<Record>)>,
        expired: bool,
    ) {
        for (key, new_image) in changes {
            let slot = (key.pk(), key.sk());
            let kind = match &new_image {
                Some(record) => match state.items.insert(slot, record.clone()) {
                    Some(_) => ChangeKind::Modify,
                    None => ChangeKind::Insert,
                },
                None => match state.items.remove(&slot) {
                    Some(_) => ChangeKind::Remove,
                    // Deleting nothing writes no stream record.
                    None => continue,
                },
            };
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            state.feed.push_back(ChangeEvent {
                sequence: sequence.to_string(),
                kind,
                key,
                new_image,
                expired,
            });
            if state.feed.len() > retention {
                state.feed.pop_front();
            }
        }
    }

    fn check(items: &BTreeMap<(String, String), Record>, write: &Write) -> bool {
        let Write::Put {
            record, condition, ..
        } = write
        else {
            return true;
        };
        let key = record.key();
        let current = items.get(&(key.pk(), key.sk()));
        match condition {
            Condition::Always => true,
            Condition::NotExists => current.is_none(),
            Condition::RowVersionIs(version) => {
                matches!(current, Some(Record::Conversation(c)) if c.version == *version)
            }
            Condition::GroupVersionIs(version) => {
                matches!(current, Some(Record::Group(g)) if g.version == *version)
            }
            Condition::MarkerBefore(through) => match current {
                None => true,
                Some(Record::ReadMarker(r)) => r.through < *through,
                Some(_) => false,
            },
            Condition::EditableBefore(at) => matches!(
                current,
                Some(Record::Message(m)) if !m.deleted && m.edited_at.is_none_or(|e| e < *at)
            ),
            Condition::NotDeleted => matches!(current, Some(Record::Message(m)) if !m.deleted),
            Condition::NotExistsOrExpired(now) => match current {
                None => true,
                Some(Record::Idempotency(c)) => c.expires_at < *now,
                Some(_) => false,
            },
        }
    }
}

#[async_trait]
impl Table for MemoryRepository {
    async fn get(&self, key: &ItemKey) -> Result<Option<Record>, StoreError> {
        let lost = self.begin()?;
        let found = self.state().items.get(&(key.pk(), key.sk())).cloned();
        let bytes = found
            .as_ref()
            .map_or(0, |r| billing::item_size(&r.to_item()));
        self.meter
            .bill(false, billing::read_units(bytes, Read::Consistent));
        lost.map_or(Ok(found), Err)
    }

    async fn query(
        &self,
        partition: Partition,
        after: Option<&str>,
        limit: usize,
        order: Order,
        read: Read,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError> {
        // Every read of this store is consistent.
        let lost = self.begin()?;
        if let Partition::Conversations(owner) = partition {
            let found = self.rows_by_recency(owner, after, limit, order);
            return lost.map_or(Ok(found), Err);
        }
        let pk = partition.pk();
        let state = self.state();
        // The first slot past every sort key of the partition.
        let end = Bound::Excluded((format!("{pk}\0"), String::new()));
        let first = Bound::Included((pk.clone(), String::new()));
        let decode = |((pk, sk), record): (&(String, String), &Record)| {
            let key = ItemKey::decode(pk, sk).map_err(|e| StoreError::Decode(e.to_string()))?;
            Ok((key, record.clone()))
        };
        let found: Result<Vec<(ItemKey, Record)>, StoreError> = match order {
            Order::NewestFirst => {
                let high = match after {
                    Some(sk) => Bound::Excluded((pk.clone(), sk.to_owned())),
                    None => end,
                };
                state
                    .items
                    .range((first, high))
                    .rev()
                    .take_while(|((p, _), _)| *p == pk)
                    .take(limit)
                    .map(decode)
                    .collect()
            }
            Order::OldestFirst => {
                let low = match after {
                    Some(sk) => Bound::Excluded((pk.clone(), sk.to_owned())),
                    None => first,
                };
                state
                    .items
                    .range((low, end))
                    .take_while(|((p, _), _)| *p == pk)
                    .take(limit)
                    .map(decode)
                    .collect()
            }
        };
        if let Ok(found) = &found {
            let bytes = found
                .iter()
                .map(|(_, r)| billing::item_size(&r.to_item()))
                .sum();
            self.meter.bill(false, billing::read_units(bytes, read));
        }
        lost.map_or(found, Err)
    }

    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError> {
        let lost = self.begin()?;
        let rows = self
            .state()
            .items
            .values()
            // The index holds the rows that carry `message_group_uuid`: the
            // seed's (no last message id).
            .filter(|record| {
                matches!(record, Record::Conversation(c)
                    if c.group == group && c.is_seed_form())
            })
            .cloned()
            .collect::<Vec<_>>();
        let bytes = rows.iter().map(|r| billing::item_size(&r.to_item())).sum();
        // The index is read eventually consistent.
        self.meter
            .bill(false, billing::read_units(bytes, Read::Eventual));
        lost.map_or(Ok(rows), Err)
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        let lost = self.begin()?;
        self.write_now(writes, false)?;
        lost.map_or(Ok(()), |e| Err(e.into()))
    }

    async fn put_batch(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let lost = self.begin()?;
        // Like BatchWriteItem: unconditional, in chunks of 25.
        for chunk in records.chunks(25) {
            self.write_now(chunk.iter().cloned().map(Write::put).collect(), true)
                .map_err(|e| match e {
                    WriteError::Store(e) => e,
                    WriteError::ConditionFailed { .. } => unreachable!("puts without conditions"),
                })?;
        }
        lost.map_or(Ok(()), Err)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.begin()?.map_or(Ok(()), Err)
    }

    async fn scan_page(&self, start: Option<ItemKey>) -> Result<ScanPage, StoreError> {
        const PAGE: usize = 100;
        let lost = self.begin()?;
        let state = self.state();
        let low = match &start {
            Some(key) => Bound::Excluded((key.pk(), key.sk())),
            None => Bound::Unbounded,
        };
        let mut page = ScanPage::default();
        let mut bytes = 0;
        for ((pk, sk), record) in state.items.range((low, Bound::Unbounded)).take(PAGE) {
            bytes += billing::item_size(&record.to_item());
            match ItemKey::decode(pk, sk) {
                Ok(key) => page.items.push(Scanned {
                    key,
                    stored: ItemKey::Stored {
                        pk: pk.clone(),
                        sk: sk.clone(),
                    },
                    record: record.clone(),
                }),
                Err(_) => page.foreign += 1,
            }
            page.next = Some(ItemKey::Stored {
                pk: pk.clone(),
                sk: sk.clone(),
            });
        }
        if page.items.len() + page.foreign < PAGE {
            page.next = None;
        }
        self.meter
            .bill(false, billing::read_units(bytes, Read::Eventual));
        lost.map_or(Ok(page), Err)
    }

    fn group_cache(&self) -> Option<&GroupCache> {
        Some(&self.groups)
    }
}

impl MemoryRepository {
    /// A write or transaction, all or nothing; with `batch`, a
    /// BatchWriteItem's puts (billed one by one, not as a transaction).
    fn write_now(&self, writes: Vec<Write>, batch: bool) -> Result<(), WriteError> {
        if writes.is_empty() || writes.len() > 100 {
            return Err(
                StoreError::Backend(format!("{} writes in one transaction", writes.len())).into(),
            );
        }
        let keys: Vec<ItemKey> = writes.iter().map(Write::key).collect();
        let distinct: HashSet<(String, String)> = keys.iter().map(|k| (k.pk(), k.sk())).collect();
        if distinct.len() != keys.len() {
            return Err(
                StoreError::Backend("two writes to one item in a transaction".into()).into(),
            );
        }
        let mut state = self.state();
        if let Some(index) = writes.iter().position(|w| !Self::check(&state.items, w)) {
            // A failed single write is billed, by the new item's size.
            if let [Write::Put { record, .. }] = writes.as_slice() {
                self.meter
                    .bill(true, billing::write_units(None, Some(&record.to_item())));
            }
            return Err(WriteError::ConditionFailed { index });
        }
        // Each item before and after, for the bill.
        let items: Vec<(Option<Item>, Option<Item>)> = writes
            .iter()
            .zip(&keys)
            .map(|(write, key)| {
                let old = state.items.get(&(key.pk(), key.sk())).map(Record::to_item);
                let new = match write {
                    Write::Put { record, .. } => Some(record.to_item()),
                    Write::Delete { .. } => None,
                };
                (old, new)
            })
            .collect();
        let pairs = || items.iter().map(|(old, new)| (old.as_ref(), new.as_ref()));
        let units = if batch || items.len() == 1 {
            pairs()
                .map(|(old, new)| billing::single_write(old, new))
                .sum()
        } else {
            billing::transaction(pairs())
        };
        self.meter.bill(true, units);
        let changes = writes
            .into_iter()
            .zip(keys)
            .map(|(write, key)| match write {
                Write::Put { record, .. } => (key, Some(record)),
                Write::Delete { .. } => (key, None),
            })
            .collect();
        Self::apply_locked(&mut state, self.inner.retention, changes, false);
        drop(state);
        self.inner.changed.notify_waiters();
        Ok(())
    }
}
