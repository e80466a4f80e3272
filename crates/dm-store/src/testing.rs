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
    /// never sends by itself (the call still took effect on DynamoDB Local).
    Throttled,
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

    fn modify_before_deserialization(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let fault = {
            let mut plan = self.plan();
            plan.calls += 1;
            let call = plan.calls;
            plan.faults.remove(&call)
        };
        let Some(fault) = fault else { return Ok(()) };
        let (status, kind) = match fault {
            Injected::LostResponse => (500, "InternalServerError"),
            Injected::Throttled => (400, "ProvisionedThroughputExceededException"),
        };
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by a test"}}"#
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
