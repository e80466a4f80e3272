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
