//! The phases' one measuring loop ([`Meter::measure`]): wall time,
//! latencies, the client's CPU (the stream thread's share excluded) and the
//! capacity units per operation, on the API's side and on the stream's; the
//! send and list phases' operations ([`run_phase`]); the worker pool every
//! phase runs on ([`spread`]); and the waits for the stream side.

use std::{
    future::Future,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use dm_domain::{MessageId, User};
use dm_store::{DynamoRepository, capacity::Consumed};
use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::{Workload, client::Client, cpu, report::Phase, seed::Conversation, stream::StreamSide};

/// What a phase cost.
pub(crate) struct Measured {
    /// Its timings and CPU.
    pub(crate) phase: Phase,
    /// Capacity units per operation the operations consumed, billed and
    /// reported.
    pub(crate) units: Consumed,
    /// Capacity units per operation the stream side consumed for them, once
    /// it was idle again (0 when not waited for).
    pub(crate) stream_units: Consumed,
}

/// `consumed` per operation, of `ops` operations.
pub(crate) fn per_op(consumed: Consumed, ops: usize) -> Consumed {
    let n = ops.max(1) as f64;
    let each = |c: dm_store::capacity::Capacity| dm_store::capacity::Capacity {
        read: c.read / n,
        write: c.write / n,
    };
    Consumed {
        billed: each(consumed.billed),
        reported: each(consumed.reported),
    }
}

/// Measures phases against one stream side and, on DynamoDB, one repository.
pub(crate) struct Meter<'a> {
    pub(crate) stream: &'a StreamSide,
    pub(crate) dynamo: Option<&'a DynamoRepository>,
}

impl Meter<'_> {
    /// Capacity consumed so far by the repository, if it is DynamoDB.
    pub(crate) fn capacity(&self) -> Consumed {
        self.dynamo
            .map_or_else(Consumed::default, DynamoRepository::capacity)
    }

    /// Runs phase `name`: `work` does its `ops` operations and returns their
    /// latencies in ms. With `settle`, waits for the stream side to be idle
    /// and measures what it consumed too.
    pub(crate) async fn measure(
        &self,
        name: &str,
        ops: usize,
        settle: bool,
        work: impl Future<Output = anyhow::Result<Vec<f64>>>,
    ) -> anyhow::Result<Measured> {
        let (before, stream_before) = (self.capacity(), self.stream.capacity());
        let (stream_cpu, cpu) = (self.stream.stats.cpu(), cpu::process());
        let started = Instant::now();
        let latencies = work.await?;
        let wall = started.elapsed();
        let client_cpu = cpu::process()
            .since(cpu)
            .since(self.stream.stats.cpu().since(stream_cpu));
        let units = per_op(self.capacity() - before, ops);
        let stream_units = if settle {
            wait_idle(self.stream, Duration::from_secs(120)).await;
            per_op(self.stream.capacity() - stream_before, ops)
        } else {
            Consumed::default()
        };
        Ok(Measured {
            phase: Phase::new(name, ops, wall, &latencies, client_cpu),
            units,
            stream_units,
        })
    }
}

/// Waits until the stream side has handled no record for a second (or `limit`).
pub(crate) async fn wait_idle(stream: &StreamSide, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut seen = stream.stats.records.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = stream.stats.records.load(Ordering::Relaxed);
        if now != seen {
            (seen, quiet_since) = (now, Instant::now());
        } else if quiet_since.elapsed() > Duration::from_secs(1) {
            return;
        }
    }
}

/// Waits until every message in `ids` was handled by the stream side.
pub(crate) async fn wait_handled(stream: &StreamSide, ids: &[MessageId], limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let done = {
            let handled = stream
                .stats
                .handled_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            ids.iter().all(|id| handled.contains_key(id))
        };
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One phase: `workload.ops` operations by `workload.concurrency` workers; the latencies in ms.
pub(crate) async fn run_phase(
    name: &'static str,
    workload: &Workload,
    client: &Client,
    conversations: &Arc<Vec<Conversation>>,
    users: &Arc<Vec<User>>,
    sent: &Arc<Mutex<Vec<(MessageId, Instant)>>>,
) -> anyhow::Result<Vec<f64>> {
    let (client, conversations, users, sent) = (
        client.clone(),
        conversations.clone(),
        users.clone(),
        sent.clone(),
    );
    spread(workload.ops, workload.concurrency, (7919, 1), move |rng| {
        // The inputs: a user, or a conversation and one of its members.
        let (pick, member) = match name {
            "list_groups" => (rng.gen_range(0..users.len()), 0),
            _ => (rng.gen_range(0..conversations.len()), rng.gen_range(0..2)),
        };
        let (client, conversations, users, sent) = (
            client.clone(),
            conversations.clone(),
            users.clone(),
            sent.clone(),
        );
        async move {
            let started = Instant::now();
            match name {
                "send" => {
                    let c = &conversations[pick];
                    let id = client
                        .send(c.group, &c.members[member], "bench message")
                        .await?;
                    sent.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((id, Instant::now()));
                }
                "list_groups" => {
                    client.list_groups(users[pick].uuid).await?;
                }
                _ => {
                    let c = &conversations[pick];
                    client
                        .list_messages(c.group, c.members[member].uuid)
                        .await?;
                }
            }
            Ok(started.elapsed().as_secs_f64() * 1e3)
        }
    })
    .await
}

/// Runs `ops` operations on `concurrency` tasks, each drawing from random
/// numbers of its own (seeded `worker * seed.0 + seed.1`, so that runs
/// repeat): `op` draws an operation's inputs and returns the operation.
/// What the operations returned, in no particular order.
pub(crate) async fn spread<T, Fut>(
    ops: usize,
    concurrency: usize,
    seed: (u64, u64),
    op: impl Fn(&mut SmallRng) -> Fut + Send + Sync + 'static,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut rng = SmallRng::seed_from_u64(worker as u64 * seed.0 + seed.1);
                let mut done = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < ops {
                    done.push(op(&mut rng).await?);
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(ops);
    for worker in workers {
        all.extend(worker.await??);
    }
    Ok(all)
}
