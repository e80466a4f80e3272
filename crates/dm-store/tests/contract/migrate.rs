//! The migration to the current layout (`Repository::migrate_layout`), on a
//! conversation written the way this project wrote them before issue 25:
//! the rows' state on the group item, rows keyed by their last message. It
//! runs while messages are sent and applied as the stream applies them, and
//! everything ends where it belongs.

use super::support::*;

/// The items of a conversation of `a` and `b` as written before issue 25:
/// three messages (a, b, a), b's marker at the first, the group item with
/// the rows' state, the pair's claim, and both rows at the last message.
fn older_items(group: GroupId, a: &User, b: &User) -> (Vec<serde_json::Value>, Vec<MessageId>) {
    let at = |i: i64| base_time().plus(TimeDelta::minutes(i));
    let ids: Vec<MessageId> = (0..3).map(|_| MessageId::new()).collect();
    let mut items = Vec::new();
    for (i, sender) in [(0, a), (1, b), (2, a)] {
        items.push(serde_json::json!({
            "pk": format!("MSG#{group}"),
            "sk": format!("{}#{}", at(i), ids[i as usize]),
            "entity": "message",
            "message_uuid": ids[i as usize].to_string(),
            "created_at": at(i).to_string(),
            "message": format!("old {i}"),
            "user_uuid": sender.uuid.to_string(),
            "user_handle": sender.handle.to_string(),
            "user_display_name": sender.display_name.to_string(),
        }));
    }
    items.push(serde_json::json!({
        "pk": format!("READ#{group}"),
        "sk": b.uuid.to_string(),
        "entity": "read_marker",
        "read_through": format!("{}#{}", at(0), ids[0]),
    }));
    let member = |u: &User| {
        serde_json::json!({
            "user_uuid": u.uuid.to_string(),
            "user_handle": u.handle.to_string(),
            "user_display_name": u.display_name.to_string(),
            "unread_count": 1,
        })
    };
    items.push(serde_json::json!({
        "pk": format!("GROUP#{group}"),
        "sk": "META",
        "entity": "group",
        "group_uuid": group.to_string(),
        "members": [member(a), member(b)],
        "version": 3,
        "created_at": at(0).to_string(),
        "last_message_at": at(2).to_string(),
        "last_message_uuid": ids[2].to_string(),
        "message": "old 2",
    }));
    let (low, high) = (a.uuid.min(b.uuid), a.uuid.max(b.uuid));
    items.push(serde_json::json!({
        "pk": format!("DM#{low}#{high}"),
        "sk": "DM",
        "entity": "dm_pair",
        "group_uuid": group.to_string(),
    }));
    for (owner, other) in [(a, b), (b, a)] {
        items.push(serde_json::json!({
            "pk": format!("GRP#{}", owner.uuid),
            "sk": format!("{}#{group}", at(2)),
            "entity": "conversation",
            "message": "old 2",
            "last_message_uuid": ids[2].to_string(),
            "last_message_at": at(2).to_string(),
            "user_uuid": other.uuid.to_string(),
            "user_handle": other.handle.to_string(),
            "user_display_name": other.display_name.to_string(),
            "unread_count": 1,
        }));
    }
    (items, ids)
}

async fn migration_beside_the_stream_ends_where_everything_belongs(backend: Store) {
    let repo = backend.repo();
    let a = user(&repo, "mig_a").await;
    let b = user(&repo, "mig_b").await;
    let group = GroupId::new();
    let (items, _) = older_items(group, &a, &b);
    for json in items {
        backend.put_raw(serde_dynamo::to_item(json).unwrap()).await;
    }
    assert!(
        repo.conversations(a.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "rows of the older layout are not listed"
    );
    // b sends five messages, each applied as the stream does, while another
    // process migrates.
    let stream = {
        let repo = repo.clone();
        let b = b.summary();
        tokio::spawn(async move {
            let mut last = None;
            for i in 0..5 {
                let sent = repo
                    .send_message(group, &b, NewMessage::now(text(&format!("new {i}"))))
                    .await
                    .unwrap();
                repo.apply_message(&sent).await.unwrap();
                last = Some(sent);
                tokio::task::yield_now().await;
            }
            last.unwrap()
        })
    };
    let other = backend.another_process().await;
    let migrated = other.migrate_layout(false, &mut |_| {}).await.unwrap();
    let newest = stream.await.unwrap();
    assert_eq!(migrated.old_rows_removed, 2, "{migrated:?}");
    let again = other.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert!(!again.changed(), "a second run changes nothing: {again:?}");
    for (owner, unread) in [(&a, 6), (&b, 1)] {
        let rows = repo
            .conversations(owner.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items;
        assert_eq!(rows.len(), 1, "one row per member: {rows:?}");
        let row = &rows[0];
        assert_eq!(row.group, group);
        assert_eq!(
            row.last_message_id,
            Some(newest.id),
            "at the newest message"
        );
        assert_eq!(row.preview, "new 4");
        // a never marked: b's old message and the five new ones. b marked
        // the first: a's third is unread, b's own never are.
        assert_eq!(row.unread, unread, "@{}'s count", owner.handle);
    }
}

dm_store::on_both_backends!(
    setup = Store::new;
    migration_beside_the_stream_ends_where_everything_belongs,
);
