//! The stream poller's command line, shared by `dm-stream-poll` and `cargo xtask stream`.

use std::{path::PathBuf, time::Duration};

use clap::Args;
use dm_stream::poller::{PollError, Poller, PollerConfig};

use crate::target::Target;

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
    #[arg(long, env = "DM_STREAM_CONCURRENCY", default_value_t = dm_stream::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Deliver what is applied live through API Gateway's management API at
    /// this URL: `dm-api`'s address locally (`cargo xtask up` sets it).
    #[arg(long, env = "DM_LIVE_ENDPOINT")]
    pub live_endpoint: Option<String>,
    /// Milliseconds between passes that found less than a full batch.
    #[arg(long, env = "DM_STREAM_INTERVAL_MS", default_value_t = 100)]
    pub interval_ms: u64,
}

impl PollArgs {
    /// Builds the poller these options describe.
    ///
    /// # Errors
    ///
    /// When the table's configuration or checkpoint is unusable.
    pub async fn poller(&self) -> Result<Poller, PollError> {
        let table = &self.target.table;
        let sdk = dm_store::client::sdk_config(self.target.endpoint().as_deref()).await;
        let checkpoint = self
            .checkpoint
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".local/stream-{table}.json")));
        let poller = Poller::connect(
            &sdk,
            self.concurrency,
            PollerConfig {
                table: table.clone(),
                checkpoint: Some(checkpoint),
                interval: Duration::from_millis(self.interval_ms),
            },
        )?;
        Ok(match &self.live_endpoint {
            Some(endpoint) => poller.with_live_delivery(&sdk, endpoint),
            None => poller,
        })
    }
}
