//! Live delivery end to end, as Cruddur's page meets it: `dm-api` serving
//! WebSockets, and a message sent through the API reaching the other
//! member's socket (the message frame, then the conversation frame) and the
//! sender's other tab, and nobody else's. On DynamoDB Local with the stream
//! poller posting through the management API, and in memory in one process.

use std::time::Duration;

use dm_api::auth::LocalVerifier;
use dm_bin::{api::Config, poll::PollArgs, target::Target};
use dm_store::seed::USERS;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message as WsMessage};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Running {
    base: String,
    key: LocalVerifier,
    _temp: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `dm-api` (and on DynamoDB the poller, delivering through `dm-api`'s
/// management API), serving until the test ends.
async fn start(dynamo: bool) -> Running {
    let temp = tempfile::tempdir().unwrap();
    let key_file = temp.path().join("jwt.key");
    let key = LocalVerifier::from_file(&key_file).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "dm-api".to_owned(),
        "--listen".into(),
        listen,
        "--local-key-file".into(),
        key_file.to_str().unwrap().into(),
    ];
    if dynamo {
        let repo = dm_store::testing::fresh_table().await;
        dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
        let endpoint = dm_local::shared().to_owned();
        args.extend([
            "--store".into(),
            "dynamodb".into(),
            "--endpoint-url".into(),
            endpoint.clone(),
            "--table".into(),
            repo.table().into(),
        ]);
        let poll = PollArgs {
            target: Target::local(endpoint, repo.table()),
            checkpoint: Some(temp.path().join("checkpoint.json")),
            live_endpoint: Some(base.clone()),
            interval_ms: 20,
            concurrency: dm_stream::DEFAULT_CONCURRENCY,
        };
        let poller = poll.poller().await.unwrap();
        tokio::spawn(poller.run(std::future::pending()));
    } else {
        args.extend(["--store".into(), "memory".into(), "--seed".into()]);
    }
    let config = <Config as clap::Parser>::parse_from(args);
    tokio::spawn(dm_bin::api::serve(config, std::future::pending()));
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Running {
        base,
        key,
        _temp: temp,
    }
}

impl Running {
    fn token(&self, handle: &str) -> String {
        let user = USERS.iter().find(|u| u.handle == handle).unwrap();
        self.key.mint(user.sub).unwrap()
    }

    async fn socket(&self, handle: &str) -> Socket {
        let url = format!(
            "{}/api/ws?token={}",
            self.base.replace("http://", "ws://"),
            self.token(handle)
        );
        connect_async(url).await.unwrap().0
    }

    async fn send(&self, from: &str, to: &str, text: &str) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/api/messages", self.base))
            .bearer_auth(self.token(from))
            .json(&json!({ "handle": to, "message": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// The frames a socket receives within `wait` that mention `text`.
async fn frames_about(socket: &mut Socket, text: &str, want: usize, wait: Duration) -> Vec<Value> {
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while found.len() < want {
        let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, socket.next()).await else {
            break;
        };
        if let WsMessage::Text(text_frame) = frame {
            let value: Value = serde_json::from_str(&text_frame).unwrap();
            if value.to_string().contains(text) {
                found.push(value);
            }
        }
    }
    found
}

async fn a_message_reaches_every_socket_of_every_member_and_nobody_else(dynamo: bool) {
    let api = start(dynamo).await;
    let mut bayko = api.socket("bayko").await;
    let mut andrew_other_tab = api.socket("andrewbrown").await;
    let mut londo = api.socket("londo").await;
    // Sockets are registered before the upgrade answers; a ping proves it is open.
    bayko.send(WsMessage::Ping(vec![1].into())).await.unwrap();

    let text = format!("live {}", uuid_like());
    let sent = api.send("andrewbrown", "bayko", &text).await;
    let wait = Duration::from_secs(10);

    let frames = frames_about(&mut bayko, &text, 2, wait).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["type"], "message");
    assert_eq!(frames[0]["message_group_uuid"], sent["message_group_uuid"]);
    assert_eq!(frames[0]["message"]["uuid"], sent["uuid"]);
    assert_eq!(frames[0]["message"]["handle"], "andrewbrown");
    assert_eq!(frames[0]["message"]["created_at"], sent["created_at"]);
    assert_eq!(frames[1]["type"], "conversation");
    let row = &frames[1]["conversation"];
    assert_eq!(row["uuid"], sent["message_group_uuid"]);
    assert_eq!(
        row["handle"], "andrewbrown",
        "bayko's row names the other member"
    );
    assert_eq!(row["message"], text.as_str());

    let frames = frames_about(&mut andrew_other_tab, &text, 2, wait).await;
    assert_eq!(frames.len(), 2, "the sender's other tab: {frames:?}");
    assert_eq!(frames[1]["conversation"]["handle"], "bayko");

    let leaked = frames_about(&mut londo, &text, 1, Duration::from_millis(800)).await;
    assert!(leaked.is_empty(), "a non-member got {leaked:?}");
}

async fn a_socket_needs_a_valid_token(dynamo: bool) {
    let api = start(dynamo).await;
    let ws = api.base.replace("http://", "ws://");
    for url in [
        format!("{ws}/api/ws"),
        format!("{ws}/api/ws?token="),
        format!("{ws}/api/ws?token=not.a.token"),
    ] {
        let refused = connect_async(&url).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("{url} was accepted");
        };
        assert_eq!(response.status(), 401, "{url}");
    }
    // The management API answers loopback; an unknown connection is gone.
    let response = reqwest::Client::new()
        .post(format!("{}/@connections/nobody", api.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");
    // And so does its DeleteConnection.
    let response = reqwest::Client::new()
        .delete(format!("{}/@connections/nobody", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::$case(false).await; } )* }
        mod dynamodb { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::$case(true).await; } )* }
    };
}

async fn a_socket_lives_no_longer_than_its_token(dynamo: bool) {
    let api = start(dynamo).await;
    let sub = USERS.iter().find(|u| u.handle == "bayko").unwrap().sub;
    let token = api.key.mint_for(sub, Duration::from_secs(2)).unwrap();
    let url = format!(
        "{}/api/ws?token={token}",
        api.base.replace("http://", "ws://")
    );
    let (mut socket, _) = connect_async(url).await.unwrap();
    let started = tokio::time::Instant::now();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 4001);
    assert_eq!(close.reason.as_str(), "token_expired");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

both!(
    a_message_reaches_every_socket_of_every_member_and_nobody_else,
    a_socket_needs_a_valid_token,
    a_socket_lives_no_longer_than_its_token,
);
