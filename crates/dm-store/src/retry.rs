//! The retry budget, and the one backoff of the repository, the stream
//! handler, the poller and the memory feed (the `backon` crate's exponential
//! backoff with jitter).
//!
//! Each layer retries only what the layer below cannot:
//!
//! | layer | retries | at most |
//! |---|---|---|
//! | the SDK | throttling, 500/502/503/504, transient network errors; standard mode with its retry token bucket | [`SDK_ATTEMPTS`] requests per call |
//! | the repository | races only: a failed condition or a cancelled transaction in `apply_changes` and `start_conversation` (never throttling or outages, which the SDK retried) | [`RACE_ATTEMPTS`] attempts, each a group read and a transaction, plus the queries of a recount or a preview re-read where one is needed |
//! | the stream handler | any failure but a record that can never apply | `RetryPolicy::attempts` (3) applications of a conversation's changes |
//!
//! So one conversation's changes applied by the stream handler make at most
//! 3 × [`RACE_ATTEMPTS`] × 2 calls × [`SDK_ATTEMPTS`] = 144 DynamoDB requests in
//! the worst case (every attempt a lost race and every call retried), plus
//! the pages of any recount or preview re-read (which grow with the messages
//! and tombstones past a marker or the shown message), and a
//! throttled table costs 3 × [`SDK_ATTEMPTS`] = 9 before the record is handed
//! back to Lambda or the poller (`crates/dm-stream/tests/invariants.rs`
//! counts them). A send through the API is one call: at most [`SDK_ATTEMPTS`].

use std::time::Duration;

pub use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// Requests the SDK makes for one call at most: standard retry mode with
/// DynamoDB's default of 3 attempts (`aws_config`'s `RetryConfig::standard()`).
pub const SDK_ATTEMPTS: u32 = 3;

/// Attempts of the repository's race loops. Four appliers of overlapping
/// batches at once (the contract suite, on a loaded machine) lost 4 races in a
/// row; after the first loss each attempt waits a jittered backoff.
pub const RACE_ATTEMPTS: u32 = 8;

/// Exponential backoff with jitter: `first`, doubling up to `max`, `retries` times.
pub fn backoff(first: Duration, max: Duration, retries: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(max)
        .with_max_times(retries)
        .with_jitter()
}

/// The backoff of a loop that runs until it is stopped (the stream poller,
/// the memory feed): each failure in a row waits longer ([`backoff`]'s
/// jittered doubling from `first` up to `max`), and a success starts again
/// from `first`.
#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    delays: Option<backon::ExponentialBackoff>,
}

impl Backoff {
    /// A backoff from `first` doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            delays: None,
        }
    }

    /// Another failure in a row: how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        let (first, max) = (self.first, self.max);
        self.delays
            .get_or_insert_with(|| backoff(first, max, usize::MAX).build())
            .next()
            .unwrap_or(max)
    }

    /// A success: the next failure waits `first` again.
    pub fn succeeded(&mut self) {
        self.delays = None;
    }
}

/// The backoff between the repository's race attempts (starting a
/// conversation, moving rows): 20 ms doubling to 500 ms, jittered.
pub(crate) fn race_backoff() -> impl Iterator<Item = Duration> {
    backoff(
        Duration::from_millis(20),
        Duration::from_millis(500),
        RACE_ATTEMPTS as usize,
    )
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_and_stops() {
        let delays: Vec<Duration> =
            backoff(Duration::from_millis(10), Duration::from_millis(50), 4)
                .build()
                .collect();
        assert_eq!(delays.len(), 4);
        for (delay, base) in delays.iter().zip([10, 20, 40, 50]) {
            let base = Duration::from_millis(base);
            assert!(
                *delay >= base && *delay <= base * 2,
                "{delay:?} for {base:?}"
            );
        }
    }

    #[test]
    fn a_loops_backoff_grows_while_it_fails_and_starts_again_after_a_success() {
        let (first, max) = (Duration::from_millis(50), Duration::from_millis(400));
        let mut pause = Backoff::new(first, max);
        let waits: Vec<Duration> = (0..8).map(|_| pause.failed()).collect();
        assert!(
            waits.iter().all(|w| *w >= first && *w <= max * 2),
            "{waits:?}"
        );
        assert!(waits[7] >= max, "it reaches the maximum: {waits:?}");
        pause.succeeded();
        assert!(pause.failed() < first * 2, "a success starts it again");
    }
}
