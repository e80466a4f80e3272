//! The stream side of the benchmark, on a thread of its own so that its CPU
//! time can be told apart from the workload's.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use dm_domain::MessageId;
use dm_store::{ChangeKind, DynamoRepository, MemoryRepository, Record, capacity::Consumed};
use dm_stream::{
    Handler, Observer,
    live::{ConnectionNotifier, Post},
    memory_feed::MemoryFeed,
    poller::{Poller, PollerConfig},
};

/// What the stream side saw.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// When each message was first handled.
    pub handled_at: Mutex<HashMap<MessageId, Instant>>,
    /// Message records handled.
    pub message_records: AtomicU64,
    /// Records of any kind handled.
    pub records: AtomicU64,
    /// User CPU time of the stream thread, in microseconds.
    pub cpu_user_us: AtomicU64,
    /// System CPU time of the stream thread, in microseconds.
    pub cpu_system_us: AtomicU64,
}

impl StreamStats {
    /// The stream thread's CPU time so far.
    pub fn cpu(&self) -> crate::cpu::Usage {
        crate::cpu::Usage {
            user: Duration::from_micros(self.cpu_user_us.load(Ordering::Relaxed)),
            system: Duration::from_micros(self.cpu_system_us.load(Ordering::Relaxed)),
        }
    }

    fn record(&self, cpu: crate::cpu::Usage) {
        self.cpu_user_us
            .store(cpu.user.as_micros() as u64, Ordering::Relaxed);
        self.cpu_system_us
            .store(cpu.system.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Where the stream side reads from.
#[derive(Debug, Clone)]
pub enum Source {
    /// DynamoDB's stream, through the poller, which keeps its position in
    /// `checkpoint` so that a resumed stream side goes on where it stopped,
    /// and delivers live frames through the management API at `live`
    /// (`dm-api`'s address), as under `cargo xtask up`.
    Dynamo {
        endpoint: String,
        table: String,
        checkpoint: std::path::PathBuf,
        live: String,
    },
    /// The memory repository's feed, delivering live frames through `live`
    /// (the API's sockets in this process), as `dm-api --store memory` does.
    Memory {
        memory: MemoryRepository,
        live: Arc<dyn Post>,
    },
}

/// The stream side's repositories on DynamoDB: the handler's (the row
/// update) and the notifier's (live delivery).
#[derive(Debug)]
struct Repos {
    rows: DynamoRepository,
    live: DynamoRepository,
}

/// The running stream side.
#[derive(Debug)]
pub struct StreamSide {
    pub stats: Arc<StreamStats>,
    source: Source,
    /// The handler's own repositories on DynamoDB, for their capacity.
    repo: Option<Repos>,
    /// Capacity spent by the repositories of earlier runs (before a pause):
    /// the row update's, and live delivery's.
    spent: (Consumed, Consumed),
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamSide {
    /// Starts the stream side on its own thread.
    pub fn start(source: Source) -> anyhow::Result<Self> {
        let mut side = Self {
            stats: Arc::new(StreamStats::default()),
            source,
            repo: None,
            spent: (Consumed::default(), Consumed::default()),
            stop: None,
            thread: None,
        };
        side.resume()?;
        Ok(side)
    }

    /// Starts it again after [`StreamSide::pause`]: from its checkpoint, so
    /// nothing is read twice.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (repo_tx, repo_rx) = std::sync::mpsc::channel();
        let (source, thread_stats) = (self.source.clone(), self.stats.clone());
        let thread = std::thread::Builder::new()
            .name("stream".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = repo_tx.send(Err(anyhow::anyhow!(e)));
                        return;
                    }
                };
                runtime.block_on(run(source, thread_stats, stopped, repo_tx));
            })?;
        self.repo = repo_rx.recv()??;
        self.stop = Some(stop);
        self.thread = Some(thread);
        Ok(())
    }

    /// Stops reading the stream (no request at all) until [`StreamSide::resume`].
    pub fn pause(&mut self) {
        self.shutdown();
        if let Some(repos) = self.repo.take() {
            self.spent = (
                self.spent.0 + repos.rows.capacity(),
                self.spent.1 + repos.live.capacity(),
            );
        }
    }

    /// Capacity units the stream side's handler has consumed so far, billed
    /// and reported.
    pub fn capacity(&self) -> Consumed {
        self.spent.0
            + self
                .repo
                .as_ref()
                .map_or_else(Consumed::default, |r| r.rows.capacity())
    }

    /// Capacity units live delivery has consumed so far (each member's
    /// connections looked up per update), kept apart from the row update's:
    /// the notifier has a repository of its own.
    pub fn live_capacity(&self) -> Consumed {
        self.spent.1
            + self
                .repo
                .as_ref()
                .map_or_else(Consumed::default, |r| r.live.capacity())
    }

    /// Stops it and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StreamSide {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn observer(stats: Arc<StreamStats>) -> Observer {
    Arc::new(move |events, outcome| {
        if outcome.failed_at.is_some() {
            return;
        }
        stats
            .records
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut handled = stats.handled_at.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            if let (ChangeKind::Insert, Some(Record::Message(m))) = (event.kind, &event.new_image) {
                stats.message_records.fetch_add(1, Ordering::Relaxed);
                handled.entry(m.id).or_insert(now);
            }
        }
    })
}

async fn run(
    source: Source,
    stats: Arc<StreamStats>,
    stopped: tokio::sync::oneshot::Receiver<()>,
    repo_tx: std::sync::mpsc::Sender<anyhow::Result<Option<Repos>>>,
) {
    // This runtime has one thread: sampling its CPU here measures the stream
    // side alone (added to what its earlier runs used).
    let (start, earlier) = (crate::cpu::thread(), stats.cpu());
    let sampler_stats = stats.clone();
    let sampler = tokio::spawn(async move {
        loop {
            sampler_stats.record(earlier.plus(crate::cpu::thread().since(start)));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let shutdown = async {
        let _ = stopped.await;
    };
    match source {
        Source::Memory { memory, live } => {
            let _ = repo_tx.send(Ok(None));
            let repo = Arc::new(memory.clone());
            let handler = Handler::new(repo.clone())
                .with_observer(observer(stats.clone()))
                .with_notifier(Arc::new(ConnectionNotifier::new(repo, live)));
            MemoryFeed::new(memory, handler).run(shutdown).await;
        }
        Source::Dynamo {
            endpoint,
            table,
            checkpoint,
            live,
        } => {
            let config = dm_store::client::sdk_config(Some(&endpoint)).await;
            let repo = match DynamoRepository::new(&config, &table) {
                Ok(repo) => repo,
                Err(e) => {
                    let _ = repo_tx.send(Err(e.into()));
                    return;
                }
            };
            // Live delivery on a repository of its own, so that its
            // connection lookups are metered apart from the row update.
            let live_repo = match DynamoRepository::new(&config, &table) {
                Ok(repo) => repo,
                Err(e) => {
                    let _ = repo_tx.send(Err(e.into()));
                    return;
                }
            };
            let notifier = dm_stream::live::ConnectionNotifier::new(
                Arc::new(live_repo.clone()),
                Arc::new(dm_stream::live::ManagementApi::at(&config, &live)),
            );
            let handler = Handler::new(Arc::new(repo.clone()))
                .with_observer(observer(stats.clone()))
                .with_notifier(Arc::new(notifier));
            let poller = Poller::new(
                repo.client().clone(),
                aws_sdk_dynamodbstreams::Client::new(&config),
                handler,
                PollerConfig {
                    table,
                    checkpoint: Some(checkpoint),
                    interval: Duration::from_millis(20),
                },
            );
            match poller {
                Ok(poller) => {
                    let _ = repo_tx.send(Ok(Some(Repos {
                        rows: repo,
                        live: live_repo,
                    })));
                    poller.run(shutdown).await;
                }
                Err(e) => {
                    let _ = repo_tx.send(Err(e.into()));
                }
            }
        }
    }
    sampler.abort();
    stats.record(earlier.plus(crate::cpu::thread().since(start)));
}
