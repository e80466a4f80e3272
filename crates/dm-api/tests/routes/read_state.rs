//! Read state: marking read clears the count, and shows as seen.

use super::*;

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
