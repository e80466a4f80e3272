//! A table as Cruddur's week-5 Python wrote it, adopted while `dm-api` and
//! the stream poller serve it: messages sent through the API during
//! `migrate` end where they belong, and afterwards the old conversation is
//! listed, read, written to and delivered live like any other. On DynamoDB
//! Local.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use dm_api::auth::LocalVerifier;
use dm_bin::{api::Config, poll::PollArgs, target::Target};
use dm_domain::{DisplayName, GroupId, Handle, MessageId, NewUser, UserId};
use dm_store::Repository;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message as WsMessage};

/// `dm-api` as a client meets it.
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
    key: std::sync::Arc<LocalVerifier>,
}

impl Api {
    fn token(&self, user: &dm_domain::User) -> String {
        self.key
            .mint(user.cognito_user_id.as_deref().unwrap())
            .unwrap()
    }

    async fn send(&self, from: &dm_domain::User, group: GroupId, text: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/api/messages", self.base))
            .bearer_auth(self.token(from))
            .json(&json!({ "message_group_uuid": group.to_string(), "message": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn get(&self, user: &dm_domain::User, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(user))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Puts an item of string attributes, as boto3 would.
async fn put(repo: &dm_store::DynamoRepository, pairs: Vec<(&str, String)>) {
    let mut request = repo.client().put_item().table_name(repo.table());
    for (name, value) in pairs {
        request = request.item(name, AttributeValue::S(value));
    }
    request.send().await.unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cruddur_table_adopted_while_serving_works_like_any_other() {
    let repo = dm_store::testing::fresh_table().await;
    let endpoint = dm_local::shared().to_owned();
    let short = || UserId::new().to_string()[..8].to_owned();
    let new_user = |handle: String| NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(&handle).unwrap(),
        display_name: DisplayName::parse(&format!("{handle} name")).unwrap(),
        cognito_user_id: Some(format!("sub-{}", UserId::new())),
    };
    let a = repo
        .create_user(new_user(format!("ad_a{}", short())))
        .await
        .unwrap();
    let b = repo
        .create_user(new_user(format!("ad_b{}", short())))
        .await
        .unwrap();

    // One conversation, exactly as Cruddur's Python wrote it: bare local
    // timestamps for keys (Toronto's offset; a fraction dropped when zero),
    // rows keyed by their last reply, no group item.
    let group = GroupId::new();
    for (text, sender, at) in [
        ("hi from toronto", &a, "2023-03-21T23:30:00-05:00"),
        ("hello back", &b, "2023-03-21T23:31:00.120000-05:00"),
    ] {
        put(
            &repo,
            vec![
                ("pk", format!("MSG#{group}")),
                ("sk", at.into()),
                ("message_uuid", MessageId::new().to_string()),
                ("message", text.into()),
                ("user_uuid", sender.uuid.to_string()),
                ("user_display_name", sender.display_name.to_string()),
                ("user_handle", sender.handle.to_string()),
            ],
        )
        .await;
    }
    for (owner, other) in [(&a, &b), (&b, &a)] {
        put(
            &repo,
            vec![
                ("pk", format!("GRP#{}", owner.uuid)),
                ("sk", "2023-03-21T23:31:00.120000-05:00".into()),
                ("message_group_uuid", group.to_string()),
                ("message", "hello back".into()),
                ("user_uuid", other.uuid.to_string()),
                ("user_display_name", other.display_name.to_string()),
                ("user_handle", other.handle.to_string()),
            ],
        )
        .await;
    }

    // dm-api and the poller, as `cargo xtask up` runs them.
    let temp = tempfile::tempdir().unwrap();
    let key_file = temp.path().join("jwt.key");
    let key = LocalVerifier::from_file(&key_file).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = <Config as clap::Parser>::parse_from([
        "dm-api",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--local-key-file",
        key_file.to_str().unwrap(),
        "--store",
        "dynamodb",
        "--endpoint-url",
        &endpoint,
        "--table",
        repo.table(),
    ]);
    tokio::spawn(dm_bin::api::serve(config, std::future::pending()));
    let poll = PollArgs {
        target: Target::local(endpoint.clone(), repo.table()),
        checkpoint: Some(temp.path().join("checkpoint.json")),
        live_endpoint: Some(base.clone()),
        interval_ms: 20,
        concurrency: dm_stream::DEFAULT_CONCURRENCY,
    };
    tokio::spawn(poll.poller().await.unwrap().run(std::future::pending()));
    let api = Api {
        base: base.clone(),
        http: reqwest::Client::new(),
        key: std::sync::Arc::new(key),
    };
    for _ in 0..200 {
        if api.http.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // b writes into the old conversation while another process migrates.
    let sending = {
        let (api, b) = (api.clone(), b.clone());
        tokio::spawn(async move {
            for i in 0..5 {
                api.send(&b, group, &format!("during {i}")).await;
            }
        })
    };
    let config = dm_store::client::sdk_config(Some(&endpoint)).await;
    let other = dm_store::DynamoRepository::new(&config, repo.table()).unwrap();
    let done = other.migrate_layout(false, &mut |_| {}).await.unwrap();
    sending.await.unwrap();
    assert_eq!(
        (done.messages_rekeyed, done.groups_made, done.claims_made),
        (2, 1, 1),
        "{done:?}"
    );

    // a's list: the conversation at b's last message, with every message of
    // b's unread (a never marked), once the stream has caught up.
    let mut rows = Value::Null;
    for _ in 0..200 {
        rows = api.get(&a, "/api/message_groups").await;
        if rows[0]["message"] == "during 4" && rows[0]["unread_count"] == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["uuid"], group.to_string());
    assert_eq!(rows[0]["message"], "during 4", "{rows}");
    assert_eq!(
        rows[0]["unread_count"], 6,
        "hello back and the five: {rows}"
    );

    // The frontend's link: the messages by handle, in time order, in UTC.
    let page = api.get(&a, &format!("/api/messages/@{}", b.handle)).await;
    let texts: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts[..2], ["hi from toronto", "hello back"], "{page}");
    assert_eq!(page[0]["created_at"], "2023-03-22T04:30:00.000000+00:00");
    assert_eq!(texts.len(), 7);

    // Live: a's socket gets b's next message and a's row.
    let url = format!(
        "{}/api/ws?token={}",
        base.replace("http://", "ws://"),
        api.token(&a)
    );
    let mut socket = connect_async(url).await.unwrap().0;
    socket.send(WsMessage::Ping(vec![1].into())).await.unwrap();
    api.send(&b, group, "after the migration").await;
    let mut types = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while types.len() < 2 {
        let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, socket.next()).await else {
            break;
        };
        if let WsMessage::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value.to_string().contains("after the migration") {
                types.push(value["type"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    assert_eq!(types, ["message", "conversation"]);
}
