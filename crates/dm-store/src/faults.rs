//! Failures put in place of DynamoDB's answers, for tests: what only real
//! DynamoDB does by itself (throttling, conflicting transactions, a response
//! lost on its way back), produced against DynamoDB Local.
//!
//! A [`FaultInjector`] is an SDK interceptor on the repository's client
//! when a test gave it one (`DynamoRepository::with_faults`, feature
//! `test-support`); production code never installs it. It counts every
//! attempt of every data call (GetItem, Query, PutItem, DeleteItem,
//! TransactWriteItems, BatchWriteItem; not table administration), and for an
//! attempt it was told to fail:
//!
//! - a failure that has no effect (throttling, a transaction conflict) turns
//!   the request, before it is signed, into a harmless ListTables, so DynamoDB
//!   Local changes nothing;
//! - a lost response lets the request take effect;
//!
//! and then puts the failure's response in place of DynamoDB's, before the
//! SDK reads it. So the SDK's own retries, error parsing and error types see
//! exactly what real DynamoDB would send.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{
            Intercept,
            context::{
                BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
            },
        },
        orchestrator::{HttpResponse, Metadata},
        runtime_components::RuntimeComponents,
    },
    http::StatusCode,
};
use aws_smithy_types::{
    body::SdkBody,
    config_bag::{ConfigBag, Storable, StoreReplace},
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
    fn takes_effect(self) -> bool {
        self == Self::LostResponse
    }

    /// The response DynamoDB would send: status and awsJson 1.0 error body.
    fn response(self) -> HttpResponse {
        let (status, code, reasons): (u16, &str, &[&str]) = match self {
            Self::LostResponse => (500, "InternalServerError", &[]),
            Self::Throttled => (400, "ProvisionedThroughputExceededException", &[]),
            Self::TransactionConflict => (
                400,
                "TransactionCanceledException",
                &["TransactionConflict", "None"],
            ),
        };
        let mut body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
            "message": format!("{code} (injected by a test)"),
        });
        if !reasons.is_empty() {
            body["CancellationReasons"] = reasons
                .iter()
                .map(|r| serde_json::json!({ "Code": r }))
                .collect();
        }
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).unwrap_or_else(|_| unreachable!("a valid status")),
            SdkBody::from(body.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        response
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
    fn next_attempt(&self) -> Option<Injected> {
        let mut plan = self.plan();
        plan.calls += 1;
        let call = plan.calls;
        plan.faults.remove(&call)
    }

    /// The interceptor that applies this plan, for the client's configuration.
    pub(crate) fn interceptor(&self) -> FaultInterceptor {
        FaultInterceptor(self.clone())
    }
}

/// The data calls whose attempts a [`FaultInjector`] counts.
const DATA_CALLS: [&str; 6] = [
    "GetItem",
    "Query",
    "PutItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

/// The fault of the current attempt, kept in the attempt's configuration.
#[derive(Debug, Clone, Copy)]
struct AttemptFault(Option<Injected>);

impl Storable for AttemptFault {
    type Storer = StoreReplace<Self>;
}

/// A [`FaultInjector`] as an SDK interceptor (see the module docs).
#[derive(Debug)]
pub(crate) struct FaultInterceptor(FaultInjector);

impl Intercept for FaultInterceptor {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let data_call = cfg
            .load::<Metadata>()
            .is_some_and(|m| DATA_CALLS.contains(&m.name()));
        let fault = if data_call {
            self.0.next_attempt()
        } else {
            None
        };
        if fault.is_some_and(|f| !f.takes_effect()) {
            let request = context.request_mut();
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.ListTables");
            request
                .headers_mut()
                .insert("content-length", fault_body().len().to_string());
            *request.body_mut() = SdkBody::from(fault_body());
        }
        cfg.interceptor_state().store_put(AttemptFault(fault));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(AttemptFault(Some(fault))) = cfg.load::<AttemptFault>() {
            *context.response_mut() = fault.response();
        }
        Ok(())
    }
}

/// The body of the harmless request a failing attempt sends instead.
fn fault_body() -> &'static str {
    "{}"
}
