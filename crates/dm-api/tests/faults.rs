//! Faults below the API: a store slower than the request timeout, and
//! DynamoDB throttling (injected by an SDK interceptor on DynamoDB Local) that the
//! client's standard-mode retries absorb, then no longer can.

mod common;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use dm_api::{AppState, app, auth::LocalVerifier};
use dm_domain::{GroupId, ItemKey, Partition};
use dm_store::{
    MemoryRepository, Record, Repository, StoreError,
    seed::USERS,
    table::{Order, Read, ScanPage, Table, Write, WriteError},
    testing::{FaultInjector, Injected},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A memory table whose every call takes `delay`.
#[derive(Debug, Clone)]
struct Slow(MemoryRepository, Duration);

#[async_trait]
impl Table for Slow {
    async fn get(&self, key: &ItemKey) -> Result<Option<Record>, StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.get(key).await
    }
    async fn query(
        &self,
        p: Partition,
        after: Option<&str>,
        limit: usize,
        order: Order,
        read: Read,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.query(p, after, limit, order, read).await
    }
    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.group_rows(group).await
    }
    async fn write(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        tokio::time::sleep(self.1).await;
        self.0.write(writes).await
    }
    async fn put_batch(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.0.put_batch(records).await
    }
    async fn scan_page(&self, start: Option<ItemKey>) -> Result<ScanPage, StoreError> {
        tokio::time::sleep(self.1).await;
        self.0.scan_page(start).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        tokio::time::sleep(self.1).await;
        Table::ping(&self.0).await
    }
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_a_503_not_a_hang() {
    let memory = MemoryRepository::new();
    dm_store::seed::seed(&memory, |_, _| {}).await.unwrap();
    let key = LocalVerifier::new(common::KEY.to_vec());
    let mut state = AppState::new(
        Arc::new(Slow(memory, Duration::from_millis(400))),
        Arc::new(key.clone()),
    );
    state.timeout = Duration::from_millis(100);
    let app = app(state);
    let started = std::time::Instant::now();
    let request = Request::get("/api/message_groups")
        .header(
            "authorization",
            format!("Bearer {}", key.mint(USERS[0].sub).unwrap()),
        )
        .body(Body::empty())
        .unwrap();
    let (status, retry, body) = call(&app, request).await;
    assert_eq!(
        (status, retry.as_deref(), body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("1"),
            json!({"errors": ["unavailable"]})
        )
    );
    // Unanswered, the request would take three store calls: 1.2 s.
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "answered at the timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_then_a_503_with_retry_after() {
    let injector = FaultInjector::default();
    let repo = dm_store::testing::fresh_table_with_sdk_retries(&injector).await;
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    let key = LocalVerifier::new(common::KEY.to_vec());
    let token = key.mint(USERS[0].sub).unwrap();
    let app = app(AppState::new(Arc::new(repo.clone()), Arc::new(key)));
    let send = |text: &str| {
        Request::post("/api/messages")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"handle": "londo", "message": text}).to_string(),
            ))
            .unwrap()
    };
    // Sign-in reads the subject and the user (2 calls), then the pair is read
    // and the transaction sent. Two throttled attempts of the pair read: the
    // client's retries absorb them.
    let next = injector.calls();
    injector.inject(next + 3, Injected::Throttled);
    injector.inject(next + 4, Injected::Throttled);
    let (status, _, body) = call(&app, send("through the retries")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let group: GroupId = body["message_group_uuid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Three in a row exhaust them: 503, Retry-After, and nothing stored.
    let next = injector.calls();
    for call in next + 1..=next + 12 {
        injector.inject(call, Injected::Throttled);
    }
    let (status, retry, body) = call(&app, send("never stored")).await;
    assert_eq!(
        (status, retry.as_deref(), body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("1"),
            json!({"errors": ["unavailable"]})
        )
    );
    injector.clear();
    let messages = repo
        .messages(
            group,
            dm_domain::UserId::from_uuid(USERS[0].uuid),
            &dm_store::PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(messages.items.len(), 1, "only the first message");
}

#[tokio::test]
async fn oversize_headers_are_refused_before_any_work() {
    let memory = MemoryRepository::new();
    let key = LocalVerifier::new(common::KEY.to_vec());
    let calls = memory.calls();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(Arc::new(memory.clone()), Arc::new(key));
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    let response = reqwest::Client::new()
        .get(format!("{base}/api/message_groups"))
        .header("authorization", format!("Bearer {}", "x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"errors": ["headers_too_large"]}));
    assert_eq!(memory.calls(), calls, "the store was never asked");
}
