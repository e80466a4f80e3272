//! The memory repository plus its feed task behaves like DynamoDB plus its stream.

use std::{sync::Arc, time::Duration};

use dm_domain::{DisplayName, Handle, MessageText, NewUser, UserId};
use dm_store::{MemoryRepository, NewMessage, PageRequest, Repository};
use dm_stream::{Handler, memory_feed};

fn user(handle: &str) -> NewUser {
    NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse(handle).unwrap(),
        cognito_user_id: None,
    }
}

#[tokio::test]
async fn rows_follow_new_messages_without_anyone_calling_the_handler() {
    let repo = MemoryRepository::new();
    let a = repo.create_user(user("vir")).await.unwrap();
    let b = repo.create_user(user("londo")).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = memory_feed::spawn(repo.clone(), Handler::new(Arc::new(repo.clone())), async {
        let _ = stopped.await;
    });
    let sent = repo
        .start_conversation(
            &a.summary(),
            &b.summary(),
            NewMessage::now(MessageText::parse("first").unwrap()),
        )
        .await
        .unwrap();
    let mut last = None;
    for i in 0..20 {
        let text = MessageText::parse(&format!("message {i}")).unwrap();
        last = Some(
            repo.send_message(sent.message.group, &b.summary(), NewMessage::now(text))
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows = repo
            .conversations(a.uuid, &PageRequest::default())
            .await
            .unwrap();
        if rows.items.len() == 1 && rows.items[0].last_message_id == Some(last.id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed task did not catch up: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let theirs = repo
        .conversations(b.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].preview, "message 19");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the task stops on shutdown")
        .unwrap();
}

/// The memory repository's TTL: expired claims and connections go, their
/// removals reach the feed as the service's, and the handler counts them
/// and moves nothing. A message removed by hand counts as deleted.
#[tokio::test]
async fn ttl_removals_move_nothing_and_a_hand_removal_is_a_delete() {
    use dm_store::{ChangeKind, IdempotencyClaim, MessageLookup};
    let repo = MemoryRepository::new();
    let a = repo.create_user(user("vir")).await.unwrap();
    let b = repo.create_user(user("londo")).await.unwrap();
    let text = |t: &str| MessageText::parse(t).unwrap();
    let first = repo
        .start_conversation(&a.summary(), &b.summary(), NewMessage::now(text("first")))
        .await
        .unwrap()
        .message;
    let second = repo
        .send_message(first.group, &a.summary(), NewMessage::now(text("second")))
        .await
        .unwrap();
    repo.claim_idempotency(
        IdempotencyClaim {
            user: a.uuid,
            key: "k".into(),
            message: second.id,
            at: second.created_at,
            request: "r".into(),
            expires_at: 100,
        },
        0,
    )
    .await
    .unwrap();
    let mut feed = memory_feed::MemoryFeed::new(repo.clone(), Handler::new(Arc::new(repo.clone())));
    feed.catch_up(1).await;
    let rows_before = repo.scan();
    assert_eq!(repo.expire(50), 0, "nothing has expired yet");
    assert_eq!(repo.expire(101), 1);
    let outcome = feed.step().await.unwrap();
    assert_eq!(
        (outcome.records, outcome.expired, outcome.messages),
        (1, 1, 0)
    );
    let after: Vec<_> = repo.scan();
    assert_eq!(after.len(), rows_before.len() - 1, "only the claim went");
    // A message removed by hand (as `aws dynamodb delete-item` would).
    let key = dm_domain::ItemKey::message(first.group, second.reference());
    dm_store::table::Table::write(&repo, vec![dm_store::table::Write::delete(key)])
        .await
        .unwrap();
    let outcome = feed.step().await.unwrap();
    assert_eq!((outcome.messages, outcome.counted), (1, 1));
    let removal = repo
        .changes_after(0, 1000)
        .unwrap()
        .into_iter()
        .rfind(|e| matches!(e.key, dm_domain::ItemKey::Message { .. }))
        .unwrap();
    assert_eq!((removal.kind, removal.expired), (ChangeKind::Remove, false));
    let rows = repo
        .conversations(b.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items[0].preview, "first", "the message before");
    assert_eq!(rows.items[0].unread, 1, "the removed one stops counting");
    let gone = repo
        .find_message(
            first.group,
            a.uuid,
            MessageLookup {
                id: second.id,
                sent_at: None,
            },
        )
        .await;
    assert!(gone.is_err());
}
