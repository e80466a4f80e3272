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

pub mod cpu;
pub mod delivery;
mod edits;
pub mod marks;
pub mod report;
pub mod stream;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use dm_domain::{
    DisplayName, GroupId, Handle, Message, MessageId, MessageText, NewUser, User, UserId,
};
use dm_store::{DynamoRepository, MemoryRepository, NewMessage, PageRequest, Repository};
use rand::{Rng, SeedableRng, rngs::SmallRng, seq::SliceRandom};

use crate::{
    report::{Capacity, Correctness, Phase, Report, StreamReport, percentile},
    stream::{Source, StreamSide},
};

/// Seeded messages are a day old, as in the reference.
fn base_time() -> dm_domain::Timestamp {
    dm_domain::Timestamp::now().plus(chrono::TimeDelta::days(-1))
}

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

struct Conversation {
    group: GroupId,
    members: [User; 2],
}

/// How one operation reaches the store.
#[derive(Clone)]
enum Client {
    Direct(Arc<dyn Repository>),
    Api {
        http: reqwest::Client,
        base: String,
        tokens: Arc<HashMap<UserId, String>>,
    },
}

impl Client {
    async fn send(&self, group: GroupId, sender: &User, text: &str) -> anyhow::Result<MessageId> {
        match self {
            Self::Direct(repo) => {
                let message = NewMessage::now(MessageText::parse(text)?);
                Ok(repo
                    .send_message(group, &sender.summary(), message)
                    .await?
                    .id)
            }
            Self::Api { http, base, tokens } => {
                let body = serde_json::json!({"message": text, "message_group_uuid": group});
                let reply: serde_json::Value = http
                    .post(format!("{base}/api/messages"))
                    .bearer_auth(&tokens[&sender.uuid])
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                Ok(reply["uuid"]
                    .as_str()
                    .context("no uuid in the reply")?
                    .parse()?)
            }
        }
    }

    /// GETs a page through the API as `user`; the number of items in it.
    /// Marks `group` read for `reader` up to `through`.
    async fn mark_read(
        &self,
        group: GroupId,
        reader: UserId,
        through: dm_domain::MessageRef,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                repo.mark_read(group, reader, through).await?;
            }
            Self::Api { http, base, tokens } => {
                let body =
                    serde_json::json!({"uuid": through.id, "created_at": through.at.to_string()});
                http.post(format!("{base}/api/message_groups/{group}/read"))
                    .bearer_auth(&tokens[&reader])
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// `author` edits their message `at` of `group` to `text`.
    async fn edit(
        &self,
        group: GroupId,
        author: UserId,
        at: dm_domain::MessageRef,
        text: &str,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                let text = MessageText::parse(text)?;
                let now = dm_domain::Timestamp::now();
                repo.edit_message(group, author, lookup(at), text, now)
                    .await?;
            }
            Self::Api { http, base, tokens } => {
                http.patch(message_url(base, group, at))
                    .query(&[("created_at", at.at.to_string())])
                    .bearer_auth(&tokens[&author])
                    .json(&serde_json::json!({"message": text}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// `author` deletes their message `at` of `group`.
    async fn delete(
        &self,
        group: GroupId,
        author: UserId,
        at: dm_domain::MessageRef,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                repo.delete_message(group, author, lookup(at)).await?;
            }
            Self::Api { http, base, tokens } => {
                http.delete(message_url(base, group, at))
                    .query(&[("created_at", at.at.to_string())])
                    .bearer_auth(&tokens[&author])
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    async fn api_page(&self, path: &str, user: UserId) -> anyhow::Result<usize> {
        let Self::Api { http, base, tokens } = self else {
            bail!("not an API client");
        };
        let reply: Vec<serde_json::Value> = http
            .get(format!("{base}{path}"))
            .bearer_auth(&tokens[&user])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(reply.len())
    }

    async fn list_groups(&self, user: UserId) -> anyhow::Result<usize> {
        match self {
            Self::Direct(repo) => Ok(repo
                .conversations(user, &PageRequest::first(20))
                .await?
                .items
                .len()),
            Self::Api { .. } => self.api_page("/api/message_groups?limit=20", user).await,
        }
    }

    async fn list_messages(&self, group: GroupId, member: UserId) -> anyhow::Result<usize> {
        match self {
            Self::Direct(repo) => Ok(repo
                .messages(group, member, &PageRequest::first(20))
                .await?
                .items
                .len()),
            Self::Api { .. } => {
                self.api_page(&format!("/api/messages/{group}?limit=20"), member)
                    .await
            }
        }
    }
}

/// How an edit or a delete names its message: with its time, as the page does.
fn lookup(at: dm_domain::MessageRef) -> dm_store::MessageLookup {
    dm_store::MessageLookup {
        id: at.id,
        sent_at: Some(at.at),
    }
}

/// The API's URL of a message.
fn message_url(base: &str, group: GroupId, at: dm_domain::MessageRef) -> String {
    format!("{base}/api/messages/{group}/{}", at.id)
}

/// Capacity consumed so far by a repository, if it is DynamoDB.
fn capacity(repo: Option<&DynamoRepository>) -> f64 {
    repo.map_or(0.0, |r| r.capacity().total())
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

    // Seed: users, then conversations between distinct pairs.
    let mut users = Vec::with_capacity(workload.users);
    for i in 0..workload.users {
        let user = repo
            .create_user(NewUser {
                uuid: UserId::new(),
                handle: Handle::parse(&format!("user{i}"))?,
                display_name: DisplayName::parse(&format!("User {i}"))?,
                cognito_user_id: Some(format!("bench-{i}-{}", UserId::new())),
            })
            .await?;
        users.push(user);
    }
    if workload.users < 2 || workload.groups > workload.users * (workload.users - 1) / 2 {
        bail!(
            "{} users cannot have {} distinct conversations",
            workload.users,
            workload.groups
        );
    }
    let base = base_time();
    let mut pairs = HashSet::new();
    let mut conversations = Vec::with_capacity(workload.groups);
    let mut seeded_ids = Vec::new();
    while conversations.len() < workload.groups {
        let picked: Vec<&User> = users.choose_multiple(&mut rng, 2).collect();
        let (a, b) = (picked[0].clone(), picked[1].clone());
        if !pairs.insert((a.uuid.min(b.uuid), a.uuid.max(b.uuid))) {
            continue;
        }
        let at = base.plus(chrono::TimeDelta::seconds(conversations.len() as i64));
        let first = NewMessage {
            id: MessageId::new(),
            created_at: at,
            text: MessageText::parse("hello")?,
        };
        let group = repo
            .start_conversation(&a.summary(), &b.summary(), first)
            .await?
            .message
            .group;
        let history: Vec<Message> = (1..workload.seed_messages)
            .map(|m| Message {
                id: MessageId::new(),
                group,
                created_at: at.plus(chrono::TimeDelta::microseconds(m as i64)),
                text: format!("seed message {m}"),
                sender: if m % 2 == 0 { a.summary() } else { b.summary() },
                edited_at: None,
                deleted: false,
            })
            .collect();
        seeded_ids.extend(history.iter().map(|m| m.id));
        repo.import_messages(group, history).await?;
        conversations.push(Conversation {
            group,
            members: [a, b],
        });
    }
    wait_handled(&stream, &seeded_ids, Duration::from_secs(300)).await;

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
    let stream_cpu_before = stream.stats.cpu();

    let mut phases = Vec::new();
    let mut units = HashMap::new();
    for name in ["send", "list_groups", "list_messages"] {
        let before = capacity(dynamo.as_ref());
        let stream_cpu = stream.stats.cpu();
        let cpu = cpu::process();
        let pause = workload.pause_stream && name == "send";
        if pause {
            stream.pause();
        }
        let started = Instant::now();
        let latencies = run_phase(name, workload, &client, &conversations, &users, &sent).await?;
        let wall = started.elapsed();
        if pause {
            stream.resume()?;
        }
        let stream_share = stream.stats.cpu().since(stream_cpu);
        let client_cpu = cpu::process().since(cpu).since(stream_share);
        units.insert(
            name,
            (capacity(dynamo.as_ref()) - before) / workload.ops as f64,
        );
        phases.push(Phase::new(name, workload.ops, wall, &latencies, client_cpu));
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

    // Read state: members mark their conversations read as they scroll.
    let messages = Arc::new(marks::messages_of(repo.as_ref(), &conversations).await?);
    let (before, stream_before) = (capacity(dynamo.as_ref()), stream.capacity());
    let (stream_cpu_marks, cpu) = (stream.stats.cpu(), cpu::process());
    let started = Instant::now();
    let latencies = marks::run(
        &client,
        &conversations,
        messages,
        workload.ops,
        workload.concurrency,
    )
    .await?;
    let wall = started.elapsed();
    let client_cpu = cpu::process()
        .since(cpu)
        .since(stream.stats.cpu().since(stream_cpu_marks));
    phases.push(Phase::new(
        "mark_read",
        workload.ops,
        wall,
        &latencies,
        client_cpu,
    ));
    let mark_units = (capacity(dynamo.as_ref()) - before) / workload.ops as f64;
    wait_idle(&stream, Duration::from_secs(120)).await;
    let stream_mark_units = (stream.capacity() - stream_before) / workload.ops as f64;

    // Edits, then deletes: authors change their newest messages.
    let mut authored = edits::Authored::new();
    for (group, refs) in marks::messages_of(repo.as_ref(), &conversations).await? {
        for (at, author) in refs {
            authored.entry((group, author)).or_default().push(at);
        }
    }
    let authored = Arc::new(std::sync::Mutex::new(authored));
    let changes = (workload.ops / 4).max(1);
    let mut change_units = Vec::new();
    for (name, change) in [
        ("edit_message", edits::Change::Edit),
        ("delete_message", edits::Change::Delete),
    ] {
        let (before, stream_before) = (capacity(dynamo.as_ref()), stream.capacity());
        let (stream_cpu_changes, cpu) = (stream.stats.cpu(), cpu::process());
        let started = Instant::now();
        let latencies = edits::run(
            &client,
            &conversations,
            authored.clone(),
            change,
            changes,
            workload.concurrency,
        )
        .await?;
        let wall = started.elapsed();
        let client_cpu = cpu::process()
            .since(cpu)
            .since(stream.stats.cpu().since(stream_cpu_changes));
        phases.push(Phase::new(name, changes, wall, &latencies, client_cpu));
        let api_units = (capacity(dynamo.as_ref()) - before) / changes as f64;
        wait_idle(&stream, Duration::from_secs(120)).await;
        let stream_units = (stream.capacity() - stream_before) / changes as f64;
        change_units.push((api_units, stream_units));
    }

    // Everyone online: the same number of sends, each timed to its frame.
    let stream_units_before_delivery = stream.capacity();
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
    delivery.stream_units_per_message =
        (stream.capacity() - stream_units_before_delivery) / delivery.sends.max(1) as f64;
    stream.stop();
    drop(server);

    let correctness = check(
        repo.as_ref(),
        &conversations,
        &users,
        workload.groups * workload.seed_messages + workload.ops + delivery.sends,
    )
    .await?;
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
        capacity_units_per_op: Capacity {
            send: units["send"],
            stream_per_message: stream_units / stream_records as f64,
            list_groups: units["list_groups"],
            list_messages: units["list_messages"],
            mark_read: Some(mark_units),
            stream_per_mark: Some(stream_mark_units),
            edit: Some(change_units[0].0),
            stream_per_edit: Some(change_units[0].1),
            delete: Some(change_units[1].0),
            stream_per_delete: Some(change_units[1].1),
        },
        correctness,
        delivery: Some(delivery),
        idle_sockets: None,
    })
}

/// Waits until the stream side has handled no record for a second (or `limit`).
async fn wait_idle(stream: &StreamSide, limit: Duration) {
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
async fn wait_handled(stream: &StreamSide, ids: &[MessageId], limit: Duration) {
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
async fn run_phase(
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

/// Messages stored against expected, and one row per member per
/// conversation, showing its newest message.
async fn check(
    repo: &dyn Repository,
    conversations: &[Conversation],
    users: &[User],
    expected: usize,
) -> anyhow::Result<Correctness> {
    let mut stored = 0;
    let mut newest = HashMap::new();
    // The text each row must show: the newest message not deleted.
    let mut previews: HashMap<GroupId, String> = HashMap::new();
    // What each member's count must be: the other's messages past their marker.
    let mut unread: HashMap<(UserId, GroupId), u32> = HashMap::new();
    for c in conversations {
        let markers = repo.read_markers(c.group, c.members[0].uuid).await?;
        let marker = |member: UserId| {
            markers
                .iter()
                .find(|r| r.member == member)
                .map(|r| r.through)
        };
        let mut request = PageRequest::first(dm_store::PAGE_MAX);
        loop {
            let page = repo.messages(c.group, c.members[0].uuid, &request).await?;
            if request.cursor.is_none() {
                newest.insert(c.group, page.items.last().map(|m| m.id));
            }
            if let Some(live) = page.items.iter().rev().find(|m| !m.deleted) {
                previews.entry(c.group).or_insert_with(|| live.text.clone());
            }
            for member in &c.members {
                let past = page
                    .items
                    .iter()
                    .filter(|m| m.sender.uuid != member.uuid && !m.deleted)
                    .filter(|m| marker(member.uuid).is_none_or(|t| m.reference() > t))
                    .count();
                *unread.entry((member.uuid, c.group)).or_default() += past as u32;
            }
            stored += page.items.len();
            match page.next {
                Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
                None => break,
            }
        }
    }
    let mut rows: HashMap<(UserId, GroupId), usize> = HashMap::new();
    let mut stale = 0;
    let mut wrong_unread = 0;
    for user in users {
        let mut request = PageRequest::first(dm_store::PAGE_MAX);
        loop {
            let page = repo.conversations(user.uuid, &request).await?;
            for row in &page.items {
                *rows.entry((user.uuid, row.group)).or_default() += 1;
                let preview = previews.get(&row.group).map_or("", String::as_str);
                if newest.get(&row.group).copied().flatten() != row.last_message_id
                    || row.last_message != preview
                {
                    stale += 1;
                }
                let expected = unread
                    .get(&(user.uuid, row.group))
                    .copied()
                    .unwrap_or(0)
                    .min(dm_domain::UNREAD_CAP + 1);
                if row.unread != expected {
                    wrong_unread += 1;
                }
            }
            match page.next {
                Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
                None => break,
            }
        }
    }
    let extra = rows.values().map(|n| n.saturating_sub(1)).sum();
    let missing = conversations
        .iter()
        .flat_map(|c| c.members.iter().map(move |m| (m.uuid, c.group)))
        .filter(|key| !rows.contains_key(key))
        .count();
    Ok(Correctness {
        messages_expected: expected,
        messages_stored: stored,
        extra_conversation_rows: extra,
        missing_conversation_rows: missing,
        stale_conversation_rows: stale,
        wrong_unread_counts: Some(wrong_unread),
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
