//! `GET` and `POST /api/messages`: pages back in time, catching up forward, sending once per idempotency key.

use super::*;

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

/// The Cruddur frontend links to a conversation by the other member's handle
/// (`/messages/@bayko`), reads it with `GET /api/messages/@bayko` and replies
/// with `"message_group_uuid": "@bayko"`.
#[tokio::test]
async fn a_conversation_is_found_by_the_other_members_handle() {
    let app = seeded().await;
    let group = andrews_group(&app).await;
    let by_uuid = app
        .get(&format!("/api/messages/{group}?limit=5"), "andrewbrown")
        .await;
    let by_handle = app.get("/api/messages/@bayko?limit=5", "andrewbrown").await;
    assert_eq!(by_handle.status, StatusCode::OK, "{}", by_handle.json);
    assert_eq!(by_handle.json, by_uuid.json);
    // Its Link goes on by handle, and pages back as the uuid's does.
    let link = next_link(&by_handle.headers).expect("a next page");
    assert!(link.starts_with("/api/messages/@bayko?"), "{link}");
    let older = app.get(&link, "andrewbrown").await;
    let older_by_uuid = app
        .get(&next_link(&by_uuid.headers).unwrap(), "andrewbrown")
        .await;
    assert_eq!(older.json, older_by_uuid.json);
    // In any case, and for the other member the other way round (`seen`
    // then marks the other member's own messages).
    let uuids = |page: &Value| -> Vec<Value> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|m| m["uuid"].clone())
            .collect()
    };
    let bayko = app.get("/api/messages/@AndrewBrown?limit=5", "bayko").await;
    assert_eq!(uuids(&bayko.json), uuids(&by_uuid.json));

    // A reply by handle goes into the same conversation.
    let reply = app
        .post(
            "/api/messages",
            "andrewbrown",
            json!({"message": "by handle", "message_group_uuid": "@bayko"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["message_group_uuid"], group);

    // No conversation with @londo yet: 404; the first reply starts it.
    let none = app.get("/api/messages/@londo", "andrewbrown").await;
    assert_eq!(
        (none.status, &none.json),
        (
            StatusCode::NOT_FOUND,
            &json!({"errors": ["conversation_not_found"]})
        )
    );
    let started = app
        .post(
            "/api/messages",
            "andrewbrown",
            json!({"message": "hello londo", "message_group_uuid": "@londo"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.json);
    let with_londo = app.get("/api/messages/@londo", "andrewbrown").await;
    assert_eq!(with_londo.status, StatusCode::OK);
    assert_eq!(with_londo.json[0]["message"], "hello londo");

    // Unknown users, oneself and broken handles.
    for (path, status, code) in [
        (
            "/api/messages/@nobody",
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        (
            "/api/messages/@andrewbrown",
            StatusCode::NOT_FOUND,
            "conversation_not_found",
        ),
        ("/api/messages/@", StatusCode::BAD_REQUEST, "handle_invalid"),
        (
            "/api/messages/@no%20way",
            StatusCode::BAD_REQUEST,
            "handle_invalid",
        ),
    ] {
        let reply = app.get(path, "andrewbrown").await;
        assert_eq!(
            (reply.status, &reply.json),
            (status, &json!({"errors": [code]})),
            "{path}"
        );
    }
    let to_self = app
        .post(
            "/api/messages",
            "andrewbrown",
            json!({"message": "me", "message_group_uuid": "@andrewbrown"}),
        )
        .await;
    assert_eq!(to_self.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(to_self.json, json!({"errors": ["self_conversation"]}));
}
