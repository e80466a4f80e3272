//! Helpers for tests that need a real DynamoDB (feature `test-support`).
//!
//! [`fresh_table`] gives each test its own table on the test binary's shared
//! DynamoDB Local (see [`dm_local::shared`]), so tests run in parallel without
//! seeing each other's items. It never skips: without Java or npm it fails
//! with the fix in its message.
//!
//! [`Backend`] and [`on_both_backends!`](crate::on_both_backends) are the one
//! switch between the memory repository and DynamoDB Local: every suite that
//! runs on both names its cases once, and gets one test per case and backend
//! (`memory::case` and `dynamodb::case`), so a failure names both.

use std::{sync::Arc, time::Duration};

use aws_smithy_types::retry::RetryConfig;

pub use crate::faults::{FaultInjector, Injected};
use crate::{
    DynamoRepository, MemoryRepository, Repository,
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

/// Which repository a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The memory repository.
    Memory,
    /// A fresh table on the test binary's shared DynamoDB Local.
    DynamoDbLocal,
}

impl Backend {
    /// A fresh, empty repository of this kind.
    pub async fn repo(self) -> Arc<dyn Repository> {
        match self {
            Self::Memory => Arc::new(MemoryRepository::new()),
            Self::DynamoDbLocal => Arc::new(fresh_table().await),
        }
    }

    /// This backend, as [`on_both_backends!`](crate::on_both_backends)
    /// hands it to a case that takes a `Backend`.
    pub async fn ready(self) -> Self {
        self
    }
}

/// A new user of `handle`, shown by the same name, without a Cognito
/// subject: who a test sends, reads and joins groups as.
///
/// # Panics
///
/// When `handle` is not a valid handle, or the repository refuses the user
/// (a handle taken already).
pub async fn user<R: Repository + ?Sized>(repo: &R, handle: &str) -> dm_domain::User {
    repo.create_user(dm_domain::NewUser {
        uuid: dm_domain::UserId::new(),
        handle: dm_domain::Handle::parse(handle).expect("a valid handle"),
        display_name: dm_domain::DisplayName::parse(handle).expect("a valid display name"),
        cognito_user_id: None,
    })
    .await
    .expect("a new user")
}

/// One test per case and backend: `mod memory` and `mod dynamodb`, each
/// with a `#[tokio::test]` per case that calls `super::case(...)`.
///
/// `on_both_backends!(a, b)` hands each case a [`Backend`];
/// `on_both_backends!(setup = Store::new; a, b)` hands it
/// `Store::new(backend).await`, for suites that keep more per backend (a
/// concrete repository, a fault injector).
#[macro_export]
macro_rules! on_both_backends {
    (setup = $setup:path; $($case:ident),* $(,)?) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($setup($crate::testing::Backend::Memory).await).await;
                }
            )*
        }
        mod dynamodb {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($setup($crate::testing::Backend::DynamoDbLocal).await).await;
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        $crate::on_both_backends!(setup = $crate::testing::Backend::ready; $($case),*);
    };
}
