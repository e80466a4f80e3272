//! `cargo xtask migrate` on a table this project wrote before issue 25: a
//! group item that held the rows' state, rows keyed by their last message
//! (`{time}#{group}`), messages and a read marker. The dry run changes
//! nothing; the run makes each member's row in the current layout from the
//! messages and the marker, and deletes the old rows; a second run changes
//! nothing and says so.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use dm_domain::{DisplayName, GroupId, Handle, MessageId, NewUser, Timestamp, UserId};
use dm_store::{DynamoRepository, PageRequest, Repository};

/// An item from JSON, as the SDK sends it.
fn item(json: serde_json::Value) -> std::collections::HashMap<String, AttributeValue> {
    let item: serde_dynamo::Item = serde_dynamo::to_item(json).unwrap();
    item.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_brings_rows_of_the_older_layout_to_the_current_one() {
    let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
    let table = format!("older-{}", uuid::Uuid::new_v4().simple());
    common::ok(&common::xtask(endpoint, &table, &["schema-load"]));
    let config = dm_store::client::sdk_config(Some(endpoint)).await;
    let repo = DynamoRepository::new(&config, &table).unwrap();
    let client = repo.client().clone();
    let user = |handle: &str| NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse(handle).unwrap(),
        cognito_user_id: None,
    };
    let a = repo.create_user(user("older_a")).await.unwrap();
    let b = repo.create_user(user("older_b")).await.unwrap();
    let group = GroupId::new();
    let start: Timestamp = "2026-11-01T10:00:00.000000+00:00".parse().unwrap();
    let at = |minutes: i64| start.plus(chrono::TimeDelta::minutes(minutes));
    // Three messages, a to b, b to a, a to b; b has read the first.
    let ids: Vec<MessageId> = (0..3).map(|_| MessageId::new()).collect();
    let mut items = Vec::new();
    for (i, sender) in [(0, &a), (1, &b), (2, &a)] {
        items.push(serde_json::json!({
            "pk": format!("MSG#{group}"),
            "sk": format!("{}#{}", at(i), ids[i as usize]),
            "entity": "message",
            "message_uuid": ids[i as usize].to_string(),
            "created_at": at(i).to_string(),
            "message": format!("message {i}"),
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
    // The group item as it was: the rows' state on it.
    let member = |u: &dm_domain::User, unread: u32| {
        serde_json::json!({
            "user_uuid": u.uuid.to_string(),
            "user_handle": u.handle.to_string(),
            "user_display_name": u.display_name.to_string(),
            "unread_count": unread,
        })
    };
    items.push(serde_json::json!({
        "pk": format!("GROUP#{group}"),
        "sk": "META",
        "entity": "group",
        "group_uuid": group.to_string(),
        "members": [member(&a, 1), member(&b, 1)],
        "version": 3,
        "created_at": at(0).to_string(),
        "last_message_at": at(2).to_string(),
        "last_message_uuid": ids[2].to_string(),
        "message": "message 2",
    }));
    items.push(serde_json::json!({
        "pk": format!("DM#{}#{}", a.uuid.min(b.uuid), a.uuid.max(b.uuid)),
        "sk": "DM",
        "entity": "dm_pair",
        "group_uuid": group.to_string(),
    }));
    for (owner, other) in [(&a, &b), (&b, &a)] {
        items.push(serde_json::json!({
            "pk": format!("GRP#{}", owner.uuid),
            "sk": format!("{}#{group}", at(2)),
            "entity": "conversation",
            "message": "message 2",
            "last_message_uuid": ids[2].to_string(),
            "last_message_at": at(2).to_string(),
            "user_uuid": other.uuid.to_string(),
            "user_handle": other.handle.to_string(),
            "user_display_name": other.display_name.to_string(),
            "unread_count": 1,
        }));
    }
    for json in items {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item(json)))
            .send()
            .await
            .unwrap();
    }
    let listed = |user: UserId| {
        let repo = repo.clone();
        async move {
            repo.conversations(user, &PageRequest::default())
                .await
                .unwrap()
                .items
        }
    };
    assert!(listed(a.uuid).await.is_empty(), "old rows are not listed");
    let count = || async {
        client
            .scan()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .count()
    };
    let before = count().await;

    let dry = common::ok(&common::xtask(endpoint, &table, &["migrate", "--dry-run"]));
    assert!(
        dry.contains("would make 0 group items (for conversations Cruddur or the seed wrote) and 2 rows; would delete 2 rows of the older layouts"),
        "{dry}"
    );
    assert_eq!(count().await, before, "a dry run writes nothing");

    let run = common::ok(&common::xtask(endpoint, &table, &["migrate"]));
    assert!(
        run.contains("made 0 group items (for conversations Cruddur or the seed wrote) and 2 rows; deleted 2 rows of the older layouts"),
        "{run}"
    );
    let [row_a] = listed(a.uuid).await.try_into().unwrap();
    let [row_b] = listed(b.uuid).await.try_into().unwrap();
    for row in [&row_a, &row_b] {
        assert_eq!(row.group, group);
        assert_eq!(row.preview, "message 2");
        assert_eq!(row.last_message_id, Some(ids[2]));
    }
    // a never marked: b's one message is unread. b read the first: a's
    // third is unread.
    assert_eq!((row_a.unread, row_b.unread), (1, 1));
    assert_eq!(row_b.read_through.map(|r| r.id), Some(ids[0]));
    assert_eq!(count().await, before, "two rows made, two deleted");

    // The stream handler takes it from there: a new message moves both.
    let sent = repo
        .send_message(
            group,
            &b.summary(),
            dm_store::NewMessage::now(dm_domain::MessageText::parse("after").unwrap()),
        )
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    let [row_a] = listed(a.uuid).await.try_into().unwrap();
    assert_eq!((row_a.preview.as_str(), row_a.unread), ("after", 2));

    let again = common::ok(&common::xtask(endpoint, &table, &["migrate"]));
    assert!(
        again.contains("nothing to do: every conversation is in the current layout"),
        "{again}"
    );
}
