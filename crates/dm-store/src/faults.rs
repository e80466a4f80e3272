//! Failures put in place of DynamoDB's answers, for tests: what only real
//! DynamoDB does by itself (throttling, conflicting transactions, a response
//! lost on its way back), produced against DynamoDB Local.
//!
//! The wire client ([`crate::wire`]) consults a [`FaultInjector`] before
//! every attempt when a test gave it one (`DynamoRepository::with_faults`,
//! feature `test-support`); production code never does.

// Without `test-support` only the wire client's side of this is reachable.
#![cfg_attr(not(feature = "test-support"), allow(dead_code, unreachable_pub))]

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
};

/// A failure [`FaultInjector`] puts in place of a real response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// HTTP 500 `InternalServerError` after the call took effect: the
    /// response was lost on its way back.
    LostResponse,
    /// HTTP 400 `ProvisionedThroughputExceededException`, which DynamoDB Local
    /// never sends by itself; the call has no effect.
    Throttled,
    /// HTTP 400 `TransactionCanceledException` with a `TransactionConflict`
    /// reason, as when another transaction touched the same item; the call
    /// has no effect.
    TransactionConflict,
}

impl Injected {
    /// Whether the call still reaches DynamoDB (Local) and takes effect.
    pub(crate) fn takes_effect(self) -> bool {
        self == Self::LostResponse
    }

    /// The HTTP status, error code and cancellation reasons DynamoDB would send.
    pub(crate) fn response(self) -> (u16, &'static str, Vec<String>) {
        match self {
            Self::LostResponse => (500, "InternalServerError", Vec::new()),
            Self::Throttled => (400, "ProvisionedThroughputExceededException", Vec::new()),
            Self::TransactionConflict => (
                400,
                "TransactionCanceledException",
                vec!["TransactionConflict".into(), "None".into()],
            ),
        }
    }
}

#[derive(Debug, Default)]
struct Plan {
    calls: u64,
    faults: BTreeMap<u64, Injected>,
}

/// Replaces chosen attempts' responses with failures. Every attempt of every
/// data call counts one, from 1; clones share the plan.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    plan: Arc<Mutex<Plan>>,
}

impl FaultInjector {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Attempts made so far.
    pub fn calls(&self) -> u64 {
        self.plan().calls
    }

    /// Drops every injected fault that has not fired.
    pub fn clear(&self) {
        self.plan().faults.clear();
    }

    /// Makes attempt number `call` fail with `fault`.
    pub fn inject(&self, call: u64, fault: Injected) {
        self.plan().faults.insert(call, fault);
    }

    /// Counts an attempt; the fault planned for it, if any.
    pub(crate) fn next_attempt(&self) -> Option<Injected> {
        let mut plan = self.plan();
        plan.calls += 1;
        let call = plan.calls;
        plan.faults.remove(&call)
    }
}
