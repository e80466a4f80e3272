//! Cognito-shaped access tokens: RS256, signed by a test key whose JWKS a
//! local server publishes, as a user pool would.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, routing::get};
use dm_api::auth::Claims;
use dm_store::seed::USERS;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

pub const PRIVATE_KEY: &str = include_str!("../fixtures/test-rsa.pem");
pub const MODULUS: &str = include_str!("../fixtures/test-rsa.n");
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST";
pub const CLIENT: &str = "test-client";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn claims() -> Claims {
    Claims {
        sub: USERS[0].sub.into(),
        token_use: Some("access".into()),
        client_id: Some(CLIENT.into()),
        iss: ISSUER.into(),
        exp: now() + 600,
        iat: Some(now()),
        nbf: None,
    }
}

pub fn rs256(claims: &Claims, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Serves a JWKS whose key id can be changed, and counts the fetches.
pub async fn jwks_server(kid: Arc<Mutex<String>>, fetches: Arc<Mutex<u32>>) -> String {
    let router = Router::new().route(
        "/jwks.json",
        get(move || {
            let kid = kid.lock().unwrap().clone();
            *fetches.lock().unwrap() += 1;
            async move {
                Json(json!({"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": MODULUS.trim(), "e": "AQAB"}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/jwks.json")
}
