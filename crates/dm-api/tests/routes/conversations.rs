//! `GET /api/message_groups`: the list, its order and its pages, and who sees what.

use super::*;

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
