//! The poller's command line, shared by `dm-stream-poll` and `cargo xtask stream`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Args;
use dm_store::DynamoRepository;

use crate::{
    Handler,
    poller::{Poller, PollerConfig},
};

/// Which DynamoDB and which table: the one argument group of every command
/// that works on the table (`cargo xtask ...`, the poller), flattened into each.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// DynamoDB (and DynamoDB Streams) endpoint; DynamoDB Local at http://127.0.0.1:8000 when neither this nor --prod is given.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", conflicts_with = "prod")]
    pub endpoint_url: Option<String>,
    /// Use real DynamoDB through the AWS default credential and region chain (no endpoint override).
    #[arg(long)]
    pub prod: bool,
    /// The table.
    #[arg(long, env = "DM_TABLE", default_value = dm_store::schema::DEFAULT_TABLE)]
    pub table: String,
}

/// Where DynamoDB Local listens when nothing else is said.
pub const LOCAL_ENDPOINT: &str = "http://127.0.0.1:8000";

impl Target {
    /// DynamoDB Local at `endpoint`, table `table`.
    pub fn local(endpoint: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            endpoint_url: Some(endpoint.into()),
            prod: false,
            table: table.into(),
        }
    }

    /// The endpoint to use; `None` for production.
    pub fn endpoint(&self) -> Option<String> {
        if self.prod {
            None
        } else {
            Some(
                self.endpoint_url
                    .clone()
                    .unwrap_or_else(|| LOCAL_ENDPOINT.to_owned()),
            )
        }
    }

    /// Where this target is, for messages.
    pub fn describe(&self) -> String {
        match self.endpoint() {
            Some(url) => format!("table {} on {url}", self.table),
            None => format!("table {} on AWS DynamoDB", self.table),
        }
    }
}

/// Options of the local stream poller.
#[derive(Debug, Clone, Args)]
pub struct PollArgs {
    /// Which DynamoDB and table.
    #[command(flatten)]
    pub target: Target,
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
    /// Builds the poller these options describe.
    ///
    /// # Errors
    ///
    /// When the table's configuration or checkpoint is unusable.
    pub async fn poller(&self) -> Result<Poller, crate::poller::PollError> {
        let table = &self.target.table;
        let config = dm_store::dynamo::sdk_config(self.target.endpoint().as_deref()).await;
        let repo = DynamoRepository::new(&config, table)
            .map_err(|e| crate::poller::PollError::Stream(e.to_string()))?;
        let dynamo = repo.client().clone();
        let streams = aws_sdk_dynamodbstreams::Client::new(&config);
        let handler = Handler::new(Arc::new(repo)).with_concurrency(self.concurrency);
        let checkpoint = self
            .checkpoint
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".local/stream-{table}.json")));
        Poller::new(
            dynamo,
            streams,
            handler,
            PollerConfig {
                table: table.clone(),
                checkpoint: Some(checkpoint),
                interval: Duration::from_millis(self.interval_ms),
            },
        )
    }
}
