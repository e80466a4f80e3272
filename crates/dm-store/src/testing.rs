//! Helpers for tests that need a real DynamoDB (feature `test-support`).
//!
//! [`fresh_table`] gives each test its own table on the test binary's shared
//! DynamoDB Local (see [`dm_local::shared`]), so tests run in parallel without
//! seeing each other's items. It never skips: without Java or npm it fails
//! with the fix in its message.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;

pub use crate::faults::{FaultInjector, Injected};
use crate::{
    DynamoRepository,
    client::sdk_config,
    schema::{TableSpec, create_table},
};

/// A new, empty table of the design on the shared DynamoDB Local.
///
/// # Panics
///
/// When DynamoDB Local cannot be started or the table cannot be created.
pub async fn fresh_table() -> DynamoRepository {
    fresh_table_configured(None, None).await
}

async fn fresh_table_configured(
    retry: Option<RetryConfig>,
    faults: Option<&FaultInjector>,
) -> DynamoRepository {
    let endpoint = tokio::task::spawn_blocking(dm_local::shared)
        .await
        .unwrap_or_else(|e| panic!("starting DynamoDB Local: {e}"));
    let mut config = sdk_config(Some(endpoint)).await;
    if let Some(retry) = retry {
        config = config.to_builder().retry_config(retry).build();
    }
    let name = format!("test-{}", uuid::Uuid::new_v4());
    let repo = match faults {
        Some(faults) => DynamoRepository::with_faults(&config, &name, faults.clone()),
        None => DynamoRepository::new(&config, &name),
    }
    .unwrap_or_else(|e| panic!("configuring a repository on {endpoint}: {e}"));
    create_table(repo.client(), &TableSpec::new(&name))
        .await
        .unwrap_or_else(|e| panic!("creating table {name} on {endpoint}: {e}"));
    repo
}

/// A fresh table like [`fresh_table`], reached through a client that sends
/// every data call through `injector` and does not retry, so that every
/// injected failure reaches the code under test.
pub async fn fresh_table_with(injector: &FaultInjector) -> DynamoRepository {
    fresh_table_configured(Some(RetryConfig::disabled()), Some(injector)).await
}

/// A fresh table reached through a client that sends every data call through
/// `injector` and retries as the SDK's standard mode does (3 attempts, with
/// backoff shortened to milliseconds for tests).
pub async fn fresh_table_with_sdk_retries(injector: &FaultInjector) -> DynamoRepository {
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5));
    fresh_table_configured(Some(retry), Some(injector)).await
}
