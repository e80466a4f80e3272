//! What is around the routes: health, readiness, OpenAPI, request ids, CORS, the web page and its local sign-in.

use super::*;

#[tokio::test]
async fn health_readiness_openapi_and_request_ids() {
    let app = seeded().await;
    let health = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (health.status, health.json),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let ready = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (ready.status, ready.json),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    assert!(
        health.headers.get("x-request-id").is_some(),
        "a request id is set"
    );
    let mine = app
        .send(
            Request::get("/healthz")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        mine.headers["x-request-id"], "abc-123",
        "and echoed when given"
    );

    let doc = app
        .send(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.json["paths"].as_object().unwrap();
    for path in [
        "/api/message_groups",
        "/api/messages/{message_group_uuid}",
        "/api/messages",
        "/api/users/{handle}/short",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    assert!(doc.json["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn readiness_fails_when_the_store_does() {
    let app = seeded().await;
    app.repo.inject(
        app.repo.calls() + 1,
        dm_store::memory::Fault::Before(dm_store::StoreError::Unavailable("down".into())),
    );
    let ready = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers["retry-after"], "1");
    assert_eq!(ready.json, json!({"errors": ["unavailable"]}));
}

#[tokio::test]
async fn the_page_and_its_local_sign_in() {
    let app = seeded().await;
    let page = app
        .app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let script = app
        .send(Request::get("/app.js").body(Body::empty()).unwrap())
        .await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // Without local auth there is no token minting.
    let users = app
        .send(
            Request::get("/api/local/users")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(users.status, StatusCode::NOT_FOUND);

    let mut state =
        dm_api::AppState::new(Arc::new(app.repo.clone()), Arc::new(app.verifier.clone()));
    state.local_tokens = Some(app.verifier.clone());
    let local = dm_api::app(state);
    let call = |request: Request<Body>| {
        let local = local.clone();
        async move {
            let response = local.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (status, users) = call(
        Request::get("/api/local/users")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().unwrap().len(), 3);
    let (status, minted) = call(
        Request::post("/api/local/token")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"handle":"@Bayko"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = minted["token"].as_str().unwrap();
    let (status, me) = call(
        Request::get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, me["handle"].as_str()),
        (StatusCode::OK, Some("bayko"))
    );
    let (status, _) = call(
        Request::post("/api/local/token")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"handle":"nobody"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = seeded().await;
    let mut state =
        dm_api::AppState::new(Arc::new(app.repo.clone()), Arc::new(app.verifier.clone()));
    state.cors_origins = vec!["http://localhost:3000".parse().unwrap()];
    let cors = dm_api::app(state);
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/messages")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            )
            .body(Body::empty())
            .unwrap()
    };
    let allowed = cors
        .clone()
        .oneshot(preflight("http://localhost:3000"))
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        headers.contains("authorization") && headers.contains("idempotency-key"),
        "{headers}"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "edits and deletes from the page: {methods}"
    );
    let denied = cors
        .oneshot(preflight("http://evil.example"))
        .await
        .unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
