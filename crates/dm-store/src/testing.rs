//! Helpers for tests that need a real DynamoDB (feature `test-support`).
//!
//! [`fresh_table`] gives each test its own table on the test binary's shared
//! DynamoDB Local (see [`dm_local::shared`]), so tests run in parallel without
//! seeing each other's items. It never skips: without Java or npm it fails
//! with the fix in its message.

use crate::{
    DynamoRepository,
    dynamo::connect,
    schema::{TableSpec, create_table},
};

/// A new, empty table of the design on the shared DynamoDB Local.
///
/// # Panics
///
/// When DynamoDB Local cannot be started or the table cannot be created.
pub async fn fresh_table() -> DynamoRepository {
    let endpoint = tokio::task::spawn_blocking(dm_local::shared)
        .await
        .unwrap_or_else(|e| panic!("starting DynamoDB Local: {e}"));
    let client = connect(Some(endpoint)).await;
    let name = format!("test-{}", uuid::Uuid::new_v4());
    create_table(&client, &TableSpec::new(&name))
        .await
        .unwrap_or_else(|e| panic!("creating table {name} on {endpoint}: {e}"));
    DynamoRepository::new(client, name)
}

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
}

/// The fault chosen for one attempt, kept in its config bag between the hooks.
#[derive(Debug, Clone, Copy)]
struct AttemptFault(Injected);

impl aws_smithy_types::config_bag::Storable for AttemptFault {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

#[derive(Debug, Default)]
struct Plan {
    calls: u64,
    faults: std::collections::BTreeMap<u64, Injected>,
}

/// An SDK interceptor that replaces chosen responses with failures, so tests
/// can produce, against DynamoDB Local, what only real DynamoDB does by itself.
/// Every attempt of every call counts one, from 1.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    plan: std::sync::Arc<std::sync::Mutex<Plan>>,
}

impl FaultInjector {
    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
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
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let fault = {
            let mut plan = self.plan();
            plan.calls += 1;
            let call = plan.calls;
            plan.faults.remove(&call)
        };
        let Some(fault) = fault else { return Ok(()) };
        if !fault.takes_effect() {
            // Send something harmless instead, so the call has no effect.
            let request = context.request_mut();
            *request.body_mut() = aws_smithy_types::body::SdkBody::from("{}");
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.ListTables");
            request.headers_mut().insert("content-length", "2");
        }
        cfg.interceptor_state().store_put(AttemptFault(fault));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Some(AttemptFault(fault)) = cfg.load::<AttemptFault>().copied() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<AttemptFault>();
        let (status, kind, extra) = match fault {
            Injected::LostResponse => (500, "InternalServerError", ""),
            Injected::Throttled => (400, "ProvisionedThroughputExceededException", ""),
            Injected::TransactionConflict => (
                400,
                "TransactionCanceledException",
                r#","CancellationReasons":[{"Code":"TransactionConflict"},{"Code":"None"}]"#,
            ),
        };
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by a test"{extra}}}"#
        );
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            status.try_into()?,
            aws_smithy_types::body::SdkBody::from(body),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}

/// A fresh table like [`fresh_table`], reached through a client that sends
/// every response through `injector` and does not retry, so that every
/// injected failure reaches the code under test.
pub async fn fresh_table_with(injector: &FaultInjector) -> DynamoRepository {
    let plain = fresh_table().await;
    let config = plain
        .client()
        .config()
        .to_builder()
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .interceptor(injector.clone())
        .build();
    DynamoRepository::new(aws_sdk_dynamodb::Client::from_conf(config), plain.table())
}

/// A fresh table reached through a client that sends every response through
/// `injector` and retries as the SDK's standard mode does (3 attempts, with
/// backoff shortened to milliseconds for tests).
pub async fn fresh_table_with_sdk_retries(injector: &FaultInjector) -> DynamoRepository {
    let plain = fresh_table().await;
    let retry = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(std::time::Duration::from_millis(5));
    let config = plain
        .client()
        .config()
        .to_builder()
        .retry_config(retry)
        .interceptor(injector.clone())
        .build();
    DynamoRepository::new(aws_sdk_dynamodb::Client::from_conf(config), plain.table())
}
