//! The poller's command line, shared by `dm-stream-poll` and `cargo xtask stream`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Args;
use dm_store::DynamoRepository;

use crate::{
    Handler,
    poller::{Poller, PollerConfig},
};

/// Options of the local stream poller.
#[derive(Debug, Clone, Args)]
pub struct PollArgs {
    /// DynamoDB (and DynamoDB Streams) endpoint; DynamoDB Local at http://127.0.0.1:8000 unless --prod.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", conflicts_with = "prod")]
    pub endpoint_url: Option<String>,
    /// Use real DynamoDB through the AWS default chain.
    #[arg(long)]
    pub prod: bool,
    /// The table whose stream is read.
    #[arg(long, env = "DM_TABLE", default_value = dm_store::schema::DEFAULT_TABLE)]
    pub table: String,
    /// The checkpoint file; `.local/stream-<table>.json` by default.
    #[arg(long, env = "DM_STREAM_CHECKPOINT")]
    pub checkpoint: Option<PathBuf>,
    /// Conversations applied at once within a batch.
    #[arg(long, env = "DM_STREAM_CONCURRENCY", default_value_t = crate::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Milliseconds between passes that found nothing.
    #[arg(long, env = "DM_STREAM_INTERVAL_MS", default_value_t = 100)]
    pub interval_ms: u64,
}

impl PollArgs {
    /// The endpoint; `None` for production.
    pub fn endpoint(&self) -> Option<String> {
        if self.prod {
            None
        } else {
            Some(
                self.endpoint_url
                    .clone()
                    .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned()),
            )
        }
    }

    /// Builds the poller these options describe.
    pub async fn poller(&self) -> anyhow::Result<Poller> {
        let config = dm_store::dynamo::sdk_config(self.endpoint().as_deref()).await;
        let repo = DynamoRepository::new(&config, &self.table)?;
        let dynamo = repo.client().clone();
        let streams = aws_sdk_dynamodbstreams::Client::new(&config);
        let handler = Handler::new(Arc::new(repo)).with_concurrency(self.concurrency);
        let checkpoint = self
            .checkpoint
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".local/stream-{}.json", self.table)));
        Poller::new(
            dynamo,
            streams,
            handler,
            PollerConfig {
                table: self.table.clone(),
                checkpoint: Some(checkpoint),
                interval: Duration::from_millis(self.interval_ms),
            },
        )
    }
}
