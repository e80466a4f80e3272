//! Which credentials and region the tools sign with against an endpoint:
//! the AWS default chain's (environment, profile), and fixed `local` ones
//! only when the chain has none. The endpoint is a stand-in DynamoDB that
//! records each request's `Authorization` header, so the signature's
//! credential scope (`Credential=KEY/DATE/REGION/dynamodb/...`) shows what
//! was used.

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, http::HeaderMap, routing::post};

type Seen = Arc<Mutex<Vec<String>>>;

/// A stand-in DynamoDB answering ListTables with no tables.
async fn stand_in() -> (String, Seen) {
    let seen = Seen::default();
    let recorder = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |headers: HeaderMap| {
            let recorder = recorder.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                recorder.lock().unwrap().push(auth);
                (
                    [("content-type", "application/x-amz-json-1.0")],
                    r#"{"TableNames":[]}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Runs `cargo xtask list-tables` against the stand-in with only `env` of
/// the AWS settings, in a home with no AWS files; the credential scope it signed with.
async fn scope(endpoint_by_env: bool, env: &[(&str, &str)]) -> (String, Duration) {
    let (url, seen) = stand_in().await;
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.arg("list-tables");
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        );
    if endpoint_by_env {
        command.env("AWS_ENDPOINT_URL_DYNAMODB", &url);
    } else {
        command.args(["--endpoint-url", &url]);
    }
    for (name, value) in env {
        let value = value.replace("{home}", home.path().to_str().unwrap());
        command.env(name, value);
    }
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let auth = seen.lock().unwrap().first().cloned().expect("a request");
    let scope = auth
        .split("Credential=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_default()
        .to_owned();
    (scope, took)
}

fn key_and_region(scope: &str) -> (String, String) {
    let parts: Vec<&str> = scope.split('/').collect();
    (parts[0].to_owned(), parts[2].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_credentials_are_used_with_an_endpoint() {
    for by_env in [false, true] {
        let (scope, _) = scope(
            by_env,
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDFROMTHECHAIN"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_REGION", "eu-west-2"),
            ],
        )
        .await;
        assert_eq!(
            key_and_region(&scope),
            ("AKIDFROMTHECHAIN".into(), "eu-west-2".into()),
            "endpoint from the environment: {by_env}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_credentials_and_region_are_used_with_an_endpoint() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("credentials"),
        "[work]\naws_access_key_id = AKIDFROMAPROFILE\naws_secret_access_key = secret\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("config"),
        "[profile work]\nregion = ap-south-1\n",
    )
    .unwrap();
    let dir = home.path().to_str().unwrap();
    let (scope, _) = scope(
        false,
        &[
            ("AWS_PROFILE", "work"),
            ("AWS_CONFIG_FILE", &format!("{dir}/config")),
            ("AWS_SHARED_CREDENTIALS_FILE", &format!("{dir}/credentials")),
        ],
    )
    .await;
    assert_eq!(
        key_and_region(&scope),
        ("AKIDFROMAPROFILE".into(), "ap-south-1".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_credentials_only_when_the_chain_has_none_and_without_delay() {
    let (scope, took) = scope(false, &[]).await;
    assert_eq!(key_and_region(&scope), ("local".into(), "us-east-1".into()));
    // No instance metadata service is asked (it would cost seconds here).
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
