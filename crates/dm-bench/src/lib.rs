//! The "dm-standard" benchmark workload.
//!
//! Seeds users and conversations, then runs three phases of operations at a
//! fixed concurrency (send a message, list a user's conversations, list a
//! conversation's latest messages) while the stream side (the local poller,
//! or the memory feed) keeps the rows current on a thread of its own. It
//! reports, per phase, throughput, latency percentiles, the client's CPU per
//! operation (the stream thread's share excluded) and the capacity units per
//! operation; for the stream, the lag from a message's put to its rows being
//! updated, the handler's CPU and capacity per message; and correctness.
//! The report's shape is the reference script's (`seed_baseline.py`), so the
//! two compare field by field.
//!
//! [`run`] reads as the run goes: the store, [`seed`], the phases (each
//! measured by [`phases::Meter`]; read state in [`marks`], edits and deletes
//! in `edits`, live delivery in [`delivery`]), [`checks`], the [`report`].
//! Operations reach the store through [`client`]; [`stats`] and [`cpu`]
//! measure.

mod checks;
mod client;
pub mod cpu;
pub mod delivery;
mod edits;
pub mod groups;
pub mod marks;
mod phases;
pub mod report;
mod seed;
pub mod stats;
pub mod stream;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use dm_domain::{MessageId, UserId};
use dm_store::{DynamoRepository, MemoryRepository, Repository, capacity::Consumed};
use rand::{SeedableRng, rngs::SmallRng};

use crate::{
    client::Client,
    phases::{Meter, per_op, run_phase, wait_handled},
    report::{Capacity, Report, StreamReport},
    stats::percentile,
    stream::{Source, StreamSide},
};

/// Which store the workload runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// DynamoDB (Local).
    Dynamodb,
    /// The memory repository.
    Memory,
}

/// How the workload reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Calls the repository.
    Direct,
    /// Calls the HTTP API (in this process) with a keep-alive client.
    Api,
}

/// The workload's size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workload {
    /// Users.
    pub users: usize,
    /// Conversations, between distinct pairs of users.
    pub groups: usize,
    /// Messages per conversation before the phases.
    pub seed_messages: usize,
    /// Operations per phase.
    pub ops: usize,
    /// Operations in flight at once.
    pub concurrency: usize,
    /// Whether the stream side is paused during the send phase (DynamoDB
    /// only): sends then meet no stream transactions at DynamoDB's writer,
    /// and the stream catches up after the phase.
    pub pause_stream: bool,
    /// Conversation sizes of the group phase (2: one-to-one; sizes above
    /// the users are left out).
    pub group_sizes: Vec<usize>,
    /// Messages sent at each size of the group phase.
    pub group_messages: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            users: 100,
            groups: 200,
            seed_messages: 10,
            ops: 2000,
            concurrency: 8,
            pause_stream: false,
            group_sizes: vec![2, 10, 100],
            group_messages: 60,
        }
    }
}

/// Where the workload runs.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A DynamoDB endpoint and a table name to create there.
    Dynamodb { endpoint: String, table: String },
    /// Memory.
    Memory,
}

/// Runs the workload and reports on it.
pub async fn run(backend: &Backend, via: Via, workload: &Workload) -> anyhow::Result<Report> {
    if workload.pause_stream && matches!(backend, Backend::Memory) {
        bail!("pausing the stream side needs DynamoDB");
    }
    let checkpoints = tempfile::tempdir()?;
    let (repo, dynamo, live): (Arc<dyn Repository>, Option<DynamoRepository>, _) = match backend {
        Backend::Dynamodb { endpoint, table } => {
            let config = dm_store::client::sdk_config(Some(endpoint)).await;
            let repo = DynamoRepository::new(&config, table.as_str())?;
            dm_store::schema::delete_table(repo.client(), table).await?;
            dm_store::schema::create_table(
                repo.client(),
                &dm_store::schema::TableSpec::new(table.as_str()),
            )
            .await?;
            (Arc::new(repo.clone()), Some(repo), None)
        }
        Backend::Memory => {
            let memory = MemoryRepository::new();
            (Arc::new(memory.clone()), None, Some(memory))
        }
    };
    // The API and its sockets; the stream side delivers to them.
    let server = delivery::Server::start(repo.clone()).await?;
    let source = match (backend, live) {
        (Backend::Dynamodb { endpoint, table }, _) => Source::Dynamo {
            endpoint: endpoint.clone(),
            table: table.clone(),
            checkpoint: checkpoints.path().join("stream.json"),
            live: server.base.clone(),
        },
        (Backend::Memory, memory) => Source::Memory {
            memory: memory.context("a memory repository")?,
            live: Arc::new(server.hub.clone()),
        },
    };
    let mut stream = StreamSide::start(source)?;
    let mut rng = SmallRng::seed_from_u64(42);
    let seeded = seed::seed(repo.as_ref(), workload, &mut rng).await?;
    wait_handled(&stream, &seeded.messages, Duration::from_secs(300)).await;
    let seed::Seeded {
        users,
        conversations,
        ..
    } = seeded;

    // The clients: the workload's, and the API's for the delivery phase.
    let tokens: HashMap<UserId, String> = users
        .iter()
        .map(|u| Ok((u.uuid, server.token(u)?)))
        .collect::<anyhow::Result<_>>()?;
    let api_client = Client::Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(workload.concurrency * 2)
            .build()?,
        base: server.base.clone(),
        tokens: Arc::new(tokens),
    };
    let client = match via {
        Via::Direct => Client::Direct(repo.clone()),
        Via::Api => api_client.clone(),
    };

    let conversations = Arc::new(conversations);
    let users = Arc::new(users);
    let sent: Arc<Mutex<Vec<(MessageId, Instant)>>> = Arc::default();
    let stream_messages_before = stream.stats.message_records.load(Ordering::Relaxed);
    let stream_capacity_before = stream.capacity();
    let live_capacity_before = stream.live_capacity();
    let stream_cpu_before = stream.stats.cpu();

    let mut phases = Vec::new();
    let mut units = HashMap::new();
    for name in ["send", "list_groups", "list_messages"] {
        let pause = workload.pause_stream && name == "send";
        if pause {
            stream.pause();
        }
        let work = run_phase(name, workload, &client, &conversations, &users, &sent);
        let measured = Meter {
            stream: &stream,
            dynamo: dynamo.as_ref(),
        }
        .measure(name, workload.ops, false, work)
        .await?;
        if pause {
            stream.resume()?;
        }
        units.insert(name, measured.units);
        phases.push(measured.phase);
    }

    // The stream catches up with every message sent.
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(|p| p.into_inner()));
    let ids: Vec<MessageId> = sent.iter().map(|(id, _)| *id).collect();
    wait_handled(&stream, &ids, Duration::from_secs(120)).await;
    let lags: Vec<f64> = {
        let handled = stream
            .stats
            .handled_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sent.iter()
            .filter_map(|(id, at)| {
                handled
                    .get(id)
                    .map(|h| h.saturating_duration_since(*at).as_secs_f64() * 1e3)
            })
            .collect()
    };
    let stream_records =
        (stream.stats.message_records.load(Ordering::Relaxed) - stream_messages_before).max(1);
    let stream_cpu = stream.stats.cpu().since(stream_cpu_before).total();
    let stream_units = stream.capacity() - stream_capacity_before;
    let live_units = stream.live_capacity() - live_capacity_before;

    let meter = Meter {
        stream: &stream,
        dynamo: dynamo.as_ref(),
    };
    // Read state: members mark their conversations read as they scroll.
    let messages = Arc::new(marks::messages_of(repo.as_ref(), &conversations).await?);
    let marks = marks::run(
        &client,
        &conversations,
        messages,
        workload.ops,
        workload.concurrency,
    );
    let marks = meter
        .measure("mark_read", workload.ops, true, marks)
        .await?;

    // Edits, then deletes: authors change their newest messages.
    let mut authored = edits::Authored::new();
    for (group, refs) in marks::messages_of(repo.as_ref(), &conversations).await? {
        for (at, author) in refs {
            authored.entry((group, author)).or_default().push(at);
        }
    }
    let authored = Arc::new(std::sync::Mutex::new(authored));
    let changes = (workload.ops / 4).max(1);
    let mut changed = Vec::new();
    for (name, change) in [
        ("edit_message", edits::Change::Edit),
        ("delete_message", edits::Change::Delete),
    ] {
        let work = edits::run(
            &client,
            &conversations,
            authored.clone(),
            change,
            changes,
            workload.concurrency,
        );
        changed.push(meter.measure(name, changes, true, work).await?);
    }
    let [edit, delete] = <[phases::Measured; 2]>::try_from(changed)
        .map_err(|_| anyhow::anyhow!("two change phases"))?;

    // Everyone online: the same number of sends, each timed to its frame.
    let stream_units_before_delivery = stream.capacity() + stream.live_capacity();
    let (mut delivery, delivered_ids) = delivery::measure(
        &server,
        &api_client,
        &conversations,
        &users,
        workload.ops,
        workload.concurrency,
    )
    .await?;
    wait_handled(&stream, &delivered_ids, Duration::from_secs(120)).await;
    delivery.stream_units_per_message = per_op(
        stream.capacity() + stream.live_capacity() - stream_units_before_delivery,
        delivery.sends,
    )
    .total();
    let stream_per_message = per_op(stream_units, stream_records as usize);
    let live_per_message = per_op(live_units, stream_records as usize);
    // The same table twice: what AWS bills, and what DynamoDB reported.
    let table = |units_of: fn(&Consumed) -> f64| Capacity {
        send: units_of(&units["send"]),
        stream_per_message: units_of(&stream_per_message),
        live_per_message: dynamo.is_some().then(|| units_of(&live_per_message)),
        list_groups: units_of(&units["list_groups"]),
        list_messages: units_of(&units["list_messages"]),
        mark_read: Some(units_of(&marks.units)),
        stream_per_mark: Some(units_of(&marks.stream_units)),
        edit: Some(units_of(&edit.units)),
        stream_per_edit: Some(units_of(&edit.stream_units)),
        delete: Some(units_of(&delete.units)),
        stream_per_delete: Some(units_of(&delete.stream_units)),
    };
    let capacity = table(|c| c.billed.total());
    let reported = table(|c| c.reported.total());
    phases.extend([marks.phase, edit.phase, delete.phase]);

    // Checked before the group phase, which adds rows of other sizes.
    let correctness = checks::check(
        repo.as_ref(),
        &conversations,
        &users,
        workload.groups * workload.seed_messages + workload.ops + delivery.sends,
    )
    .await?;
    let groups = groups::run(
        &groups::Context {
            repo: repo.as_ref(),
            server: &server,
            client: &api_client,
            meter: Meter {
                stream: &stream,
                dynamo: dynamo.as_ref(),
            },
            users: &users,
            conversations: &conversations,
        },
        &workload.group_sizes,
        workload.group_messages,
    )
    .await?;
    stream.stop();
    drop(server);

    Ok(Report {
        implementation: "dm (rust)".into(),
        store: match backend {
            Backend::Dynamodb { .. } => StoreKind::Dynamodb,
            Backend::Memory => StoreKind::Memory,
        },
        via,
        workload: workload.clone(),
        phases,
        stream: StreamReport {
            messages: sent.len(),
            propagated: lags.len(),
            lag_p50_ms: percentile(&lags, 50.0),
            lag_p99_ms: percentile(&lags, 99.0),
            handler_cpu_us_per_message: stream_cpu.as_secs_f64() * 1e6 / stream_records as f64,
        },
        capacity_units_per_op: capacity,
        reported_capacity_units_per_op: dynamo.is_some().then_some(reported),
        correctness,
        delivery: Some(delivery),
        groups: Some(groups),
        idle_sockets: None,
    })
}

/// The memory or DynamoDB backend for a run.
pub fn backend(store: StoreKind, endpoint: Option<String>) -> anyhow::Result<Backend> {
    Ok(match store {
        StoreKind::Memory => Backend::Memory,
        StoreKind::Dynamodb => Backend::Dynamodb {
            endpoint: endpoint.context("a DynamoDB endpoint is needed")?,
            table: format!(
                "dm-bench-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        },
    })
}
