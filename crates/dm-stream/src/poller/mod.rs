//! A local DynamoDB Streams poller: what Lambda's event source mapping does,
//! for DynamoDB Local and for running without Lambda.
//!
//! Each pass describes the table's stream, and reads every shard that is
//! ready (its parent is finished, or gone), parents before children, until a
//! read returns less than a full batch; the next pass comes after the
//! interval, or at once when a batch was full. The checkpoint holds the last
//! record of each shard whose batch, and every batch before it, is wholly
//! applied, and the shards finished; it is written at most every
//! 200 ms while work is pending. A restart resumes after the
//! checkpoint, so it neither loses records nor relies on anything but the
//! handler's idempotency (what was applied after the checkpoint is applied
//! again).
//!
//! Each batch's conversations are applied as they are read, while the next
//! batches are read (`pipeline.rs`): one application per conversation at a
//! time, the checkpoint moved only over batches wholly applied. When a
//! conversation's update fails for good, the poller lets what runs finish and
//! reads again from the checkpoint on the next pass.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    future::Future,
    path::PathBuf,
    time::Duration,
};

use aws_sdk_dynamodbstreams::{
    Client as StreamsClient,
    error::ProvideErrorMetadata,
    types::{Shard, ShardIteratorType},
};
use dm_store::sdk_error::map_sdk_error;

use crate::{Handler, decode, handler::sequence_order};

mod checkpoint;
mod pipeline;

pub use checkpoint::{Checkpoint, ShardPosition};

/// The pause after a failed pass, doubling (jittered) while passes keep
/// failing, up to [`MAX_PAUSE`]; never shorter than the polling interval.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause after failed passes.
const MAX_PAUSE: Duration = Duration::from_millis(3200);

/// Records read per GetRecords call (the API's maximum is 1000).
pub const BATCH_SIZE: i32 = 1000;

/// How the poller runs.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// The table whose stream is read.
    pub table: String,
    /// Where the checkpoint is kept; in memory only when `None`.
    pub checkpoint: Option<PathBuf>,
    /// The pause between passes that found less than a full batch: how often
    /// a shard is read while its records trickle in (Lambda reads 4 times a
    /// second).
    pub interval: Duration,
}

/// Why the poller could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The checkpoint file could not be read or written.
    #[error("{action} checkpoint {}: {source}", path.display())]
    Checkpoint {
        /// `reading` or `writing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file is not a checkpoint (never treated as a fresh start).
    #[error("reading checkpoint {}: not a checkpoint ({source})", path.display())]
    CheckpointCorrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: serde_json::Error,
    },
    /// DynamoDB or DynamoDB Streams failed a call, or the table has no stream.
    #[error("{0}")]
    Stream(String),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Records read.
    pub records: usize,
    /// Message records among them.
    pub messages: usize,
    /// Whether some read returned a full batch, so that more may be waiting:
    /// the next pass starts at once rather than after the interval.
    pub more: bool,
    /// Whether some conversation's update failed: the poller reads again
    /// from the checkpoint on its next pass.
    pub failed: bool,
}

/// The DynamoDB Streams poller.
#[derive(Debug)]
pub struct Poller {
    dynamo: aws_sdk_dynamodb::Client,
    streams: StreamsClient,
    handler: Handler,
    config: PollerConfig,
    checkpoint: Checkpoint,
    /// Iterators of open shards that were caught up, kept between passes.
    iterators: HashMap<String, String>,
    /// The stream and its shards as last described, and when: described
    /// again after [`DESCRIBE_EVERY`], or at once when a pass finished a
    /// shard or failed, so a busy pass is its reads alone.
    described: Option<(std::time::Instant, String, Vec<Shard>)>,
    /// The conversation shares read and not yet applied.
    pipeline: pipeline::Pipeline,
    /// Shards read to their end, finished in the checkpoint once applied.
    read_to_end: HashSet<String>,
    /// When the checkpoint was last written, and whether it has moved since.
    saved: (std::time::Instant, bool),
}

/// How often, at most, a moving checkpoint is written while work is pending;
/// it is written at once when nothing is. A crash repeats what was applied
/// since the last write, which the handler's idempotency makes harmless.
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// How long the stream's ARN and shard list are reused between passes.
const DESCRIBE_EVERY: Duration = Duration::from_secs(1);

enum ShardEnd {
    CaughtUp,
    Finished,
    Failed,
}

impl Poller {
    /// A poller of `config.table`'s stream through clients built from `sdk`,
    /// applying changes to that table with `concurrency` conversations at once.
    ///
    /// # Errors
    ///
    /// When the table's client cannot be configured or the checkpoint is unusable.
    pub fn connect(
        sdk: &aws_config::SdkConfig,
        concurrency: usize,
        config: PollerConfig,
    ) -> Result<Self, PollError> {
        let repo = dm_store::DynamoRepository::new(sdk, &config.table)
            .map_err(|e| PollError::Stream(e.to_string()))?;
        let dynamo = repo.client().clone();
        let streams = StreamsClient::new(sdk);
        let handler = Handler::new(std::sync::Arc::new(repo)).with_concurrency(concurrency);
        Self::new(dynamo, streams, handler, config)
    }

    /// The same poller, delivering what it applies live through API
    /// Gateway's management API at `endpoint` (the WebSocket API's callback
    /// URL, or `dm-api`'s address locally).
    pub fn with_live_delivery(mut self, sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let post = std::sync::Arc::new(crate::live::ManagementApi::at(sdk, endpoint));
        let notifier = crate::live::ConnectionNotifier::new(self.handler.repo().clone(), post);
        self.handler = self.handler.with_notifier(std::sync::Arc::new(notifier));
        self
    }

    /// A poller of `config.table`'s stream, resuming from its checkpoint file.
    pub fn new(
        dynamo: aws_sdk_dynamodb::Client,
        streams: StreamsClient,
        handler: Handler,
        config: PollerConfig,
    ) -> Result<Self, PollError> {
        let checkpoint = match &config.checkpoint {
            Some(path) => Checkpoint::load(path)?,
            None => Checkpoint::default(),
        };
        Ok(Self {
            dynamo,
            streams,
            handler,
            config,
            checkpoint,
            iterators: HashMap::new(),
            described: None,
            pipeline: pipeline::Pipeline::default(),
            read_to_end: HashSet::new(),
            saved: (std::time::Instant::now(), false),
        })
    }

    /// The current position.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    fn save(&self) -> Result<(), PollError> {
        match &self.config.checkpoint {
            Some(path) => self.checkpoint.save(path),
            None => Ok(()),
        }
    }

    async fn stream_arn(&self) -> Result<String, PollError> {
        let table = self
            .dynamo
            .describe_table()
            .table_name(&self.config.table)
            .send()
            .await
            .map_err(|e| {
                PollError::Stream(format!(
                    "describing table {}: {}",
                    self.config.table,
                    map_sdk_error(e)
                ))
            })?;
        match table.table.and_then(|t| t.latest_stream_arn) {
            Some(arn) => Ok(arn),
            None => Err(PollError::Stream(format!(
                "table {} has no stream; turn it on with `cargo xtask schema-load`, which leaves its items as they are",
                self.config.table
            ))),
        }
    }

    async fn shards(&self, arn: &str) -> Result<Vec<Shard>, PollError> {
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| {
                    PollError::Stream(format!("describing stream {arn}: {}", map_sdk_error(e)))
                })?;
            let Some(description) = out.stream_description else {
                break;
            };
            shards.extend(description.shards.unwrap_or_default());
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        Ok(shards)
    }

    /// One pass: reads every ready shard until it is caught up, and applies
    /// all it read.
    pub async fn poll_once(&mut self) -> Result<Pass, PollError> {
        let read = self.read_pass().await;
        let settled = self.drain().await;
        let mut pass = read?;
        settled?;
        pass.failed |= self.recover_if_failed().await?;
        Ok(pass)
    }

    /// Waits for everything read to be applied (or, after a failure, for
    /// what runs), and checkpoints it.
    async fn drain(&mut self) -> Result<(), PollError> {
        self.pipeline.drain(&self.handler).await;
        self.settle()
    }

    /// Takes in finished applications and checkpoints what they settled:
    /// written at once when nothing is pending, else at most every
    /// [`SAVE_EVERY`].
    fn settle(&mut self) -> Result<(), PollError> {
        self.pipeline.collect(&self.handler);
        self.saved.1 |= self.pipeline.advance(&mut self.checkpoint);
        if self.saved.1 && (self.pipeline.pending() == 0 || self.saved.0.elapsed() >= SAVE_EVERY) {
            self.save()?;
            self.saved = (std::time::Instant::now(), false);
        }
        Ok(())
    }

    /// After a failed update: once what runs has finished, forgets what was
    /// read past the checkpoint, to read it again. Whether there was one.
    async fn recover_if_failed(&mut self) -> Result<bool, PollError> {
        if !self.pipeline.failed() {
            return Ok(false);
        }
        self.drain().await?;
        tracing::warn!("a row update failed; reading again from the checkpoint");
        self.pipeline.reset();
        self.iterators.clear();
        self.read_to_end.clear();
        self.described = None;
        Ok(true)
    }

    /// Reads every ready shard until it is caught up, handing what it reads
    /// to the pipeline.
    async fn read_pass(&mut self) -> Result<Pass, PollError> {
        let (arn, mut shards) = match self.described.take() {
            Some((at, arn, shards)) if at.elapsed() < DESCRIBE_EVERY => (arn, shards),
            _ => {
                let arn = self.stream_arn().await?;
                let shards = self.shards(&arn).await?;
                (arn, shards)
            }
        };
        let described_at = std::time::Instant::now();
        if self.checkpoint.stream_arn != arn {
            if !self.checkpoint.stream_arn.is_empty() {
                tracing::warn!(old = %self.checkpoint.stream_arn, new = %arn, "the table has a new stream; starting from its beginning");
            }
            self.drain().await?;
            self.pipeline.reset();
            self.read_to_end.clear();
            self.checkpoint = Checkpoint {
                stream_arn: arn.clone(),
                shards: BTreeMap::new(),
            };
            self.iterators.clear();
        }
        // Parents start before their children.
        shards.sort_by(|a, b| {
            let start = |s: &Shard| {
                s.sequence_number_range()
                    .and_then(|r| r.starting_sequence_number())
                    .unwrap_or("")
                    .to_owned()
            };
            sequence_order(&start(a), &start(b))
        });
        let listed: Vec<String> = shards
            .iter()
            .filter_map(|s| s.shard_id().map(str::to_owned))
            .collect();
        let mut pass = Pass::default();
        let mut progress = true;
        while progress {
            progress = false;
            for shard in &shards {
                let Some(id) = shard.shard_id() else { continue };
                if self.read(id) {
                    continue;
                }
                // A child's records go after its parent's, per conversation,
                // by the pipeline's order.
                let parent_done = shard
                    .parent_shard_id()
                    .is_none_or(|parent| !listed.iter().any(|l| l == parent) || self.read(parent));
                if !parent_done {
                    continue;
                }
                match self.read_shard(&arn, id, &mut pass).await? {
                    ShardEnd::Finished => progress = true,
                    ShardEnd::CaughtUp => {}
                    ShardEnd::Failed => {
                        pass.failed = true;
                        progress = false;
                        break;
                    }
                }
            }
        }
        // A finished shard may have children the list does not have yet.
        let finished = shards.iter().any(|s| {
            s.shard_id().is_some_and(|id| self.read(id))
                && !shards.iter().any(|c| c.parent_shard_id() == s.shard_id())
        });
        if !pass.failed && !finished {
            self.described = Some((described_at, arn, shards));
        }
        Ok(pass)
    }

    /// Whether `shard` has been read to its end (applied or not).
    fn read(&self, shard: &str) -> bool {
        self.read_to_end.contains(shard)
            || self
                .checkpoint
                .shards
                .get(shard)
                .is_some_and(|p| p.finished)
    }

    async fn iterator(&self, arn: &str, shard: &str) -> Result<Option<String>, PollError> {
        let after = self
            .checkpoint
            .shards
            .get(shard)
            .and_then(|p| p.sequence.clone());
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = request.send().await.map_err(|e| {
            PollError::Stream(format!(
                "getting an iterator of {shard}: {}",
                map_sdk_error(e)
            ))
        })?;
        Ok(out.shard_iterator)
    }

    async fn read_shard(
        &mut self,
        arn: &str,
        shard: &str,
        pass: &mut Pass,
    ) -> Result<ShardEnd, PollError> {
        let mut iterator = match self.iterators.remove(shard) {
            Some(iterator) => Some(iterator),
            None => self.iterator(arn, shard).await?,
        };
        loop {
            let Some(current) = iterator.take() else {
                self.finish(shard);
                return Ok(ShardEnd::Finished);
            };
            let out = match self
                .streams
                .get_records()
                .shard_iterator(&current)
                .limit(BATCH_SIZE)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    let code = e
                        .as_service_error()
                        .and_then(|s| s.code())
                        .unwrap_or_default()
                        .to_owned();
                    match code.as_str() {
                        // Iterators live 15 minutes; take a new one next pass.
                        "ExpiredIteratorException" => return Ok(ShardEnd::CaughtUp),
                        "TrimmedDataAccessException" => {
                            tracing::error!(
                                shard,
                                "records past the checkpoint were trimmed from the stream; continuing from the oldest kept"
                            );
                            self.checkpoint
                                .shards
                                .insert(shard.to_owned(), ShardPosition::default());
                            return Ok(ShardEnd::CaughtUp);
                        }
                        _ => {
                            return Err(PollError::Stream(format!(
                                "reading {shard}: {}",
                                map_sdk_error(e)
                            )));
                        }
                    }
                }
            };
            let records = out.records.unwrap_or_default();
            let next = out.next_shard_iterator;
            let full = records.len() >= BATCH_SIZE as usize;
            if !records.is_empty() {
                let read = records.len();
                let last = records
                    .last()
                    .and_then(|r| r.dynamodb())
                    .and_then(|d| d.sequence_number())
                    .map(str::to_owned);
                let events = decode::from_streams_api(records);
                let planned = self.handler.plan(&events);
                pass.records += read;
                pass.messages += planned.outcome.messages;
                self.pipeline
                    .submit(&self.handler, shard, last, planned.work);
                // Reading waits while the pipeline is full.
                while self.pipeline.pending() >= pipeline::AHEAD * self.handler.concurrency()
                    && self.pipeline.is_running()
                {
                    self.pipeline.next(&self.handler).await;
                }
                self.settle()?;
                if self.pipeline.failed() {
                    return Ok(ShardEnd::Failed);
                }
            }
            // Less than a full batch (none at all included): caught up until
            // the next pass, which comes after the interval, while what was
            // read is applied; no next iterator: the shard has ended.
            match next {
                Some(next) if !full => {
                    self.iterators.insert(shard.to_owned(), next);
                    return Ok(ShardEnd::CaughtUp);
                }
                next => {
                    pass.more |= full;
                    iterator = next;
                }
            }
        }
    }

    /// Notes that `shard` has been read to its end.
    fn finish(&mut self, shard: &str) {
        self.read_to_end.insert(shard.to_owned());
        self.pipeline.finish(shard);
    }

    /// Polls until `shutdown` completes; errors of a pass are logged and the
    /// pass is tried again after the interval. Between passes, finished
    /// applications are taken in as they finish; at shutdown, what was read
    /// is applied and checkpointed first.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = dm_store::retry::Backoff::new(FIRST_PAUSE, MAX_PAUSE);
        loop {
            let read = self.read_pass().await;
            let recovered = self.recover_if_failed().await;
            let pause = match (read, recovered) {
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %format!("{e:#}"), "stream pass failed");
                    self.config.interval.max(backoff.failed())
                }
                (Ok(pass), Ok(recovered)) if pass.failed || recovered => {
                    self.config.interval.max(backoff.failed())
                }
                (Ok(pass), Ok(_)) => {
                    backoff.succeeded();
                    if pass.more {
                        Duration::ZERO
                    } else {
                        self.config.interval
                    }
                }
            };
            let pause = tokio::time::sleep(pause);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = &mut shutdown => {
                        if let Err(e) = self.drain().await {
                            tracing::error!(error = %format!("{e:#}"), "checkpointing at shutdown failed");
                        }
                        return;
                    }
                    () = &mut pause => break,
                    () = self.pipeline.next(&self.handler), if self.pipeline.is_running() => {
                        if let Err(e) = self.settle() {
                            tracing::error!(error = %format!("{e:#}"), "checkpointing failed");
                        }
                    }
                }
            }
        }
    }
}
