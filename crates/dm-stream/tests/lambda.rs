//! The Lambda handler fed real DynamoDB Stream event JSON, as Lambda sends it.

use std::{sync::Arc, time::Duration};

use aws_lambda_events::event::dynamodb::Event;
use dm_domain::{MessageId, MessageText, UserId};
use dm_store::{MemoryRepository, NewMessage, PageRequest, Repository, StoreError, memory::Fault};
use dm_stream::{Handler, RetryPolicy, lambda::handle_event};

struct Setup {
    repo: MemoryRepository,
    group: String,
    andrew: UserId,
    bayko: UserId,
}

async fn setup() -> Setup {
    let repo = MemoryRepository::new();
    let a = dm_store::testing::user(&repo, "andrewbrown").await;
    let b = dm_store::testing::user(&repo, "bayko").await;
    let first = NewMessage {
        id: MessageId::new(),
        created_at: "2023-03-20T22:00:00.000000+00:00".parse().unwrap(),
        text: MessageText::parse("hello").unwrap(),
    };
    let sent = repo
        .start_conversation(&a.summary(), &b.summary(), first)
        .await
        .unwrap();
    // The message the event carries, as the API stored it before the stream saw it.
    repo.send_message(
        sent.message.group,
        &b.summary(),
        NewMessage {
            id: "6d6cbbcf-7b8b-4d3a-9d0a-2f1c4b8e9a01".parse().unwrap(),
            created_at: "2023-03-21T09:15:42.123456+00:00".parse().unwrap(),
            text: MessageText::parse("Are you coming to the meetup?").unwrap(),
        },
    )
    .await
    .unwrap();
    Setup {
        repo,
        group: sent.message.group.to_string(),
        andrew: a.uuid,
        bayko: b.uuid,
    }
}

/// A stream event exactly as Lambda delivers it: one new message, one
/// conversation-row write and one removal.
fn event_json(s: &Setup) -> String {
    let (group, andrew, bayko) = (&s.group, s.andrew, s.bayko);
    let at = "2023-03-21T09:15:42.123456+00:00";
    let id = "6d6cbbcf-7b8b-4d3a-9d0a-2f1c4b8e9a01";
    format!(
        r#"{{
  "Records": [
    {{
      "eventID": "c4ca4238a0b923820dcc509a6f75849b",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {{
        "ApproximateCreationDateTime": 1679390142,
        "Keys": {{ "pk": {{ "S": "MSG#{group}" }}, "sk": {{ "S": "{at}#{id}" }} }},
        "NewImage": {{
          "pk": {{ "S": "MSG#{group}" }},
          "sk": {{ "S": "{at}#{id}" }},
          "entity": {{ "S": "message" }},
          "message_uuid": {{ "S": "{id}" }},
          "message": {{ "S": "Are you coming to the meetup?" }},
          "created_at": {{ "S": "{at}" }},
          "user_uuid": {{ "S": "{bayko}" }},
          "user_handle": {{ "S": "bayko" }},
          "user_display_name": {{ "S": "bayko" }}
        }},
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 412,
        "StreamViewType": "NEW_IMAGE"
      }},
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-20T00:00:00.000"
    }},
    {{
      "eventID": "c81e728d9d4c2f636f067f89cc14862c",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {{
        "ApproximateCreationDateTime": 1679390142,
        "Keys": {{ "pk": {{ "S": "GRP#{andrew}" }}, "sk": {{ "S": "{at}#{group}" }} }},
        "NewImage": {{
          "pk": {{ "S": "GRP#{andrew}" }},
          "sk": {{ "S": "{at}#{group}" }},
          "entity": {{ "S": "conversation" }},
          "message_group_uuid": {{ "S": "{group}" }},
          "message": {{ "S": "Are you coming to the meetup?" }},
          "user_uuid": {{ "S": "{bayko}" }},
          "user_handle": {{ "S": "bayko" }},
          "user_display_name": {{ "S": "bayko" }}
        }},
        "SequenceNumber": "4421584500000000017450439092",
        "SizeBytes": 300,
        "StreamViewType": "NEW_IMAGE"
      }},
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-20T00:00:00.000"
    }},
    {{
      "eventID": "eccbc87e4b5ce2fe28308fd9f2a7baf3",
      "eventName": "REMOVE",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {{
        "ApproximateCreationDateTime": 1679390143,
        "Keys": {{ "pk": {{ "S": "GRP#{andrew}" }}, "sk": {{ "S": "2023-03-20T22:00:00.000000+00:00#{group}" }} }},
        "SequenceNumber": "4421584500000000017450439093",
        "SizeBytes": 120,
        "StreamViewType": "NEW_IMAGE"
      }},
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-20T00:00:00.000"
    }}
  ]
}}"#
    )
}

#[tokio::test]
async fn a_real_event_moves_both_rows_and_reports_no_failure() {
    let s = setup().await;
    let event: Event = serde_json::from_str(&event_json(&s)).unwrap();
    let handler = Handler::new(Arc::new(s.repo.clone()));
    let response = handle_event(&handler, &event).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({ "batchItemFailures": [] })
    );
    for owner in [s.andrew, s.bayko] {
        let rows = s
            .repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.items[0].preview, "Are you coming to the meetup?");
    }
    // The same event again (Lambda retries deliver duplicates): nothing changes.
    let before = s.repo.scan();
    handle_event(&handler, &event).await;
    assert_eq!(s.repo.scan(), before);
}

#[tokio::test]
async fn a_failed_record_is_reported_by_sequence_number() {
    let s = setup().await;
    let event: Event = serde_json::from_str(&event_json(&s)).unwrap();
    let handler = Handler::new(Arc::new(s.repo.clone())).with_retry(RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(1),
        max: Duration::from_millis(1),
    });
    // Every call of both attempts throttled (an attempt reads the members'
    // rows at once, so it makes more than one).
    let next = s.repo.calls() + 1;
    for call in next..next + 10 {
        s.repo.inject(
            call,
            Fault::Before(StoreError::Throttled("injected".into())),
        );
    }
    let response = handle_event(&handler, &event).await;
    s.repo.clear_faults();
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": "4421584500000000017450439091" }] })
    );
    let rows = s
        .repo
        .conversations(s.andrew, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items[0].preview, "hello", "nothing moved");
    // Lambda's retry succeeds.
    let response = handle_event(&handler, &event).await;
    assert!(response.batch_item_failures.is_empty());
    let rows = s
        .repo
        .conversations(s.andrew, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items[0].preview, "Are you coming to the meetup?");
}

/// A delete as Lambda delivers it (the tombstone's MODIFY), beside a removal
/// the table's TTL made (an expired idempotency claim) and one a user made
/// by hand (a conversation row): the rows show the message before, and the
/// TTL's removal is told apart.
#[tokio::test]
async fn a_tombstone_moves_the_preview_back_and_a_ttl_removal_nothing() {
    let s = setup().await;
    let handler = Handler::new(Arc::new(s.repo.clone()));
    handle_event(&handler, &serde_json::from_str(&event_json(&s)).unwrap()).await;
    let group = s.group.parse().unwrap();
    let deleted = s
        .repo
        .delete_message(
            group,
            s.bayko,
            dm_store::MessageLookup {
                id: "6d6cbbcf-7b8b-4d3a-9d0a-2f1c4b8e9a01".parse().unwrap(),
                sent_at: None,
            },
        )
        .await
        .unwrap();
    assert!(deleted.deleted);
    let (group, andrew, bayko) = (&s.group, s.andrew, s.bayko);
    let at = "2023-03-21T09:15:42.123456+00:00";
    let id = "6d6cbbcf-7b8b-4d3a-9d0a-2f1c4b8e9a01";
    let json = format!(
        r#"{{
  "Records": [
    {{
      "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
      "dynamodb": {{
        "ApproximateCreationDateTime": 1679390200,
        "Keys": {{ "pk": {{ "S": "MSG#{group}" }}, "sk": {{ "S": "{at}#{id}" }} }},
        "NewImage": {{
          "pk": {{ "S": "MSG#{group}" }}, "sk": {{ "S": "{at}#{id}" }}, "entity": {{ "S": "message" }},
          "message_uuid": {{ "S": "{id}" }}, "message": {{ "S": "" }}, "created_at": {{ "S": "{at}" }},
          "user_uuid": {{ "S": "{bayko}" }}, "user_handle": {{ "S": "bayko" }}, "user_display_name": {{ "S": "bayko" }},
          "deleted": {{ "BOOL": true }}
        }},
        "SequenceNumber": "4421584500000000017450439100", "SizeBytes": 300, "StreamViewType": "NEW_IMAGE"
      }},
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-20T00:00:00.000"
    }},
    {{
      "eventID": "2", "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
      "userIdentity": {{ "type": "Service", "principalId": "dynamodb.amazonaws.com" }},
      "dynamodb": {{
        "ApproximateCreationDateTime": 1679476600,
        "Keys": {{ "pk": {{ "S": "IDEMP#{andrew}#retry-1" }}, "sk": {{ "S": "IDEMP" }} }},
        "SequenceNumber": "4421584500000000017450439101", "SizeBytes": 90, "StreamViewType": "NEW_IMAGE"
      }},
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-20T00:00:00.000"
    }}
  ]
}}"#
    );
    let event: Event = serde_json::from_str(&json).unwrap();
    let events = dm_stream::decode::from_lambda(&event.records);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events.iter().map(|e| e.expired).collect::<Vec<_>>(),
        [false, true]
    );
    let outcome = handler.handle(&events).await;
    assert_eq!(
        (outcome.counted, outcome.expired, outcome.failed_at),
        (1, 1, None)
    );
    for owner in [s.andrew, s.bayko] {
        let rows = s
            .repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items[0].preview, "hello", "the message before");
        assert_eq!(rows.items[0].last_message_at.to_string(), at, "in place");
    }
    let andrews = s
        .repo
        .conversations(s.andrew, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        andrews.items[0].unread, 0,
        "the deleted message stops counting"
    );
}

/// A record of `item` as Lambda delivers it from the table's stream.
fn lambda_record(name: &str, sequence: u64, item: &serde_dynamo::Item) -> serde_json::Value {
    let item = serde_json::to_value(item).unwrap();
    serde_json::json!({
        "eventID": format!("{sequence:032x}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1679390142,
            "Keys": { "pk": item["pk"], "sk": item["sk"] },
            "NewImage": item,
            "SequenceNumber": format!("{:028}", 4_421_584_500_000_000_017_450_u128 + u128::from(sequence)),
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2023-03-21T00:00:00.000"
    })
}

/// A named group made, then one member removed, each as the Lambda event
/// of its item: every member gets a row at the creation, and after the
/// removal the removed member has none and the others show two members.
#[tokio::test]
async fn a_named_groups_records_make_and_change_its_rows() {
    let repo = MemoryRepository::new();
    let mut users = Vec::new();
    for handle in ["ana", "bo", "cy"] {
        users.push(dm_store::testing::user(&repo, handle).await.summary());
    }
    let made = repo
        .create_group(
            &users[0],
            dm_domain::GroupName::parse("crew").unwrap(),
            users[1..].to_vec(),
        )
        .await
        .unwrap();
    let handler = Handler::new(Arc::new(repo.clone()));
    let item = |g: &dm_domain::Group| dm_store::Record::Group(g.clone()).to_item();
    let event = |records: Vec<serde_json::Value>| -> Event {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    };
    let response = handle_event(
        &handler,
        &event(vec![lambda_record("INSERT", 1, &item(&made))]),
    )
    .await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({ "batchItemFailures": [] })
    );
    let row = |owner: UserId| {
        let repo = repo.clone();
        async move {
            repo.conversations(owner, &PageRequest::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|r| r.group == made.id)
        }
    };
    for user in &users {
        let shown = row(user.uuid).await.expect("a row for every member");
        assert_eq!(shown.topic.unwrap().members_count, 3);
    }
    let removed = repo
        .change_group(
            made.id,
            users[0].uuid,
            &dm_store::GroupChange::Remove(users[2].uuid),
        )
        .await
        .unwrap();
    handle_event(
        &handler,
        &event(vec![lambda_record("MODIFY", 2, &item(&removed))]),
    )
    .await;
    assert!(
        row(users[2].uuid).await.is_none(),
        "the removed member's row"
    );
    for user in &users[..2] {
        assert_eq!(
            row(user.uuid).await.unwrap().topic.unwrap().members_count,
            2
        );
    }
}
