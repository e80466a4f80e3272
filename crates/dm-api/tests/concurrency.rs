//! Slow (`cargo xtask test --slow`): 16 clients post 200 messages each through
//! the API on DynamoDB Local, into one shared conversation and into 50
//! conversations, with the stream poller running. Every accepted message is
//! stored exactly once, and the rows converge to one per member showing the
//! newest message.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use dm_api::{AppState, app, auth::LocalVerifier};
use dm_domain::{DisplayName, GroupId, Handle, MessageText, NewUser, User, UserId};
use dm_store::{DynamoRepository, NewMessage, PageRequest, Repository};
use dm_stream::poller::{Poller, PollerConfig};

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 200;

async fn users(repo: &DynamoRepository, n: usize) -> Vec<User> {
    let mut out = Vec::new();
    for i in 0..n {
        let handle = format!("c{i}_{}", &UserId::new().to_string()[..6]);
        out.push(
            repo.create_user(NewUser {
                uuid: UserId::new(),
                handle: Handle::parse(&handle).unwrap(),
                display_name: DisplayName::parse(&handle).unwrap(),
                cognito_user_id: Some(format!("sub-{handle}")),
            })
            .await
            .unwrap(),
        );
    }
    out
}

/// Runs the load: client `c` sends as `senders(c)` into `target(c)`; returns the accepted message ids.
async fn load(base: &str, key: &LocalVerifier, plan: Vec<(User, GroupId)>) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (client, (sender, group)) in plan.into_iter().enumerate() {
        let token = key
            .mint(sender.cognito_user_id.as_deref().unwrap())
            .unwrap();
        let (http, url) = (http.clone(), format!("{base}/api/messages"));
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for i in 0..PER_CLIENT {
                let body = serde_json::json!({"message": format!("client {client} message {i}"), "message_group_uuid": group});
                let response = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                assert!(response.status().is_success() || response.status() == 503, "{}", response.status());
                if response.status().is_success() {
                    let json: serde_json::Value = response.json().await.unwrap();
                    accepted.push(json["uuid"].as_str().unwrap().to_owned());
                }
            }
            accepted
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

async fn stored(repo: &DynamoRepository, group: GroupId, member: UserId) -> Vec<String> {
    let mut out = Vec::new();
    let mut request = PageRequest::first(100);
    loop {
        let page = repo.messages(group, member, &request).await.unwrap();
        out.extend(page.items.iter().map(|m| m.id.to_string()));
        match page.next {
            Some(next) => request = PageRequest::after(100, next),
            None => return out,
        }
    }
}

async fn converged(repo: &DynamoRepository, groups: &[(GroupId, [UserId; 2])]) {
    let deadline = Instant::now() + Duration::from_secs(180);
    'wait: loop {
        assert!(Instant::now() < deadline, "rows did not converge");
        for (group, members) in groups {
            let newest = repo
                .messages(*group, members[0], &PageRequest::first(1))
                .await
                .unwrap()
                .items[0]
                .id;
            for member in members {
                let rows = repo
                    .conversations(*member, &PageRequest::first(100))
                    .await
                    .unwrap();
                let mine: Vec<_> = rows.items.iter().filter(|r| r.group == *group).collect();
                assert!(mine.len() <= 1, "two rows for one member");
                if mine.len() != 1 || mine[0].last_message_id != Some(newest) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'wait;
                }
            }
        }
        return;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow: run with `cargo xtask test --slow`"]
async fn sixteen_clients_lose_and_duplicate_nothing() {
    let repo = dm_store::testing::fresh_table().await;
    let key = LocalVerifier::new(b"concurrency test key".to_vec());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(Arc::new(repo.clone()), Arc::new(key.clone()));
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    let sdk = dm_store::client::sdk_config(Some(dm_local::shared())).await;
    let poller = Poller::connect(
        &sdk,
        dm_stream::DEFAULT_CONCURRENCY,
        PollerConfig {
            table: repo.table().to_owned().to_owned(),
            checkpoint: Some(
                std::env::temp_dir().join(format!("dm-concurrency-{}.json", UserId::new())),
            ),
            interval: Duration::from_millis(50),
        },
    )
    .unwrap();
    tokio::spawn(poller.run(std::future::pending()));

    // One shared conversation: the 16 clients are its two members, 8 each.
    let pair = users(&repo, 2).await;
    let shared = repo
        .start_conversation(
            &pair[0].summary(),
            &pair[1].summary(),
            NewMessage::now(MessageText::parse("start").unwrap()),
        )
        .await
        .unwrap()
        .message
        .group;
    let plan = (0..CLIENTS)
        .map(|c| (pair[c % 2].clone(), shared))
        .collect();
    let accepted = load(&base, &key, plan).await;
    let kept = stored(&repo, shared, pair[0].uuid).await;
    let unique: HashSet<&String> = kept.iter().collect();
    assert_eq!(unique.len(), kept.len(), "no message stored twice");
    assert!(
        accepted.iter().all(|id| unique.contains(id)),
        "every accepted message is stored"
    );
    assert_eq!(
        kept.len(),
        accepted.len() + 1,
        "and nothing else (plus the first)"
    );
    println!(
        "one conversation: {} of {} requests accepted, all stored once",
        accepted.len(),
        CLIENTS * PER_CLIENT
    );
    converged(&repo, &[(shared, [pair[0].uuid, pair[1].uuid])]).await;

    // Fifty conversations between a hundred users; each client sends into its own few.
    let people = users(&repo, 100).await;
    let mut groups = Vec::new();
    for i in 0..50 {
        let (a, b) = (&people[2 * i], &people[2 * i + 1]);
        let group = repo
            .start_conversation(
                &a.summary(),
                &b.summary(),
                NewMessage::now(MessageText::parse("start").unwrap()),
            )
            .await
            .unwrap()
            .message
            .group;
        groups.push((group, [a.uuid, b.uuid], a.clone()));
    }
    let plan = (0..CLIENTS)
        .map(|c| (groups[c * 3 % 50].2.clone(), groups[c * 3 % 50].0))
        .collect();
    let accepted = load(&base, &key, plan).await;
    let mut kept = Vec::new();
    for (group, members, _) in &groups {
        kept.extend(stored(&repo, *group, members[0]).await);
    }
    let unique: HashSet<&String> = kept.iter().collect();
    assert_eq!(unique.len(), kept.len(), "no message stored twice");
    assert!(
        accepted.iter().all(|id| unique.contains(id)),
        "every accepted message is stored"
    );
    assert_eq!(kept.len(), accepted.len() + 50);
    println!(
        "fifty conversations: {} of {} requests accepted, all stored once",
        accepted.len(),
        CLIENTS * PER_CLIENT
    );
    let pairs: Vec<(GroupId, [UserId; 2])> = groups.iter().map(|(g, m, _)| (*g, *m)).collect();
    converged(&repo, &pairs).await;
}
