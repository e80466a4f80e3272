//! The authentication extractor against a mocked token verifier (mockall):
//! what reaches the verifier, and what its answers become.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use dm_api::{
    AppState, app,
    auth::{Claims, TokenError, TokenVerifier},
};
use dm_store::{MemoryRepository, StoreError, memory::Fault, seed::USERS};
use mockall::predicate::eq;
use serde_json::{Value, json};
use tower::ServiceExt;

mockall::mock! {
    #[derive(Debug)]
    Verifier {}
    #[async_trait]
    impl TokenVerifier for Verifier {
        async fn verify(&self, token: &str) -> Result<Claims, TokenError>;
    }
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        token_use: Some("access".into()),
        client_id: None,
        iss: "x".into(),
        exp: u64::MAX,
        iat: None,
        nbf: None,
    }
}

async fn call(
    verifier: MockVerifier,
    repo: MemoryRepository,
    authorization: &str,
) -> (StatusCode, Value, Option<String>) {
    let app = app(AppState::new(Arc::new(repo), Arc::new(verifier)));
    let request = Request::get("/api/message_groups")
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap(), retry)
}

async fn seeded() -> MemoryRepository {
    let repo = MemoryRepository::new();
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    repo
}

#[tokio::test]
async fn the_verifier_sees_exactly_the_token_and_its_subject_picks_the_user() {
    let mut verifier = MockVerifier::new();
    verifier
        .expect_verify()
        .with(eq("abc.def.ghi"))
        .times(1)
        .returning(|_| Ok(claims(USERS[1].sub)));
    let (status, body, _) = call(verifier, seeded().await, "Bearer   abc.def.ghi ").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body[0]["handle"], "andrewbrown",
        "bayko's conversation shows the other member"
    );
}

#[tokio::test]
async fn a_refused_token_never_reaches_the_store() {
    let mut verifier = MockVerifier::new();
    verifier
        .expect_verify()
        .times(1)
        .returning(|_| Err(TokenError::UnknownKey));
    let repo = seeded().await;
    let calls = repo.calls();
    let (status, body, _) = call(verifier, repo.clone(), "Bearer x").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"errors": ["token_invalid"]})
        )
    );
    assert_eq!(repo.calls(), calls);
}

#[tokio::test]
async fn a_store_outage_while_signing_in_is_a_503_with_retry_after() {
    let mut verifier = MockVerifier::new();
    verifier
        .expect_verify()
        .returning(|_| Ok(claims(USERS[0].sub)));
    let repo = seeded().await;
    repo.inject(
        repo.calls() + 1,
        Fault::Before(StoreError::Throttled("injected".into())),
    );
    let (status, body, retry) = call(verifier, repo, "Bearer x").await;
    assert_eq!(
        (status, body, retry.as_deref()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"errors": ["unavailable"]}),
            Some("1")
        )
    );
}
