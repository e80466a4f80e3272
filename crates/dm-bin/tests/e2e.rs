//! End to end: the `dm-api` binary on DynamoDB Local, with the stream poller
//! beside it, driven over HTTP as the frontend would.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use dm_api::auth::LocalVerifier;
use dm_store::{Repository, seed::USERS};
use dm_stream::poller::{Poller, PollerConfig};
use serde_json::{Value, json};

struct Api {
    child: std::process::Child,
    base: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_through_the_binary_on_dynamodb_local() {
    let repo = dm_store::testing::fresh_table().await;
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    let endpoint = dm_local::shared();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let key_file = dir.join("jwt.key");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_dm-api"))
        .args([
            "--store",
            "dynamodb",
            "--endpoint-url",
            endpoint,
            "--table",
            repo.table(),
            "--auth",
            "local",
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--local-key-file",
            key_file.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let api = Api {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };

    // The stream poller beside it.
    let sdk = dm_store::client::sdk_config(Some(endpoint)).await;
    let poller = Poller::connect(
        &sdk,
        dm_stream::DEFAULT_CONCURRENCY,
        PollerConfig {
            table: repo.table().to_owned().to_owned(),
            checkpoint: Some(dir.join("checkpoint.json")),
            interval: Duration::from_millis(50),
        },
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = tokio::spawn(poller.run(async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "dm-api became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The key file now exists: tokens minted with it are accepted.
    let key = LocalVerifier::from_file(&key_file).unwrap();
    let token = |i: usize| key.mint(USERS[i].sub).unwrap();
    let get = |path: String, who: usize| {
        let request = http
            .get(format!("{}{path}", api.base))
            .bearer_auth(token(who));
        async move {
            let response = request.send().await.unwrap();
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
                link,
            )
        }
    };
    let post = |body: Value, who: usize| {
        let request = http
            .post(format!("{}/api/messages", api.base))
            .bearer_auth(token(who))
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    // Waits until `who`'s first conversation shows `text`.
    let top_shows = |who: usize, text: &'static str| {
        let get = &get;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (_, groups, _) = get("/api/message_groups".into(), who).await;
                if groups[0]["message"] == text {
                    return groups;
                }
                assert!(Instant::now() < deadline, "rows did not follow: {groups}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // Start a conversation by handle: andrewbrown -> londo.
    let (status, started) = post(json!({"handle": "londo", "message": "Hello, Londo!"}), 0).await;
    assert_eq!(status, 200, "{started}");
    let londo_group = started["message_group_uuid"].as_str().unwrap().to_owned();
    let groups = top_shows(2, "Hello, Londo!").await;
    assert_eq!(groups[0]["handle"], "andrewbrown");
    let groups = top_shows(0, "Hello, Londo!").await;
    assert_eq!(
        (groups[0]["handle"].as_str(), groups[1]["handle"].as_str()),
        (Some("londo"), Some("bayko"))
    );

    // A message in the older conversation puts it back on top.
    let bayko_group = groups[1]["uuid"].as_str().unwrap().to_owned();
    let (status, _) = post(
        json!({"message_group_uuid": bayko_group, "message": "Still there?"}),
        1,
    )
    .await;
    assert_eq!(status, 200);
    let groups = top_shows(0, "Still there?").await;
    assert_eq!(groups[0]["handle"], "bayko");
    assert_eq!(
        groups.as_array().unwrap().len(),
        2,
        "one row per conversation"
    );

    // Londo replies; the conversation is on top again for both.
    for i in 0..24 {
        let (status, _) = post(
            json!({"message_group_uuid": londo_group, "message": format!("reply {i}")}),
            2,
        )
        .await;
        assert_eq!(status, 200);
    }
    top_shows(0, "reply 23").await;

    // Messages across pages, back in time, through the Link header.
    let mut path = format!("/api/messages/{londo_group}?limit=10");
    let mut pages = Vec::new();
    loop {
        let (status, page, link) = get(path.clone(), 0).await;
        assert_eq!(status, 200);
        pages.push(page.as_array().unwrap().clone());
        match link {
            Some(link) => {
                path = link[link.find('<').unwrap() + 1..link.find('>').unwrap()].to_owned()
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let all: Vec<Value> = pages.into_iter().rev().flatten().collect();
    assert_eq!(all[0]["message"], "Hello, Londo!");
    assert_eq!(all[24]["message"], "reply 23");
    // Bayko is not in that conversation.
    assert_eq!(get(format!("/api/messages/{londo_group}"), 1).await.0, 404);

    // What the API wrote is in the table.
    let londo = repo
        .user_by_handle(&dm_domain::Handle::parse("londo").unwrap())
        .await
        .unwrap();
    assert!(
        repo.is_member(londo_group.parse().unwrap(), londo.uuid)
            .await
            .unwrap()
    );
    let _ = stop.send(());
    poller.await.unwrap();
}
