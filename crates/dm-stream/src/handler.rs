//! The stream handler: turns a batch of change records into row updates.
//!
//! Each conversation of a batch is applied once, with all its message records
//! (new, edited, deleted), removals and read markers
//! (`Repository::apply_changes`: the rows move to the newest message, their
//! preview stays the newest message not deleted, the unread counts follow
//! every message and marker), and
//! conversations are applied concurrently. The outcome is the same as
//! applying every record in order, at a fraction of the reads and writes.
//!
//! Failures are retried with exponential backoff (throttling, conflicting
//! transactions, an unreachable table); when the retries run out the batch
//! reports the sequence number of the first record of every conversation that
//! failed, the lowest of them first, so that Lambda (or the poller) retries
//! from there. Records that can never succeed (a message of an unknown
//! conversation, a sender who is not a member) are logged and skipped, so one
//! bad record cannot block its shard. Removals by the table's TTL (expired
//! idempotency claims and connections) are counted and change nothing.

use std::{cmp::Ordering, collections::HashMap, sync::Arc, time::Duration};

use dm_domain::{Group, GroupId, ItemKey, Message, MessageRef, ReadMarker};
use dm_store::{
    Applied, ChangeEvent, ChangeKind, Changes, Record, Repository, StoreError, Written,
};
use futures::{StreamExt, stream};

use crate::live::{Notifier, Update};

/// How failed row updates are retried inside one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles on each retry.
    pub base: Duration,
    /// The longest backoff.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// Three applications of a message, 25 ms then about 50 ms apart: the
    /// SDK has retried each call already, and Lambda or the poller retries
    /// what is left from the failed record (see `dm_store::retry`).
    fn default() -> Self {
        Self {
            attempts: 3,
            base: Duration::from_millis(25),
            max: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> dm_store::retry::ExponentialBuilder {
        dm_store::retry::backoff(
            self.base,
            self.max,
            self.attempts.saturating_sub(1) as usize,
        )
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Records in the batch.
    pub records: usize,
    /// Message records among them.
    pub messages: usize,
    /// Conversations whose rows moved.
    pub moved: usize,
    /// Conversations whose rows kept their message while read markers or
    /// unread counts changed.
    pub counted: usize,
    /// Conversations that already reflected every change of the batch.
    pub already_current: usize,
    /// Messages that can never be applied (unknown conversation, not a member), skipped.
    pub skipped: usize,
    /// Removals made by the table's time to live (expired idempotency claims
    /// and connections): told apart from a user's, they change nothing.
    pub expired: usize,
    /// The sequence number to retry from, when some conversation failed.
    pub failed_at: Option<String>,
}

impl BatchOutcome {
    /// Counts one conversation's result; `first` is its first record.
    pub(crate) fn count(&mut self, result: &Result<Applied, StoreError>, first: &str) {
        match result {
            Ok(Applied::Moved) => self.moved += 1,
            Ok(Applied::Counted) => self.counted += 1,
            Ok(Applied::AlreadyCurrent) => self.already_current += 1,
            Err(e) if never_applies(e) => self.skipped += 1,
            Err(_) => {
                let earlier = self
                    .failed_at
                    .as_deref()
                    .is_none_or(|f| sequence_order(first, f) == Ordering::Less);
                if earlier {
                    self.failed_at = Some(first.to_owned());
                }
            }
        }
    }
}

/// Whether a row update failed for good (an unknown conversation, a sender
/// who is not a member): logged and skipped rather than retried.
pub(crate) fn never_applies(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound(_) | StoreError::Invalid(_))
}

/// Conversations a handler applies at once unless told otherwise. Their
/// transactions touch different items, so they do not conflict; on DynamoDB
/// Local, whose single writer the sends share, 8 left the stream p99 at
/// 0.85 s behind the sends and 32 at 0.15 s (`cargo xtask bench`).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Called with records and what was done with them, for metrics: after every
/// batch given to [`Handler::handle`], and in the poller's pipeline after
/// each conversation's share, with its records.
pub type Observer = Arc<dyn Fn(&[ChangeEvent], &BatchOutcome) + Send + Sync>;

/// One conversation's share of a batch (or, in the poller's pipeline, of
/// several batches merged while an earlier share of it was being applied).
pub(crate) struct Work {
    /// The sequence number of its first record: where a retry starts.
    pub(crate) first: String,
    /// Its message records, removals and read markers.
    changes: Changes,
    /// Its new messages, for the notifier.
    inserted: Vec<Message>,
    /// Its records, for the observer (kept only when there is one).
    events: Vec<ChangeEvent>,
}

impl Work {
    fn new(first: &str) -> Self {
        Self {
            first: first.to_owned(),
            changes: Changes::default(),
            inserted: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Adds a later share of the same conversation: the changes are applied
    /// in any order, repeats included, so the two apply as one.
    pub(crate) fn merge(&mut self, later: Work) {
        if sequence_order(&later.first, &self.first) == Ordering::Less {
            self.first = later.first;
        }
        let Changes {
            messages,
            removed,
            marks,
            group,
        } = later.changes;
        self.changes.messages.extend(messages);
        self.changes.removed.extend(removed);
        self.changes.marks.extend(marks);
        if let Some(group) = group {
            keep_newer(&mut self.changes.group, group);
        }
        self.inserted.extend(later.inserted);
        self.events.extend(later.events);
    }
}

/// Keeps the newer of a share's group item and `group` (records of one item
/// come in order, but shares merge records of several batches).
fn keep_newer(kept: &mut Option<Group>, group: Group) {
    if kept.as_ref().is_none_or(|g| g.version < group.version) {
        *kept = Some(group);
    }
}

/// What a record changes in its conversation; records of anything else
/// (users, rows, connections, claims) change nothing here.
enum Part<'a> {
    /// A message sent, edited or deleted (its tombstone).
    Message(&'a Message),
    /// A named group made or changed: its members' rows follow. (A
    /// one-to-one conversation's rows are made with it.)
    Group(&'a Group),
    /// A member's read marker moved.
    Mark(&'a ReadMarker),
    /// A message item removed by a user (the API leaves tombstones instead;
    /// this is a delete by hand, as with the AWS CLI).
    Removed(MessageRef),
}

impl<'a> Part<'a> {
    /// The conversation `event` belongs to and what it changes there.
    fn of(event: &'a ChangeEvent) -> Option<(GroupId, Self)> {
        match (event.kind, &event.new_image, &event.key) {
            (ChangeKind::Insert | ChangeKind::Modify, Some(image), _) => match image {
                Record::Message(m) => Some((m.group, Self::Message(m))),
                Record::Group(g) if g.owner().is_some() => Some((g.id, Self::Group(g))),
                Record::ReadMarker(m) => Some((m.group, Self::Mark(m))),
                _ => None,
            },
            (
                ChangeKind::Remove,
                _,
                &ItemKey::Message {
                    group,
                    at,
                    id: Some(id),
                },
            ) => Some((group, Self::Removed(MessageRef { at, id }))),
            _ => None,
        }
    }
}

/// A batch split by conversation, before anything is applied.
pub(crate) struct Planned {
    /// Each conversation's share.
    pub(crate) work: HashMap<GroupId, Work>,
    /// The batch's counts so far: records, messages, expired.
    pub(crate) outcome: BatchOutcome,
}

/// The stream handler; cheap to clone.
#[derive(Clone)]
pub struct Handler {
    repo: Arc<dyn Repository>,
    retry: RetryPolicy,
    concurrency: usize,
    observer: Option<Observer>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("repo", &self.repo)
            .field("retry", &self.retry)
            .field("concurrency", &self.concurrency)
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

/// Orders sequence numbers: decimal strings of any length.
pub(crate) fn sequence_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Handler {
    /// A handler writing through `repo`.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        Self {
            repo,
            retry: RetryPolicy::default(),
            concurrency: DEFAULT_CONCURRENCY,
            observer: None,
            notifier: None,
        }
    }

    /// The repository it writes through.
    pub fn repo(&self) -> &Arc<dyn Repository> {
        &self.repo
    }

    /// The same handler, telling each conversation's members what it applied
    /// (live delivery), once their rows are current.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// The same handler, calling `observer` after every batch.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same handler, applying up to `n` conversations at once
    /// ([`DEFAULT_CONCURRENCY`] unless set; at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The same handler with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Handles one batch of change records, in stream order.
    pub async fn handle(&self, events: &[ChangeEvent]) -> BatchOutcome {
        let Planned { work, mut outcome } = self.plan(events);
        let results: Vec<(Result<Applied, StoreError>, String)> = stream::iter(work)
            .map(|(group, work)| async move {
                let first = work.first.clone();
                (self.apply_work(group, work).await, first)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (result, first) in results {
            outcome.count(&result, &first);
        }
        if let Some(observer) = &self.observer {
            observer(events, &outcome);
        }
        outcome
    }

    /// Conversations applied at once.
    pub(crate) fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Applies one conversation's share and tells its members, then the
    /// observer (in the pipeline, where there is no batch to wait for).
    pub(crate) async fn apply_observed(
        &self,
        group: GroupId,
        work: Work,
    ) -> Result<Applied, StoreError> {
        let Some(observer) = self.observer.clone() else {
            return self.apply_work(group, work).await;
        };
        let events = work.events.clone();
        let first = work.first.clone();
        let result = self.apply_work(group, work).await;
        let mut outcome = BatchOutcome {
            records: events.len(),
            ..BatchOutcome::default()
        };
        outcome.count(&result, &first);
        observer(&events, &outcome);
        result
    }

    /// Applies one conversation's share, then tells its members.
    async fn apply_work(&self, group: GroupId, work: Work) -> Result<Applied, StoreError> {
        let written = self.apply(group, &work.changes).await?;
        if let Some(notifier) = &self.notifier {
            notifier
                .notify(&Update::new(&written, work.changes, work.inserted))
                .await;
        }
        Ok(written.applied)
    }

    /// Splits a batch by conversation.
    pub(crate) fn plan(&self, events: &[ChangeEvent]) -> Planned {
        let observed = self.observer.is_some();
        let mut outcome = BatchOutcome {
            records: events.len(),
            ..BatchOutcome::default()
        };
        // Each conversation's messages and read markers, the first record of
        // it, and its new messages for the notifier.
        let mut work: HashMap<GroupId, Work> = HashMap::new();
        for event in events {
            if event.expired {
                outcome.expired += 1;
                continue;
            }
            let Some((group, part)) = Part::of(event) else {
                continue;
            };
            let entry = work
                .entry(group)
                .or_insert_with(|| Work::new(&event.sequence));
            match part {
                Part::Message(message) => {
                    outcome.messages += 1;
                    if event.kind == ChangeKind::Insert {
                        entry.inserted.push(message.clone());
                    }
                    entry.changes.messages.push(message.clone());
                }
                Part::Group(group) => keep_newer(&mut entry.changes.group, group.clone()),
                Part::Mark(marker) => entry.changes.marks.push(*marker),
                Part::Removed(message) => {
                    outcome.messages += 1;
                    entry.changes.removed.push(message);
                }
            }
            if observed {
                entry.events.push(event.clone());
            }
        }
        Planned { work, outcome }
    }

    /// Applies one conversation's changes, retrying what may succeed later.
    async fn apply(&self, group: GroupId, changes: &Changes) -> Result<Written, StoreError> {
        use dm_store::retry::Retryable;
        let messages = changes.messages.len();
        let result = (|| self.repo.apply_changes(group, changes))
            .retry(self.retry.backoff())
            .when(|e| !never_applies(e))
            .notify(|e, delay| {
                tracing::info!(%group, error = %e, ?delay, "row update failed; retrying");
            })
            .await;
        match &result {
            Err(e) if never_applies(e) => {
                tracing::warn!(%group, messages, error = %e, "skipping changes that cannot be applied");
            }
            Err(e) => {
                tracing::error!(%group, messages, error = %e, "row update failed; giving up on this batch");
            }
            Ok(_) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert_eq!(sequence_order("9", "10"), Ordering::Less);
        assert_eq!(sequence_order("100", "99"), Ordering::Greater);
        assert_eq!(sequence_order("42", "42"), Ordering::Equal);
    }

    #[test]
    fn attempts_count_the_first_one() {
        use dm_store::retry::BackoffBuilder as _;
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        assert_eq!(
            p.backoff().build().count(),
            4,
            "four retries after the first attempt"
        );
    }
}
