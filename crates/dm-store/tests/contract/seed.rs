//! Items the bootcamp's seed script wrote, read back.

use super::support::*;

/// Items exactly as the seed's Python wrote them: bare timestamps as sort
/// keys, no `entity`, no group item.
fn seed_items(group: GroupId, a: &User, b: &User) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    for (i, sender) in [(0, a), (1, b), (2, a)] {
        items.push(serde_json::json!({
            "pk": format!("MSG#{group}"),
            "sk": format!("2023-03-2{i}T22:52:11.123456+00:00"),
            "message_uuid": MessageId::new().to_string(),
            "message": format!("seed {i}"),
            "user_uuid": sender.uuid.to_string(),
            "user_display_name": sender.display_name.to_string(),
            "user_handle": sender.handle.to_string(),
        }));
    }
    for (owner, other) in [(a, b), (b, a)] {
        items.push(serde_json::json!({
            "pk": format!("GRP#{}", owner.uuid),
            "sk": "2023-03-22T22:52:11+00:00",
            "message_group_uuid": group.to_string(),
            "message": "seed 2",
            "user_uuid": other.uuid.to_string(),
            "user_display_name": other.display_name.to_string(),
            "user_handle": other.handle.to_string(),
        }));
    }
    items
}

async fn seed_items_read_back(backend: Store) {
    let repo = backend.repo();
    let a = user(&repo, "seed_a").await;
    let b = user(&repo, "seed_b").await;
    let stranger = user(&repo, "seed_c").await;
    let group = GroupId::new();
    for json in seed_items(group, &a, &b) {
        let item: serde_dynamo::Item = serde_dynamo::to_item(json).unwrap();
        backend.put_raw(item).await;
    }
    // The seed's rows are listed once the table is migrated.
    let unlisted = repo
        .conversations(a.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert!(unlisted.items.is_empty());
    let planned = repo.migrate_layout(true, &mut |_| {}).await.unwrap();
    assert_eq!(
        (
            planned.groups_made,
            planned.rows_made,
            planned.old_rows_removed
        ),
        (1, 2, 2),
        "{planned:?}"
    );
    let done = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert_eq!(done, planned, "the dry run said what the run did");
    let again = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert!(!again.changed(), "a second run changes nothing: {again:?}");
    let rows = repo
        .conversations(a.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1);
    assert_eq!(
        (rows.items[0].group, rows.items[0].other.uuid),
        (group, b.uuid)
    );
    // At the newest message, whose text it shows; the seed never marked
    // anything read, so b's two messages are unread for a.
    assert_eq!(rows.items[0].preview, "seed 2");
    assert_eq!(rows.items[0].unread, 1);
    // Paging over bare-timestamp keys neither skips nor repeats.
    let (messages, pages) = all_messages(&repo, group, b.uuid, 2).await;
    assert_eq!(pages, 2);
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["seed 2", "seed 1", "seed 0"]);
    assert_eq!(messages[1].sender, b.summary());
    let denied = repo
        .messages(group, stranger.uuid, &PageRequest::default())
        .await;
    assert_eq!(
        denied.map(|_| ()),
        Err(StoreError::NotFound(Missing::Conversation))
    );
}

dm_store::on_both_backends!(
    setup = Store::new;
    seed_items_read_back,
);
