//! Every route, in-process (`oneshot`) on a seeded memory store.

mod common;

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use common::{next_link, seeded};
use dm_store::{PageRequest, Repository};
use dm_stream::{Handler, memory_feed::MemoryFeed};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn andrews_group(app: &common::TestApp) -> String {
    let reply = app.get("/api/message_groups", "andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json[0]["uuid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn message_groups_list_the_other_member_most_recent_first() {
    let app = seeded().await;
    let reply = app.get("/api/message_groups", "andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    let groups = reply.json.as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(
        (g["handle"].as_str(), g["display_name"].as_str()),
        (Some("bayko"), Some("Andrew Bayko"))
    );
    assert!(g["message"].as_str().unwrap().starts_with("See you."));
    assert_eq!(g["created_at"].as_str().unwrap().len(), 32);
    assert!(reply.headers.get("link").is_none(), "one page only");
    assert_eq!(
        app.get("/api/message_groups", "londo").await.json,
        json!([])
    );
}

#[tokio::test]
async fn messages_page_back_in_time_through_link_headers() {
    let app = seeded().await;
    let group = andrews_group(&app).await;
    let mut path = format!("/api/messages/{group}?limit=30");
    let mut pages: Vec<Vec<Value>> = Vec::new();
    loop {
        let reply = app.get(&path, "bayko").await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.json);
        let page = reply.json.as_array().unwrap().clone();
        let times: Vec<&str> = page
            .iter()
            .map(|m| m["created_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "each page oldest to newest"
        );
        pages.push(page);
        match next_link(&reply.headers) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [30, 30, 30, 10]
    );
    let all: Vec<Value> = pages.into_iter().rev().flatten().collect();
    assert_eq!(all.len(), 100);
    assert!(
        all.windows(2)
            .all(|w| w[0]["created_at"].as_str() < w[1]["created_at"].as_str())
    );
    assert_eq!(all[0]["handle"], "andrewbrown");
    let default = app
        .get(&format!("/api/messages/{group}"), "andrewbrown")
        .await;
    assert_eq!(default.json.as_array().unwrap().len(), 20, "20 by default");
}

#[tokio::test]
async fn posting_moves_the_conversation_to_the_top_for_both_members() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    // A new conversation with @londo, by handle.
    let started = app
        .post(
            "/api/messages",
            "andrewbrown",
            json!({"message": "  Hello, Londo!  ", "handle": "@Londo"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.json);
    assert_eq!(started.json["message"], "Hello, Londo!");
    assert_eq!(started.json["handle"], "andrewbrown");
    let londo_group = started.json["message_group_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    feed.catch_up(3).await;
    let groups = app.get("/api/message_groups", "andrewbrown").await.json;
    assert_eq!(groups[0]["handle"], "londo");
    assert_eq!(groups[1]["handle"], "bayko");
    let londos = app.get("/api/message_groups", "londo").await.json;
    assert_eq!(londos[0]["uuid"], londo_group.as_str());
    assert_eq!(londos[0]["handle"], "andrewbrown");

    // Messaging @londo again reuses the conversation.
    let again = app
        .post(
            "/api/messages",
            "londo",
            json!({"message": "Greetings", "handle": "andrewbrown"}),
        )
        .await;
    assert_eq!(again.json["message_group_uuid"], londo_group.as_str());

    // A message into the old conversation moves it back to the top.
    let bayko_group = groups[1]["uuid"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let sent = app
        .post(
            "/api/messages",
            "bayko",
            json!({"message": "Back to us", "message_group_uuid": bayko_group}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    feed.catch_up(3).await;
    let groups = app.get("/api/message_groups", "andrewbrown").await.json;
    assert_eq!(
        (groups[0]["handle"].as_str(), groups[0]["message"].as_str()),
        (Some("bayko"), Some("Back to us"))
    );
    assert_eq!(groups.as_array().unwrap().len(), 2);
    let messages = app
        .get(&format!("/api/messages/{bayko_group}"), "andrewbrown")
        .await
        .json;
    assert_eq!(
        messages.as_array().unwrap().last().unwrap()["message"],
        "Back to us"
    );
}

#[tokio::test]
async fn conversations_page_through_link_headers() {
    let app = seeded().await;
    // Andrew starts conversations with 24 new users: 25 in all.
    for i in 0..24 {
        let user = app
            .repo
            .create_user(dm_domain::NewUser {
                uuid: dm_domain::UserId::new(),
                handle: dm_domain::Handle::parse(&format!("user{i}")).unwrap(),
                display_name: dm_domain::DisplayName::parse(&format!("User {i}")).unwrap(),
                cognito_user_id: None,
            })
            .await
            .unwrap();
        let reply = app
            .post(
                "/api/messages",
                "andrewbrown",
                json!({"message": "hi", "handle": user.handle.as_str()}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let mut path = "/api/message_groups?limit=10".to_owned();
    let mut seen = Vec::new();
    loop {
        let reply = app.get(&path, "andrewbrown").await;
        seen.extend(
            reply
                .json
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["uuid"].as_str().unwrap().to_owned()),
        );
        match next_link(&reply.headers) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "no conversation twice");
    let rows = app
        .repo
        .conversations(
            dm_domain::UserId::from_uuid(dm_store::seed::USERS[0].uuid),
            &PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 25);
}

#[tokio::test]
async fn user_short_finds_users_by_handle_in_any_case() {
    let app = seeded().await;
    let reply = app.get("/api/users/@BAYKO/short", "andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["handle"], "bayko");
    assert_eq!(reply.json["display_name"], "Andrew Bayko");
    assert_eq!(
        reply.json["uuid"],
        dm_store::seed::USERS[1].uuid.to_string()
    );
    assert_eq!(
        app.get("/api/users/@nobody/short", "andrewbrown")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn non_members_see_nothing() {
    let app = seeded().await;
    let group = andrews_group(&app).await;
    let read = app.get(&format!("/api/messages/{group}"), "londo").await;
    assert_eq!(
        (read.status, &read.json),
        (
            StatusCode::NOT_FOUND,
            &json!({"errors": ["conversation_not_found"]})
        )
    );
    let post = app
        .post(
            "/api/messages",
            "londo",
            json!({"message": "hi", "message_group_uuid": group}),
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
}

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
async fn a_retried_send_with_an_idempotency_key_stores_nothing_new() {
    let app = seeded().await;
    let group = andrews_group(&app).await;
    let post = |key: &str, body: Value| {
        Request::post("/api/messages")
            .header(
                "authorization",
                format!("Bearer {}", app.token("andrewbrown")),
            )
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let count = |app: &common::TestApp| {
        app.repo
            .scan()
            .iter()
            .filter(|r| matches!(r, dm_store::Record::Message(_)))
            .count()
    };
    let before = count(&app);
    let body = json!({"message": "only once", "message_group_uuid": group});
    let first = app.send(post("k-1", body.clone())).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = app.send(post("k-1", body.clone())).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, first.json, "the same message, id and time");
    assert_eq!(count(&app), before + 1);

    // The same key with another request is refused, and changes nothing.
    let other = app
        .send(post(
            "k-1",
            json!({"message": "something else", "message_group_uuid": group}),
        ))
        .await;
    assert_eq!(
        (other.status, &other.json),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"errors": ["idempotency_key_reused"]})
        )
    );
    assert_eq!(count(&app), before + 1);

    // Starting a conversation by handle, retried: one conversation, one message.
    let start = json!({"message": "hi londo", "handle": "londo"});
    let started = app.send(post("k-2", start.clone())).await;
    let retried = app.send(post("k-2", start)).await;
    assert_eq!(
        (started.status, retried.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(started.json, retried.json);
    assert_eq!(count(&app), before + 2);

    for bad in ["", "a b", &"k".repeat(129), "é"] {
        let reply = app.send(post(bad, body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
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

#[tokio::test]
async fn user_short_without_a_token_is_public_but_shows_only_handle_and_name() {
    let app = seeded().await;
    let anonymous = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    // As the week-5 frontend asks it: no Authorization header.
    let reply = app.send(anonymous("/api/users/@bayko/short")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        serde_json::json!({"handle": "bayko", "display_name": "Andrew Bayko"})
    );
    let unknown = app.send(anonymous("/api/users/@nobody/short")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["errors"][0], "user_not_found");
    // A token that is there is checked, never ignored.
    let bad = app
        .send(
            Request::get("/api/users/@bayko/short")
                .header("authorization", "Bearer not.a.token")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Everything else still needs a token.
    for path in ["/api/message_groups", "/api/me"] {
        assert_eq!(
            app.send(anonymous(path)).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}

#[tokio::test]
async fn catching_up_pages_forward_from_the_last_message_had() {
    let app = seeded().await;
    let group = andrews_group(&app).await;
    let newest = app
        .get(&format!("/api/messages/{group}?limit=25"), "bayko")
        .await
        .json;
    let newest = newest.as_array().unwrap();
    // The client has everything up to the 25th newest message.
    let had = &newest[0];
    let encoded: String = url_pairs(&[
        ("after_created_at", had["created_at"].as_str().unwrap()),
        ("after_uuid", had["uuid"].as_str().unwrap()),
        ("limit", "10"),
    ]);
    let mut path = format!("/api/messages/{group}?{encoded}");
    let mut got: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let reply = app.get(&path, "bayko").await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.json);
        got.extend(reply.json.as_array().unwrap().iter().cloned());
        pages += 1;
        match next_link(&reply.headers) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages, 3, "10, 10 and the last 4");
    assert_eq!(
        got.as_slice(),
        &newest[1..],
        "exactly what came after, oldest first"
    );

    // A `+` sent unencoded (a space once decoded) still reads as the time's `+`.
    let raw = format!(
        "/api/messages/{group}?after_created_at={}&after_uuid={}",
        had["created_at"].as_str().unwrap(),
        had["uuid"].as_str().unwrap()
    );
    let reply = app.get(&raw, "bayko").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json.as_array().unwrap().len(), 20, "a default page");

    for (query, code) in [
        (
            "after_uuid=8f9e1f0e-0000-4000-8000-000000000000",
            "after_created_at_missing",
        ),
        ("after_created_at=yesterday", "after_created_at_invalid"),
        (
            "after_created_at=2024-01-01T00:00:00.000000%2B00:00&after_uuid=x",
            "after_uuid_invalid",
        ),
        (
            "after_created_at=2024-01-01T00:00:00.000000%2B00:00&cursor=abc",
            "cursor_with_after",
        ),
    ] {
        let reply = app
            .get(&format!("/api/messages/{group}?{query}"), "bayko")
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json, json!({ "errors": [code] }), "{query}");
    }
    // Only members catch up.
    let reply = app
        .get(&format!("/api/messages/{group}?{encoded}"), "londo")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace('#', "%23")))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn reading_clears_the_count_and_shows_as_seen() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let group = andrews_group(&app).await;
    let messages = app
        .get(&format!("/api/messages/{group}?limit=100"), "andrewbrown")
        .await
        .json;
    let messages = messages.as_array().unwrap().clone();
    let from = |handle: &str| messages.iter().filter(|m| m["handle"] == handle).count();
    let groups = app.get("/api/message_groups", "andrewbrown").await.json;
    assert_eq!(groups[0]["unread_count"], from("bayko"), "nothing read yet");
    assert!(from("bayko") > 0);
    let me = app.get("/api/me", "bayko").await.json;
    assert_eq!(me["unread_total"], from("andrewbrown"));
    // Andrew's own messages are not seen yet; Bayko's carry no `seen`.
    for m in &messages {
        let expected = if m["handle"] == "andrewbrown" {
            json!(false)
        } else {
            Value::Null
        };
        assert_eq!(m["seen"], expected, "{m}");
    }

    // Andrew reads up to the newest message.
    let newest = messages.last().unwrap();
    let body = json!({"uuid": newest["uuid"], "created_at": newest["created_at"]});
    let path = format!("/api/message_groups/{group}/read");
    let marked = app.post(&path, "andrewbrown", body.clone()).await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.json);
    assert_eq!(marked.json["read_through"], body);
    feed.catch_up(3).await;
    let groups = app.get("/api/message_groups", "andrewbrown").await.json;
    assert_eq!(groups[0]["unread_count"], 0);
    assert_eq!(
        app.get("/api/me", "andrewbrown").await.json["unread_total"],
        0
    );
    // Bayko now sees that Andrew read all of his messages.
    let seen = app
        .get(&format!("/api/messages/{group}?limit=100"), "bayko")
        .await
        .json;
    for m in seen.as_array().unwrap() {
        if m["handle"] == "bayko" {
            assert_eq!(m["seen"], true, "{m}");
        }
    }

    // Marking an older message changes nothing: the marker stays.
    let first = &messages[0];
    let older = app
        .post(
            &path,
            "andrewbrown",
            json!({"uuid": first["uuid"], "created_at": first["created_at"]}),
        )
        .await;
    assert_eq!(older.status, StatusCode::OK);
    assert_eq!(older.json["read_through"], body);

    // Bad input: a clear error, and nothing changes.
    let unknown =
        json!({"uuid": uuid::Uuid::new_v4().to_string(), "created_at": newest["created_at"]});
    for (who, path, body, status, errors) in [
        (
            "andrewbrown",
            path.as_str(),
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["uuid_missing", "created_at_missing"]),
        ),
        (
            "andrewbrown",
            path.as_str(),
            json!({"uuid": "x", "created_at": 3, "at": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["unknown_field", "uuid_invalid", "created_at_invalid"]),
        ),
        (
            "andrewbrown",
            path.as_str(),
            unknown,
            StatusCode::NOT_FOUND,
            json!(["message_not_found"]),
        ),
        (
            "londo",
            path.as_str(),
            body.clone(),
            StatusCode::NOT_FOUND,
            json!(["conversation_not_found"]),
        ),
        (
            "andrewbrown",
            "/api/message_groups/not-a-uuid/read",
            body.clone(),
            StatusCode::BAD_REQUEST,
            json!(["message_group_uuid_invalid"]),
        ),
    ] {
        let reply = app.post(path, who, body).await;
        assert_eq!(
            (reply.status, &reply.json["errors"]),
            (status, &errors),
            "{who} {path}"
        );
    }
    let anonymous = app
        .send(
            Request::post(&path)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let markers = app
        .repo
        .read_markers(group.parse().unwrap(), dm_store::seed::USERS[0].uuid.into())
        .await
        .unwrap();
    assert_eq!(markers.len(), 1, "only Andrew's marker");
    assert_eq!(
        markers[0].through.id.to_string(),
        newest["uuid"].as_str().unwrap()
    );
}

#[tokio::test]
async fn editing_and_deleting_keep_the_place_and_the_preview_true() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let group = andrews_group(&app).await;
    let list = |who: &'static str| {
        let app = &app;
        async move { app.get("/api/message_groups", who).await.json[0].clone() }
    };
    let thread = || async {
        app.get(&format!("/api/messages/{group}?limit=100"), "andrewbrown")
            .await
            .json
            .as_array()
            .unwrap()
            .clone()
    };
    let before = thread().await;
    let row_before = list("andrewbrown").await;
    // Bayko's newest message, and the one before it.
    let (index, newest) = before
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m["handle"] == "bayko")
        .map(|(i, m)| (i, m.clone()))
        .unwrap();
    assert_eq!(
        index,
        before.len() - 1,
        "the seed ends with Bayko's message"
    );
    let path = format!("/api/messages/{group}/{}", newest["uuid"].as_str().unwrap());

    // Only the author: for anyone else the message does not exist.
    for (who, errors) in [
        ("andrewbrown", json!(["message_not_found"])),
        ("londo", json!(["conversation_not_found"])),
    ] {
        let edit = app
            .call("PATCH", &path, who, Some(json!({"message": "mine now"})))
            .await;
        let delete = app.call("DELETE", &path, who, None).await;
        for reply in [edit, delete] {
            assert_eq!(
                (reply.status, &reply.json["errors"]),
                (StatusCode::NOT_FOUND, &errors),
                "{who}"
            );
        }
    }

    // Bad input: a clear error, and nothing changes.
    let created = url_pairs(&[("created_at", newest["created_at"].as_str().unwrap())]);
    for (path, body, status, errors) in [
        (
            path.clone(),
            json!({"message": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["message_blank"]),
        ),
        (
            path.clone(),
            json!({"message": "x", "uuid": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["unknown_field"]),
        ),
        (
            path.clone(),
            json!({"message": 7}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["message_not_a_string"]),
        ),
        (
            path.clone(),
            json!({"message": "x".repeat(1025)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["message_too_long"]),
        ),
        (
            format!("/api/messages/{group}/not-a-uuid"),
            json!({"message": "x"}),
            StatusCode::BAD_REQUEST,
            json!(["message_uuid_invalid"]),
        ),
        (
            format!("{path}?created_at=yesterday"),
            json!({"message": "x"}),
            StatusCode::BAD_REQUEST,
            json!(["created_at_invalid"]),
        ),
        (
            format!("/api/messages/{group}/{}", uuid::Uuid::new_v4()),
            json!({"message": "x"}),
            StatusCode::NOT_FOUND,
            json!(["message_not_found"]),
        ),
    ] {
        let reply = app.call("PATCH", &path, "bayko", Some(body.clone())).await;
        assert_eq!(
            (reply.status, &reply.json["errors"]),
            (status, &errors),
            "{path} {body}"
        );
    }
    assert_eq!(thread().await, before, "nothing changed");

    // The author edits: same place, new text, `edited_at`.
    let edited = app
        .call(
            "PATCH",
            &format!("{path}?{created}"),
            "bayko",
            Some(json!({"message": "  Edited, see you.  "})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.json);
    assert_eq!(edited.json["message"], "Edited, see you.");
    assert_eq!(
        (&edited.json["uuid"], &edited.json["created_at"]),
        (&newest["uuid"], &newest["created_at"])
    );
    let edited_at = edited.json["edited_at"].as_str().unwrap().to_owned();
    // The same edit again (a retry, found by search this time) changes nothing.
    let again = app
        .call(
            "PATCH",
            &path,
            "bayko",
            Some(json!({"message": "Edited, see you."})),
        )
        .await;
    assert_eq!((again.status, &again.json), (StatusCode::OK, &edited.json));
    feed.catch_up(3).await;
    let after = thread().await;
    assert_eq!(after.len(), before.len());
    assert_eq!(after[index]["message"], "Edited, see you.");
    assert_eq!(after[index]["edited_at"], edited_at.as_str());
    assert!(after[..index].iter().all(|m| m.get("edited_at").is_none()));
    for who in ["andrewbrown", "bayko"] {
        let row = list(who).await;
        assert_eq!(row["message"], "Edited, see you.", "{who}'s preview");
        assert_eq!(
            row["created_at"], row_before["created_at"],
            "{who}'s row keeps its place"
        );
    }

    // The author deletes: a tombstone in its place; a repeat answers the same.
    let unread_before = app.get("/api/me", "andrewbrown").await.json["unread_total"]
        .as_u64()
        .unwrap();
    let deleted = app.call("DELETE", &path, "bayko", None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    assert_eq!(
        (&deleted.json["deleted"], &deleted.json["message"]),
        (&json!(true), &json!(""))
    );
    assert!(deleted.json.get("edited_at").is_none());
    let repeated = app
        .call("DELETE", &format!("{path}?{created}"), "bayko", None)
        .await;
    assert_eq!(
        (repeated.status, &repeated.json),
        (StatusCode::OK, &deleted.json)
    );
    // A deleted message is not edited.
    let late = app
        .call("PATCH", &path, "bayko", Some(json!({"message": "back"})))
        .await;
    assert_eq!(
        (late.status, &late.json["errors"]),
        (StatusCode::CONFLICT, &json!(["message_deleted"]))
    );
    feed.catch_up(3).await;
    let after = thread().await;
    assert_eq!(after.len(), before.len(), "the tombstone keeps its place");
    assert_eq!(
        (&after[index]["deleted"], &after[index]["message"]),
        (&json!(true), &json!(""))
    );
    assert!(after[..index].iter().all(|m| m.get("deleted").is_none()));
    let previous = after[..index].last().unwrap();
    for who in ["andrewbrown", "bayko"] {
        let row = list(who).await;
        assert_eq!(
            row["message"], previous["message"],
            "{who}'s preview is the newest message left"
        );
        assert_eq!(
            row["created_at"], row_before["created_at"],
            "{who}'s row keeps its place"
        );
    }
    // It was unread for Andrew: it stops counting.
    assert_eq!(
        app.get("/api/me", "andrewbrown").await.json["unread_total"]
            .as_u64()
            .unwrap(),
        unread_before - 1
    );
}
