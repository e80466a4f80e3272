//! Helpers of the API tests: a seeded memory store, its router, tokens, calls.

#![allow(dead_code, unreachable_pub)]

pub mod cognito;

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
};
use dm_api::{AppState, app, auth::LocalVerifier};
use dm_store::{MemoryRepository, seed::USERS};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const KEY: &[u8] = b"a key for tests only";

pub struct TestApp {
    pub repo: MemoryRepository,
    pub app: Router,
    pub verifier: LocalVerifier,
}

pub async fn seeded() -> TestApp {
    let repo = MemoryRepository::new();
    dm_store::seed::seed(&repo, |_, _| {}).await.unwrap();
    let verifier = LocalVerifier::new(KEY.to_vec());
    let state = AppState::new(Arc::new(repo.clone()), Arc::new(verifier.clone()));
    TestApp {
        app: app(state),
        repo,
        verifier,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl TestApp {
    /// A token of the seeded user with this handle.
    pub fn token(&self, handle: &str) -> String {
        let user = USERS
            .iter()
            .find(|u| u.handle == handle)
            .expect("a seeded handle");
        self.verifier.mint(user.sub).unwrap()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str, handle: &str) -> Reply {
        let request = Request::get(path)
            .header("authorization", format!("Bearer {}", self.token(handle)))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn post(&self, path: &str, handle: &str, body: Value) -> Reply {
        self.call("POST", path, handle, Some(body)).await
    }

    /// A request of any method, with a JSON body if given.
    pub async fn call(&self, method: &str, path: &str, handle: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, &self.token(handle), body)
            .await
    }

    /// A user who is not in the seed, made in the store; their token.
    pub async fn new_user(&self, handle: &str) -> String {
        use dm_store::Repository;
        let sub = format!("sub-of-{handle}");
        self.repo
            .create_user(dm_domain::NewUser {
                uuid: dm_domain::UserId::new(),
                handle: dm_domain::Handle::parse(handle).unwrap(),
                display_name: dm_domain::DisplayName::parse(&format!("{handle} name")).unwrap(),
                cognito_user_id: Some(sub.clone()),
            })
            .await
            .unwrap();
        self.verifier.mint(&sub).unwrap()
    }

    /// A request with this token.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }
}

/// The path and query of a `Link: <...>; rel="next"` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link.find('>')?;
    assert!(link.ends_with("rel=\"next\""), "{link}");
    Some(link[start..end].to_owned())
}
