//! Edits and deletes keep the message's place and the previews true.

use super::*;

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
