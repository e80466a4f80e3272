//! Slow (`cargo xtask test --slow`): DynamoDB Local (with `--persist`) is
//! stopped in the middle of a load and started again. Meanwhile the API
//! answers 503 with Retry-After (no panic, no request hanging past its
//! timeout) and `/readyz` goes false, then true; afterwards no message that
//! got a 2xx is missing, and the poller resumes and the rows converge.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use dm_api::{AppState, app, auth::LocalVerifier};
use dm_store::{DynamoRepository, PageRequest, Repository, seed::USERS};
use dm_stream::poller::{Poller, PollerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow: run with `cargo xtask test --slow`"]
async fn an_outage_loses_no_accepted_message() {
    let dir = std::env::temp_dir().join(format!("dm-outage-{}", uuid::Uuid::new_v4()));
    let install = dm_local::Install::ensure(&dm_local::default_dir()).unwrap();
    let start = |port: Option<u16>| {
        let (install, dir) = (install.clone(), dir.clone());
        move || {
            install
                .start(&dm_local::Options {
                    port,
                    persist: Some(dir),
                })
                .unwrap()
        }
    };
    let local = tokio::task::spawn_blocking(start(None)).await.unwrap();
    let port = local.port();
    let endpoint = local.endpoint();
    let config = dm_store::client::sdk_config(Some(&endpoint)).await;
    let repo = DynamoRepository::new(&config, "outage").unwrap();
    dm_store::schema::create_table(repo.client(), &dm_store::schema::TableSpec::new("outage"))
        .await
        .unwrap();
    let seeded = dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();

    let key = LocalVerifier::new(b"outage test key".to_vec());
    let mut state = AppState::new(Arc::new(repo.clone()), Arc::new(key.clone()));
    state.timeout = Duration::from_secs(3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    let sdk = dm_store::client::sdk_config(Some(&endpoint)).await;
    let poller = Poller::connect(
        &sdk,
        dm_stream::DEFAULT_CONCURRENCY,
        PollerConfig {
            table: "outage".to_owned(),
            checkpoint: Some(dir.join("checkpoint.json")),
            interval: Duration::from_millis(50),
        },
    )
    .unwrap();
    tokio::spawn(poller.run(std::future::pending()));

    // Four clients send as fast as they can until told to stop.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (http, base, accepted, refused, stop) = (
            http.clone(),
            base.clone(),
            accepted.clone(),
            refused.clone(),
            stop.clone(),
        );
        let token = key.mint(USERS[c % 2].sub).unwrap();
        let group = seeded.group;
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = serde_json::json!({"message": format!("client {c} message {i}"), "message_group_uuid": group});
                let started = Instant::now();
                let response = http.post(format!("{base}/api/messages")).bearer_auth(&token).json(&body).send().await.unwrap();
                assert!(started.elapsed() < Duration::from_secs(6), "a request hung for {:?}", started.elapsed());
                match response.status().as_u16() {
                    200 => {
                        let json: serde_json::Value = response.json().await.unwrap();
                        accepted.lock().unwrap().push(json["uuid"].as_str().unwrap().to_owned());
                    }
                    503 => {
                        assert_eq!(response.headers()["retry-after"], "1");
                        *refused.lock().unwrap() += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => panic!("unexpected status {other}"),
                }
                i += 1;
            }
        }));
    }
    let ready = |http: reqwest::Client, base: String| async move {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ready(http.clone(), base.clone()).await, 200);

    // The outage.
    tokio::task::spawn_blocking(move || local.stop())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(http.clone(), base.clone()).await != 503 {
        assert!(Instant::now() < deadline, "/readyz never went false");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        *refused.lock().unwrap() > 0,
        "requests during the outage were answered 503"
    );

    // Back again, on the same port with the same data.
    let local = tokio::task::spawn_blocking(start(Some(port)))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(http.clone(), base.clone()).await != 200 {
        assert!(Instant::now() < deadline, "/readyz never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = accepted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        accepted.lock().unwrap().len() > before,
        "sends succeed again"
    );
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    // Every accepted message is there, and the rows converge on the newest.
    let member = dm_domain::UserId::from_uuid(USERS[0].uuid);
    let mut stored = std::collections::HashSet::new();
    let mut request = PageRequest::first(100);
    loop {
        let page = repo.messages(seeded.group, member, &request).await.unwrap();
        stored.extend(page.items.iter().map(|m| m.id.to_string()));
        match page.next {
            Some(next) => request = PageRequest::after(100, next),
            None => break,
        }
    }
    let accepted = accepted.lock().unwrap().clone();
    let missing: Vec<_> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} accepted messages missing",
        missing.len()
    );
    println!(
        "outage: {} requests accepted, {} answered 503 during the outage, 0 accepted messages missing",
        accepted.len(),
        *refused.lock().unwrap()
    );
    let newest = repo
        .messages(seeded.group, member, &PageRequest::first(1))
        .await
        .unwrap()
        .items[0]
        .id;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = repo
            .conversations(member, &PageRequest::default())
            .await
            .unwrap();
        assert!(rows.items.len() <= 1);
        if rows.items.first().and_then(|r| r.last_message_id) == Some(newest) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the poller did not resume: {:?}",
            rows.items.first().map(|r| &r.preview)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(local);
    let _ = std::fs::remove_dir_all(dir);
}
