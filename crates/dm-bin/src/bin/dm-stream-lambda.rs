//! The stream handler as an AWS Lambda function (`provided.al2023`).
//!
//! Configure with `DM_TABLE` (the table name) and optionally
//! `DM_STREAM_CONCURRENCY` (conversations applied at once, 32 by default),
//! and `DM_WS_ENDPOINT` (the WebSocket API's callback URL) for live delivery.
//! The event source mapping must
//! enable `ReportBatchItemFailures`; see `docs/deploy.md`.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use dm_bin::telemetry::{self, Format};
use dm_store::DynamoRepository;
use dm_stream::{
    Handler,
    lambda::handle_event,
    live::{ConnectionNotifier, ManagementApi},
};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(Format::Lambda, "info");
    let table = std::env::var("DM_TABLE").map_err(|_| "DM_TABLE must name the table")?;
    let config = dm_store::client::sdk_config(None).await;
    let concurrency = match std::env::var("DM_STREAM_CONCURRENCY") {
        Ok(n) => n
            .parse()
            .map_err(|_| "DM_STREAM_CONCURRENCY must be a positive number")?,
        Err(_) => dm_stream::DEFAULT_CONCURRENCY,
    };
    let repo: Arc<dyn dm_store::Repository> = Arc::new(DynamoRepository::new(&config, table)?);
    let mut handler = Handler::new(repo.clone()).with_concurrency(concurrency);
    // Live delivery through the WebSocket API's management endpoint.
    if let Ok(endpoint) = std::env::var("DM_WS_ENDPOINT") {
        let post = Arc::new(ManagementApi::at(&config, &endpoint));
        handler = handler.with_notifier(Arc::new(ConnectionNotifier::new(repo, post)));
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let handler = handler.clone();
        async move { Ok::<_, lambda_runtime::Error>(handle_event(&handler, &event.payload).await) }
    }))
    .await
}
