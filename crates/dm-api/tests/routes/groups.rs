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

/// Andrew's group with Bayko and Londo, its rows made.
async fn council(app: &common::TestApp, feed: &mut MemoryFeed) -> String {
    let made = app
        .post(
            "/api/message_groups",
            "andrewbrown",
            json!({"name": "Council", "handles": ["bayko", "londo"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    feed.catch_up(3).await;
    made.json["uuid"].as_str().unwrap().to_owned()
}

fn handles(group: &Value) -> Vec<(String, String)> {
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["handle"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_owner_renames_and_fills_a_group_and_others_may_not() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let group = council(&app, &mut feed).await;
    let path = format!("/api/message_groups/{group}");
    let members = format!("{path}/members");
    // Renaming: the owner only, a valid name only.
    let renamed = app
        .call(
            "PATCH",
            &path,
            "andrewbrown",
            Some(json!({"name": "Grey Council"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.json);
    assert_eq!(renamed.json["name"], "Grey Council");
    for (who, body, status, code) in [
        (
            "bayko",
            json!({"name": "Mine"}),
            StatusCode::FORBIDDEN,
            "not_owner",
        ),
        (
            "andrewbrown",
            json!({"name": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name_blank",
        ),
        (
            "andrewbrown",
            json!({"title": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
    ] {
        let refused = app.call("PATCH", &path, who, Some(body)).await;
        assert_eq!(
            (refused.status, refused.json["errors"][0].as_str()),
            (status, Some(code))
        );
    }
    feed.catch_up(3).await;
    let londo = rows(&app, "londo").await;
    assert_eq!(row(&londo, &group)["name"], "Grey Council");
    // Adding: the owner only; new users only; each unknown one named.
    let zathras = app.new_user("zathras").await;
    for (who, body, status, code) in [
        (
            "bayko",
            json!({"handles": ["zathras"]}),
            StatusCode::FORBIDDEN,
            "not_owner",
        ),
        (
            "andrewbrown",
            json!({"handles": ["londo"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "already_member",
        ),
        (
            "andrewbrown",
            json!({"handles": ["ghost"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "handle_unknown",
        ),
        (
            "andrewbrown",
            json!({"handles": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "handles_empty",
        ),
    ] {
        let refused = app.call("POST", &members, who, Some(body)).await;
        assert_eq!(
            (refused.status, refused.json["errors"][0].as_str()),
            (status, Some(code))
        );
    }
    let outsider = app
        .call_with(
            "POST",
            &members,
            &zathras,
            Some(json!({"handles": ["zathras"]})),
        )
        .await;
    assert_eq!(
        outsider.status,
        StatusCode::NOT_FOUND,
        "an outsider learns nothing"
    );
    let added = app
        .call(
            "POST",
            &members,
            "andrewbrown",
            Some(json!({"handles": ["@Zathras"]})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.json);
    assert_eq!(handles(&added.json).len(), 4);
    feed.catch_up(3).await;
    let theirs = app
        .call_with("GET", "/api/message_groups", &zathras, None)
        .await;
    assert_eq!(theirs.json[0]["uuid"], group.as_str());
    assert_eq!(theirs.json[0]["members_count"], 4);
    assert_eq!(theirs.json[0]["unread_count"], 0);
    // Past 100 members in all: refused whole, nothing changes.
    let mut many = Vec::new();
    for i in 0..97 {
        let handle = format!("extra{i}");
        app.new_user(&handle).await;
        many.push(handle);
    }
    let refused = app
        .call(
            "POST",
            &members,
            "andrewbrown",
            Some(json!({"handles": many})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json["errors"], json!(["too_many_members"]));
    let shown = app.get(&path, "andrewbrown").await;
    assert_eq!(handles(&shown.json).len(), 4);
    let filled = app
        .call(
            "POST",
            &members,
            "andrewbrown",
            Some(json!({"handles": many[..96]})),
        )
        .await;
    assert_eq!(filled.status, StatusCode::OK);
    assert_eq!(handles(&filled.json).len(), 100);
    // A one-to-one conversation is not a group.
    let direct = rows(&app, "andrewbrown")
        .await
        .into_iter()
        .find(|r| r["kind"] == "direct")
        .unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app
        .call(
            "PATCH",
            &format!("/api/message_groups/{direct}"),
            "andrewbrown",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(refused.json["errors"], json!(["not_a_group"]));
}

#[tokio::test]
async fn a_removed_member_loses_the_group_at_once_and_the_owner_can_leave() {
    let app = seeded().await;
    let mut feed = MemoryFeed::new(app.repo.clone(), Handler::new(Arc::new(app.repo.clone())));
    feed.catch_up(3).await;
    let group = council(&app, &mut feed).await;
    let path = format!("/api/message_groups/{group}");
    let sent = app
        .post(
            "/api/messages",
            "londo",
            json!({"message_group_uuid": group, "message": "hello"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    feed.catch_up(3).await;
    // Only the owner removes others.
    let refused = app
        .call("DELETE", &format!("{path}/members/@londo"), "bayko", None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    for (target, code) in [("@ghost", "member_not_found"), ("nobody", "handle_invalid")] {
        let refused = app
            .call(
                "DELETE",
                &format!("{path}/members/{target}"),
                "andrewbrown",
                None,
            )
            .await;
        assert_eq!(refused.json["errors"], json!([code]), "{target}");
    }
    // The owner removes Londo: gone from Londo's list at once, before the
    // stream, and the group is 404 for them from then on.
    let removed = app
        .call(
            "DELETE",
            &format!("{path}/members/@londo"),
            "andrewbrown",
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert!(rows(&app, "londo").await.iter().all(|r| r["uuid"] != group));
    for path in [path.clone(), format!("/api/messages/{group}")] {
        assert_eq!(
            app.get(&path, "londo").await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let send = app
        .post(
            "/api/messages",
            "londo",
            json!({"message_group_uuid": group, "message": "wait"}),
        )
        .await;
    assert_eq!(send.status, StatusCode::NOT_FOUND);
    let before = app.get("/api/me", "londo").await.json["unread_total"].clone();
    app.post(
        "/api/messages",
        "bayko",
        json!({"message_group_uuid": group, "message": "bye, londo"}),
    )
    .await;
    feed.catch_up(3).await;
    assert!(rows(&app, "londo").await.iter().all(|r| r["uuid"] != group));
    assert_eq!(
        app.get("/api/me", "londo").await.json["unread_total"],
        before
    );
    // The owner leaves: Bayko, the earliest left, owns it.
    let left = app
        .call(
            "DELETE",
            &format!("{path}/members/@andrewbrown"),
            "andrewbrown",
            None,
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let shown = app.get(&path, "bayko").await;
    assert_eq!(
        handles(&shown.json),
        [("bayko".to_owned(), "owner".to_owned())]
    );
    assert_eq!(
        app.get(&path, "andrewbrown").await.status,
        StatusCode::NOT_FOUND
    );
    feed.catch_up(3).await;
    let bayko = rows(&app, "bayko").await;
    assert_eq!(row(&bayko, &group)["members_count"], 1);
}
