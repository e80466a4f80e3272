//! The poller's pipeline: each conversation's share of a batch is applied as
//! soon as it is read, while the next batches are read, instead of every
//! conversation of a batch waiting for the slowest one before the next batch
//! is read.
//!
//! - **One application per conversation at a time.** What is read for a
//!   conversation while its rows are being updated waits, merged into one
//!   share (the row update applies changes in any order, repeats included),
//!   and goes when the running one is done. So a conversation's changes and
//!   frames still go in stream order, and two shares never race for its rows.
//! - **At most [`Handler`]'s concurrency applications at once**, and at most
//!   [`AHEAD`] times that many shares waiting before reading pauses.
//! - **The checkpoint moves over settled batches only.** Each batch read is a
//!   mark, open until every conversation share of it is applied; the
//!   checkpoint goes to the last record of the oldest marks that are settled,
//!   in the order read, and a shard is finished when its last mark is. A
//!   restart therefore repeats only batches not wholly applied, as before.
//! - **A failure stops the pipeline.** A share whose retries ran out keeps
//!   its marks open: nothing more starts, what runs finishes, and the poller
//!   reads again from the checkpoint (see [`Pipeline::failed`]). Shares that
//!   had been applied after it are applied again, which changes nothing.
//!
//! Lambda has no such pipeline: it hands a shard's batches to the handler one
//! at a time ([`Handler::handle`]).

use std::collections::{HashMap, VecDeque};

use dm_domain::GroupId;
use dm_store::{Applied, StoreError};
use tokio::task::{JoinError, JoinSet};

use super::Checkpoint;
use crate::{
    Handler,
    handler::{Work, never_applies},
};

/// Shares waiting, as a multiple of the concurrency, past which reading waits.
pub(super) const AHEAD: usize = 4;

/// What an application reports: its conversation, the marks it covers, and
/// how it went.
type Done = (GroupId, Vec<u64>, Result<Applied, StoreError>);

/// A batch read, open until every conversation share of it is applied.
#[derive(Debug)]
struct Mark {
    shard: String,
    /// Its last record's sequence number (none for a shard's end).
    last: Option<String>,
    /// Whether the shard ends here.
    finishes: bool,
    /// Conversation shares of it not yet applied.
    open: usize,
}

/// A conversation's share waiting to be applied, and the marks it covers.
struct Queued {
    work: Work,
    marks: Vec<u64>,
}

/// A conversation the pipeline has work of.
struct Slot {
    running: bool,
    queued: Option<Queued>,
}

/// The shares read and not yet applied.
#[derive(Default)]
pub(super) struct Pipeline {
    running: JoinSet<Done>,
    slots: HashMap<GroupId, Slot>,
    /// Conversations with a share queued and none running, in arrival order.
    ready: VecDeque<GroupId>,
    /// Batches read and not yet in the checkpoint, in the order read.
    marks: VecDeque<Mark>,
    /// The id of `marks`' front.
    front: u64,
    failed: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("running", &self.running.len())
            .field("waiting", &self.ready.len())
            .field("marks", &self.marks.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Pipeline {
    /// Takes a batch of `shard` ending at `last`, split by conversation, and
    /// starts what it can.
    pub(super) fn submit(
        &mut self,
        handler: &Handler,
        shard: &str,
        last: Option<String>,
        work: HashMap<GroupId, Work>,
    ) {
        let id = self.front + self.marks.len() as u64;
        self.marks.push_back(Mark {
            shard: shard.to_owned(),
            last,
            finishes: false,
            open: work.len(),
        });
        for (group, work) in work {
            let slot = self.slots.entry(group).or_insert(Slot {
                running: false,
                queued: None,
            });
            match &mut slot.queued {
                Some(queued) => {
                    queued.work.merge(work);
                    queued.marks.push(id);
                }
                None => {
                    slot.queued = Some(Queued {
                        work,
                        marks: vec![id],
                    });
                    if !slot.running {
                        self.ready.push_back(group);
                    }
                }
            }
        }
        self.start(handler);
    }

    /// Notes that `shard` has no more records: finished once all read before is applied.
    pub(super) fn finish(&mut self, shard: &str) {
        self.marks.push_back(Mark {
            shard: shard.to_owned(),
            last: None,
            finishes: true,
            open: 0,
        });
    }

    fn start(&mut self, handler: &Handler) {
        while !self.failed && self.running.len() < handler.concurrency() {
            let Some(group) = self.ready.pop_front() else {
                return;
            };
            let Some(slot) = self.slots.get_mut(&group) else {
                continue;
            };
            let Some(Queued { work, marks }) = slot.queued.take() else {
                continue;
            };
            slot.running = true;
            let handler = handler.clone();
            self.running.spawn(async move {
                let result = handler.apply_observed(group, work).await;
                (group, marks, result)
            });
        }
    }

    /// Shares running or waiting.
    pub(super) fn pending(&self) -> usize {
        self.running.len() + self.ready.len()
    }

    /// Whether an application is running.
    pub(super) fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// Whether a share failed: nothing more starts until [`Pipeline::reset`].
    pub(super) fn failed(&self) -> bool {
        self.failed
    }

    /// Takes in every application that has finished, without waiting.
    pub(super) fn collect(&mut self, handler: &Handler) {
        while let Some(done) = self.running.try_join_next() {
            self.complete(handler, done);
        }
    }

    /// Waits for the next application to finish and takes it in; at once
    /// when none is running.
    pub(super) async fn next(&mut self, handler: &Handler) {
        if let Some(done) = self.running.join_next().await {
            self.complete(handler, done);
        }
    }

    /// Waits until nothing runs or waits (or, after a failure, runs).
    pub(super) async fn drain(&mut self, handler: &Handler) {
        while self.pending() > 0 && !(self.failed && self.running.is_empty()) {
            self.next(handler).await;
        }
    }

    fn complete(&mut self, handler: &Handler, done: Result<Done, JoinError>) {
        let (group, marks, result) = match done {
            Ok(done) => done,
            Err(e) => {
                // A panic in the row update: its conversation is unknown, so
                // the pipeline stops and reads again from the checkpoint.
                tracing::error!(error = %e, "a row update panicked; reading again from the checkpoint");
                self.failed = true;
                return;
            }
        };
        match &result {
            Err(e) if !never_applies(e) => self.failed = true,
            _ => {
                for id in marks {
                    if let Some(mark) = id
                        .checked_sub(self.front)
                        .and_then(|i| self.marks.get_mut(i as usize))
                    {
                        mark.open -= 1;
                    }
                }
            }
        }
        if let Some(slot) = self.slots.get_mut(&group) {
            slot.running = false;
            if slot.queued.is_some() {
                self.ready.push_back(group);
            } else {
                self.slots.remove(&group);
            }
        }
        self.start(handler);
    }

    /// Moves `checkpoint` over the oldest settled batches; whether it moved.
    pub(super) fn advance(&mut self, checkpoint: &mut Checkpoint) -> bool {
        let mut moved = false;
        while self.marks.front().is_some_and(|m| m.open == 0) {
            let Some(mark) = self.marks.pop_front() else {
                break;
            };
            self.front += 1;
            let entry = checkpoint.shards.entry(mark.shard).or_default();
            if let Some(last) = mark.last {
                entry.sequence = Some(last);
            }
            entry.finished |= mark.finishes;
            moved = true;
        }
        moved
    }

    /// Forgets everything read after the checkpoint, once nothing runs: the
    /// poller reads it again.
    pub(super) fn reset(&mut self) {
        debug_assert!(self.running.is_empty());
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashSet,
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, Ordering},
        },
        time::Duration,
    };

    use chrono::TimeDelta;
    use dm_domain::{MessageId, MessageText, Timestamp};
    use dm_store::{MemoryRepository, NewMessage, Repository};

    use super::*;
    use crate::live::{Notifier, Update};

    /// Records each update's new messages, and whether two updates of one
    /// conversation were ever told at once.
    #[derive(Debug, Default)]
    struct Watch {
        telling: Mutex<HashSet<GroupId>>,
        told: Mutex<Vec<(GroupId, Vec<MessageId>)>>,
        overlapped: AtomicBool,
    }

    #[async_trait::async_trait]
    impl Notifier for Watch {
        async fn notify(&self, update: &Update) {
            if !self.telling.lock().unwrap().insert(update.group) {
                self.overlapped.store(true, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
            let ids = update.messages.iter().map(|m| m.id).collect();
            self.told.lock().unwrap().push((update.group, ids));
            self.telling.lock().unwrap().remove(&update.group);
        }
    }

    #[tokio::test]
    async fn each_conversation_goes_in_order_one_share_at_a_time_and_the_checkpoint_waits() {
        let repo = MemoryRepository::new();
        let base: Timestamp = "2024-04-01T00:00:00.000000+00:00".parse().unwrap();
        let message = |n: i64| NewMessage {
            id: MessageId::new(),
            created_at: base.plus(TimeDelta::seconds(n)),
            text: MessageText::parse(&format!("m{n}")).unwrap(),
        };
        let mut groups = Vec::new();
        for i in 0..3 {
            let a = dm_store::testing::user(&repo, &format!("pa{i}")).await;
            let b = dm_store::testing::user(&repo, &format!("pb{i}")).await;
            let started = repo
                .start_conversation(&a.summary(), &b.summary(), message(0))
                .await
                .unwrap();
            groups.push((started.message.group, a));
        }
        let position = repo.changes_after(0, 10_000).unwrap().len() as u64;
        let mut sent: HashMap<GroupId, Vec<MessageId>> = HashMap::new();
        for n in 1..=30 {
            let (group, sender) = &groups[n as usize % 3];
            let m = repo
                .send_message(*group, &sender.summary(), message(n))
                .await
                .unwrap();
            sent.entry(*group).or_default().push(m.id);
        }
        let events = repo.changes_after(position, 10_000).unwrap();
        assert_eq!(events.len(), 30);

        let watch = Arc::new(Watch::default());
        let handler = Handler::new(Arc::new(repo.clone()))
            .with_notifier(watch.clone())
            .with_concurrency(2);
        let mut pipeline = Pipeline::default();
        let mut checkpoint = Checkpoint::default();
        let batches: Vec<&[dm_store::ChangeEvent]> = events.chunks(3).collect();
        for batch in &batches {
            let last = batch.last().map(|e| e.sequence.clone());
            pipeline.submit(&handler, "shard", last, handler.plan(batch).work);
        }
        pipeline.finish("shard");
        assert!(
            !pipeline.advance(&mut checkpoint),
            "nothing is applied yet, so nothing is checkpointed"
        );
        assert_eq!(pipeline.running.len(), 2, "two at once, as configured");

        pipeline.drain(&handler).await;
        assert!(!pipeline.failed());
        assert!(pipeline.advance(&mut checkpoint));
        let position = &checkpoint.shards["shard"];
        assert_eq!(position.sequence.as_deref(), Some(&*events[29].sequence));
        assert!(position.finished);

        assert!(
            !watch.overlapped.load(Ordering::SeqCst),
            "one share of a conversation at a time"
        );
        let told = watch.told.lock().unwrap();
        for (group, ids) in &sent {
            let shares: Vec<&Vec<MessageId>> = told
                .iter()
                .filter(|(g, _)| g == group)
                .map(|(_, ids)| ids)
                .collect();
            let in_order: Vec<MessageId> =
                shares.iter().flat_map(|ids| ids.iter().copied()).collect();
            assert_eq!(&in_order, ids, "every message once, in stream order");
            assert!(
                shares.len() < batches.len(),
                "what came while a share ran went as one: {} shares",
                shares.len()
            );
        }
    }
}
