//! The stream handler over the memory repository's change feed, so that a
//! memory-backed process behaves like DynamoDB plus its stream.

use std::{future::Future, time::Duration};

use dm_store::MemoryRepository;

use crate::{BatchOutcome, Handler};

/// Records read per batch, as a Lambda event source mapping's batch size.
pub const BATCH_SIZE: usize = 100;

/// A reader of the memory feed that hands batches to a [`Handler`].
#[derive(Debug)]
pub struct MemoryFeed {
    repo: MemoryRepository,
    handler: Handler,
    /// The sequence number of the last record handled.
    position: u64,
    failures: u32,
}

impl MemoryFeed {
    /// A reader from the start of the feed.
    pub fn new(repo: MemoryRepository, handler: Handler) -> Self {
        Self {
            repo,
            handler,
            position: 0,
            failures: 0,
        }
    }

    /// The sequence number of the last record handled.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Handles the next batch, if there is one; after a failed batch the
    /// position stays before the first failed record, so it is retried.
    pub async fn step(&mut self) -> Option<BatchOutcome> {
        let events = match self.repo.changes_after(self.position, BATCH_SIZE) {
            Ok(events) => events,
            Err(trimmed) => {
                tracing::error!(%trimmed, "the change feed was trimmed past this reader; records were lost to it");
                self.position = trimmed.oldest - 1;
                return None;
            }
        };
        let last = events.last()?.sequence.parse::<u64>().ok()?;
        let outcome = self.handler.handle(&events).await;
        match outcome
            .failed_at
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(failed) => {
                self.position = failed - 1;
                self.failures += 1;
            }
            None => {
                self.position = last;
                self.failures = 0;
            }
        }
        Some(outcome)
    }

    /// Handles everything in the feed now, retrying failed batches up to
    /// `max_failures` times in a row; returns whether it caught up.
    pub async fn catch_up(&mut self, max_failures: u32) -> bool {
        while self.step().await.is_some() {
            if self.failures > max_failures {
                return false;
            }
        }
        true
    }

    /// Follows the feed until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff =
            dm_store::retry::Backoff::new(Duration::from_millis(50), Duration::from_millis(3200));
        loop {
            match self.step().await {
                Some(outcome) if outcome.failed_at.is_some() => {
                    let pause = backoff.failed();
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Some(_) => backoff.succeeded(),
                None => {
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = self.repo.wait_for_changes(self.position) => {}
                    }
                }
            }
        }
    }
}

/// Spawns a task that follows the memory repository's feed until `shutdown`.
pub fn spawn(
    repo: MemoryRepository,
    handler: Handler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(MemoryFeed::new(repo, handler).run(shutdown))
}
