//! Named groups: `POST /api/message_groups`, `GET /api/message_groups/{uuid}`,
//! their rows in `GET /api/message_groups`, and messages in them.

use super::*;

async fn rows(app: &common::TestApp, handle: &str) -> Vec<Value> {
    let reply = app.get("/api/message_groups", handle).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json.as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], uuid: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["uuid"] == uuid)
        .unwrap_or_else(|| panic!("no row of {uuid} in {rows:?}"))
}

#[tokio::test]
async fn a_group_is_made_listed_shown_and_messaged() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let made = app
        .post(
            "/api/message_groups",
            "andrewbrown",
            json!({"name": "  Babylon 5 ", "handles": ["@bayko", "Londo"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let group = made.json["uuid"].as_str().unwrap().to_owned();
    assert_eq!(made.json["kind"], "group");
    assert_eq!(made.json["name"], "Babylon 5");
    let members: Vec<(&str, &str)> = made.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["handle"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        members,
        [
            ("andrewbrown", "owner"),
            ("bayko", "member"),
            ("londo", "member")
        ]
    );
    // Every member sees it, the same; nobody else does.
    for handle in ["bayko", "londo"] {
        let shown = app
            .get(&format!("/api/message_groups/{group}"), handle)
            .await;
        assert_eq!(shown.status, StatusCode::OK);
        assert_eq!(shown.json, made.json);
    }
    let outsider = app.new_user("zathras").await;
    for path in [
        format!("/api/message_groups/{group}"),
        format!("/api/messages/{group}"),
    ] {
        let refused = app.call_with("GET", &path, &outsider, None).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Its rows come through the stream: in every member's list at once,
    // placed by its creation, nothing unread, the owner named.
    assert!(rows(&app, "bayko").await.iter().all(|r| r["uuid"] != group));
    feed.catch_up(3).await;
    for handle in ["andrewbrown", "bayko", "londo"] {
        let rows = rows(&app, handle).await;
        assert_eq!(rows[0]["uuid"], group, "the newest in {handle}'s list");
        let row = row(&rows, &group);
        assert_eq!(row["kind"], "group");
        assert_eq!(row["name"], "Babylon 5");
        assert_eq!(row["display_name"], "Babylon 5");
        assert_eq!(row["members_count"], 3);
        assert_eq!(row["handle"], "andrewbrown");
        assert_eq!(row["message"], "");
        assert_eq!(row["created_at"], made.json["created_at"]);
        assert_eq!(row["unread_count"], 0);
        // One-to-one rows say so, and carry nothing more.
        for direct in rows.iter().filter(|r| r["uuid"] != group) {
            assert_eq!(direct["kind"], "direct");
            assert!(direct.get("name").is_none() && direct.get("members_count").is_none());
        }
    }
    assert!(
        app.call_with("GET", "/api/message_groups", &outsider, None)
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A member's message: every member's row shows it, names its sender,
    // and counts it for the others.
    let sent = app
        .post(
            "/api/messages",
            "londo",
            json!({"message_group_uuid": group, "message": "Great Maker!"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    feed.catch_up(3).await;
    for (handle, unread) in [("andrewbrown", 1), ("bayko", 1), ("londo", 0)] {
        let rows = rows(&app, handle).await;
        let row = row(&rows, &group);
        assert_eq!(row["message"], "Great Maker!");
        assert_eq!(row["handle"], "londo");
        assert_eq!(row["display_name"], "Babylon 5");
        assert_eq!(row["unread_count"], unread, "{handle}");
    }
    let messages = app.get(&format!("/api/messages/{group}"), "bayko").await;
    assert_eq!(messages.json[0]["message"], "Great Maker!");
    // An outsider cannot send into it.
    let refused = app
        .call_with(
            "POST",
            "/api/messages",
            &outsider,
            Some(json!({"message_group_uuid": group, "message": "hello?"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // A one-to-one conversation shows as `direct`, its two members alike.
    let direct = rows(&app, "andrewbrown")
        .await
        .into_iter()
        .find(|r| r["kind"] == "direct")
        .unwrap()["uuid"]
        .clone();
    let shown = app
        .get(
            &format!("/api/message_groups/{}", direct.as_str().unwrap()),
            "andrewbrown",
        )
        .await;
    assert_eq!(shown.json["kind"], "direct");
    assert!(shown.json.get("name").is_none());
    assert_eq!(shown.json["members"].as_array().unwrap().len(), 2);
    assert!(
        shown.json["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] == "member")
    );
}

#[tokio::test]
async fn bad_groups_are_refused_and_nothing_changes() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let before = rows(&app, "andrewbrown").await;
    let cases = [
        (
            json!({"name": "x", "handles": ["nobody", "bayko", "ghost"]}),
            vec!["handle_unknown"],
        ),
        (
            json!({"name": "x", "handles": ["andrewbrown", "bayko"]}),
            vec!["self_among_members"],
        ),
        (
            json!({"name": "", "handles": ["londo", "bayko"]}),
            vec!["name_blank"],
        ),
        (
            json!({"name": "x".repeat(101), "handles": ["londo", "bayko"]}),
            vec!["name_invalid"],
        ),
        (json!({"name": "x", "handles": []}), vec!["handles_empty"]),
        (
            json!({"name": "x", "handles": ["bayko"]}),
            vec!["too_few_members"],
        ),
        (
            json!({"name": "x", "handles": ["bayko", "@Bayko"]}),
            vec!["duplicate_members"],
        ),
        (
            json!({"name": "x", "handles": ["bayko", "londo"], "private": true}),
            vec!["unknown_field"],
        ),
    ];
    for (body, codes) in cases {
        let refused = app
            .post("/api/message_groups", "andrewbrown", body.clone())
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(refused.json["errors"], json!(codes), "{body}");
    }
    // Each unknown handle is named.
    let refused = app
        .post(
            "/api/message_groups",
            "andrewbrown",
            json!({"name": "x", "handles": ["nobody", "bayko", "ghost"]}),
        )
        .await;
    assert_eq!(refused.json["handles"], json!(["nobody", "ghost"]));
    // Not JSON, or no token: refused too.
    let request = Request::post("/api/message_groups")
        .header(
            "authorization",
            format!("Bearer {}", app.token("andrewbrown")),
        )
        .body(Body::from("name=x"))
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let request = Request::post("/api/message_groups")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"x","handles":["bayko","londo"]}"#))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNAUTHORIZED);
    feed.catch_up(3).await;
    assert_eq!(rows(&app, "andrewbrown").await, before, "nothing was made");
    for path in [
        "/api/message_groups/not-a-uuid",
        "/api/message_groups/00000000-0000-4000-8000-000000000000",
    ] {
        let reply = app.get(path, "andrewbrown").await;
        assert!(
            matches!(
                reply.status,
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
            ),
            "{path}"
        );
    }
}
