//! Live delivery figures.
//!
//! - [`measure`]: from a send's HTTP answer to its `message` frame at the
//!   other member's socket, with every user online (one socket each), the
//!   sends through the HTTP API at the workload's concurrency. The frames
//!   travel as they do under `cargo xtask up`: on DynamoDB the poller posts
//!   them through the management API to `dm-api`'s loopback
//!   `POST /@connections/{id}`; in memory the feed posts to the sockets in
//!   process, as `dm-api --store memory` does.
//! - [`idle_sockets`]: the resident memory of one `dm-api` process (the
//!   release binary, memory store) before and after it holds `n` idle
//!   authenticated sockets.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use dm_api::{AppState, auth::LocalVerifier, live::Hub};
use dm_domain::{MessageId, User, UserId};
use dm_store::Repository;
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio_tungstenite::{connect_async, tungstenite::Message as WsMessage};
use uuid::Uuid;

use crate::{client::Client, seed::Conversation, stats::percentile};

/// The HTTP API and its sockets, in this process.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    /// Its sockets, for the memory feed to post to.
    pub hub: Hub,
    verifier: LocalVerifier,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `repo` on a free loopback port, with a key of its own.
    pub async fn start(repo: Arc<dyn Repository>) -> anyhow::Result<Self> {
        let verifier = LocalVerifier::new(uuid::Uuid::new_v4().as_bytes().to_vec());
        let state = AppState::new(repo, Arc::new(verifier.clone()));
        let hub = state.hub.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        // The peer address lets the management API's route see loopback.
        let app = dm_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            base,
            hub,
            verifier,
            task,
        })
    }

    /// An access token of `user`.
    pub fn token(&self, user: &User) -> anyhow::Result<String> {
        Ok(self
            .verifier
            .mint(user.cognito_user_id.as_deref().unwrap_or_default())?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// From a send's answer to the frame at the other member's socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Sockets open, one per user.
    pub sockets: usize,
    /// Messages sent.
    pub sends: usize,
    /// Those whose frame reached the other member within the wait.
    pub delivered: usize,
    /// Median, from the HTTP answer to the frame.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// Capacity units the stream side spent per message of this phase
    /// (rows, and the members' connections read to deliver).
    pub stream_units_per_message: f64,
}

/// Frames that arrived: when a frame of each message (`message`) and of
/// each conversation (`conversation`, its row) first reached each user, by
/// the message's or the conversation's uuid.
type Arrivals = Arc<Mutex<HashMap<(Uuid, UserId), Instant>>>;

/// One socket per user, each noting when a message's frame reached it; the
/// readers stop when this is dropped.
pub(crate) struct Sockets {
    arrivals: Arrivals,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Sockets {
    /// Opens a socket of each of `users` to `server`.
    pub(crate) async fn open(server: &Server, users: &[User]) -> anyhow::Result<Self> {
        let arrivals: Arrivals = Arc::default();
        let ws = server.base.replace("http://", "ws://");
        let mut readers = Vec::with_capacity(users.len());
        for user in users {
            let url = format!("{ws}/api/ws?token={}", server.token(user)?);
            // Recorded as a connection before the handshake is answered.
            let (mut socket, _) = connect_async(url).await.context("opening a socket")?;
            let (arrivals, me) = (arrivals.clone(), user.uuid);
            readers.push(tokio::spawn(async move {
                while let Some(Ok(frame)) = socket.next().await {
                    let WsMessage::Text(text) = frame else {
                        continue;
                    };
                    let Ok(frame) = serde_json::from_str::<serde_json::Value>(&text) else {
                        continue;
                    };
                    let about = match frame["type"].as_str() {
                        Some("message") => &frame["message"]["uuid"],
                        Some("conversation") => &frame["conversation"]["uuid"],
                        _ => continue,
                    };
                    if let Some(Ok(id)) = about.as_str().map(str::parse) {
                        arrivals
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry((id, me))
                            .or_insert_with(Instant::now);
                    }
                }
            }));
        }
        Ok(Self { arrivals, readers })
    }

    /// Waits up to `limit` for a frame of each message or conversation at
    /// each user of `expected` (its uuid, the user, when the request was
    /// answered); the waits from the answer to the frame, in ms, of the
    /// frames that came. A frame can come before the answer is read: that is
    /// no wait at all.
    pub(crate) async fn waits(
        &self,
        expected: &[(Uuid, UserId, Instant)],
        limit: Duration,
    ) -> Vec<f64> {
        let deadline = Instant::now() + limit;
        loop {
            let arrived = {
                let arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
                expected
                    .iter()
                    .filter(|(id, to, _)| arrivals.contains_key(&(*id, *to)))
                    .count()
            };
            if arrived == expected.len() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        expected
            .iter()
            .filter_map(|(id, to, at)| {
                arrivals
                    .get(&(*id, *to))
                    .map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1e3)
            })
            .collect()
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// Opens one socket per user, sends `ops` messages through the API at
/// `concurrency`, and times each one's frame at the other member; the ids
/// sent come back beside the report.
pub(crate) async fn measure(
    server: &Server,
    client: &Client,
    conversations: &Arc<Vec<Conversation>>,
    users: &[User],
    ops: usize,
    concurrency: usize,
) -> anyhow::Result<(DeliveryReport, Vec<MessageId>)> {
    let sockets = Sockets::open(server, users).await?;
    let (sender, picked) = (client.clone(), conversations.clone());
    let answered: Vec<(MessageId, UserId, Instant)> =
        crate::phases::spread(ops, concurrency, (104_729, 3), move |rng| {
            let c = &picked[rng.gen_range(0..picked.len())];
            let from = rng.gen_range(0..2);
            let (client, group, by, to) = (
                sender.clone(),
                c.group,
                c.members[from].clone(),
                c.members[1 - from].uuid,
            );
            async move {
                let id = client.send(group, &by, "live message").await?;
                Ok((id, to, Instant::now()))
            }
        })
        .await?;
    // Frames still on their way.
    let due: Vec<(Uuid, UserId, Instant)> = answered
        .iter()
        .map(|&(id, to, at)| (*id.as_uuid(), to, at))
        .collect();
    let waits = sockets.waits(&due, Duration::from_secs(30)).await;
    drop(sockets);
    let report = DeliveryReport {
        sockets: users.len(),
        sends: answered.len(),
        delivered: waits.len(),
        p50_ms: percentile(&waits, 50.0),
        p99_ms: percentile(&waits, 99.0),
        max_ms: waits.iter().copied().fold(0.0, f64::max),
        stream_units_per_message: 0.0,
    };
    Ok((report, answered.iter().map(|(id, _, _)| *id).collect()))
}

/// What `n` idle sockets cost one `dm-api`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleSockets {
    /// Sockets held.
    pub sockets: usize,
    /// The process's resident set once serving, before any socket, in MB.
    pub rss_before_mb: f64,
    /// With every socket open and idle, in MB.
    pub rss_after_mb: f64,
    /// The difference, per socket, in KiB.
    pub kib_per_socket: f64,
}

/// The `dm-api` child, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kib / 1024.0)
}

/// Runs `dm_api` (`--store memory --seed`, local auth), opens `n` sockets
/// of the seeded users to it, and reads its resident set.
pub async fn idle_sockets(dm_api: &Path, n: usize) -> anyhow::Result<IdleSockets> {
    if !dm_api.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release --bin dm-api` (cargo xtask bench does), or pass --sockets 0",
            dm_api.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("jwt.key");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Killed(
        Command::new(dm_api)
            .args(["--store", "memory", "--seed", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--local-key-file")
            .arg(&key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", dm_api.display()))?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("dm-api did not become ready on {base}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let verifier = LocalVerifier::from_file(&key)?;
    let tokens: Vec<String> = dm_store::seed::USERS
        .iter()
        .map(|u| verifier.mint(u.sub))
        .collect::<Result<_, _>>()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_mb(child.0.id())?;
    let ws = format!("ws://127.0.0.1:{port}/api/ws?token=");
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let (socket, _) = connect_async(format!("{ws}{}", tokens[i % tokens.len()]))
            .await
            .with_context(|| format!("opening socket {i}"))?;
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_mb(child.0.id())?;
    drop(sockets);
    drop(child);
    Ok(IdleSockets {
        sockets: n,
        rss_before_mb: before,
        rss_after_mb: after,
        kib_per_socket: if n == 0 {
            0.0
        } else {
            (after - before) * 1024.0 / n as f64
        },
    })
}
