//! Cognito mode: RS256 access tokens checked against a JWKS that a local
//! server publishes, as a user pool would.

mod common;

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use common::cognito::{CLIENT, ISSUER, MODULUS, claims, jwks_server, now, rs256};
use dm_api::{AppState, app, auth::CognitoVerifier};
use dm_store::MemoryRepository;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn status(app: &Router, token: &str) -> (StatusCode, Value) {
    let request = Request::get("/api/message_groups")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn only_valid_access_tokens_of_the_pool_and_client_pass() {
    let kid = Arc::new(Mutex::new("key-1".to_owned()));
    let fetches = Arc::new(Mutex::new(0));
    let url = jwks_server(kid.clone(), fetches.clone()).await;
    let repo = MemoryRepository::new();
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    let verifier = CognitoVerifier::with_issuer(ISSUER.into(), CLIENT, url);
    let app = app(AppState::new(Arc::new(repo), Arc::new(verifier)));

    let good = claims();
    let (ok, body) = status(&app, &rs256(&good, "key-1")).await;
    assert_eq!(ok, StatusCode::OK, "{body}");
    assert_eq!(body[0]["handle"], "bayko");
    // The JWKS is cached.
    status(&app, &rs256(&good, "key-1")).await;
    assert_eq!(*fetches.lock().unwrap(), 1);

    let mut expired = good.clone();
    expired.exp = now() - 600;
    let mut issuer = good.clone();
    issuer.iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER".into();
    let mut id_token = good.clone();
    id_token.token_use = Some("id".into());
    let mut client = good.clone();
    client.client_id = Some("another-client".into());
    let mut early = good.clone();
    early.nbf = Some(now() + 600);
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(MODULUS.as_bytes()),
    )
    .unwrap();
    for (name, token) in [
        ("expired", rs256(&expired, "key-1")),
        ("wrong issuer", rs256(&issuer, "key-1")),
        ("id token", rs256(&id_token, "key-1")),
        ("wrong client", rs256(&client, "key-1")),
        ("not yet valid", rs256(&early, "key-1")),
        ("HS256 signed with the public key (alg confusion)", hs256),
        ("unknown key id", rs256(&good, "key-9")),
    ] {
        let (code, body) = status(&app, &token).await;
        assert_eq!(
            (code, body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"errors": ["token_invalid"]})
            ),
            "{name}"
        );
    }
    // Unknown key ids within 30 s of the last fetch do not refetch: a burst
    // of forged kids cannot hammer the pool (rotation is tested below).
    status(&app, &rs256(&good, "key-8")).await;
    assert_eq!(*fetches.lock().unwrap(), 1, "refreshes are rate-limited");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let kid = Arc::new(Mutex::new("old".to_owned()));
    let fetches = Arc::new(Mutex::new(0));
    let url = jwks_server(kid.clone(), fetches.clone()).await;
    let repo = MemoryRepository::new();
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    let verifier = CognitoVerifier::with_issuer(ISSUER.into(), CLIENT, url)
        .with_min_refresh(std::time::Duration::ZERO);
    let app = app(AppState::new(Arc::new(repo), Arc::new(verifier)));
    assert_eq!(
        status(&app, &rs256(&claims(), "old")).await.0,
        StatusCode::OK
    );
    *kid.lock().unwrap() = "new".into();
    assert_eq!(
        status(&app, &rs256(&claims(), "new")).await.0,
        StatusCode::OK,
        "the new key is fetched"
    );
    assert_eq!(*fetches.lock().unwrap(), 2);
    assert_eq!(
        status(&app, &rs256(&claims(), "old")).await.0,
        StatusCode::UNAUTHORIZED,
        "the retired key is gone"
    );
}
