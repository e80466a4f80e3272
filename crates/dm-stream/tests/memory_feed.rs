//! The memory repository plus its feed task behaves like DynamoDB plus its stream.

use std::{sync::Arc, time::Duration};

use dm_domain::{DisplayName, Handle, MessageText, NewUser, UserId};
use dm_store::{MemoryRepository, NewMessage, PageRequest, Repository};
use dm_stream::{Handler, memory_feed};

#[tokio::test]
async fn rows_follow_new_messages_without_anyone_calling_the_handler() {
    let repo = MemoryRepository::new();
    let user = |handle: &str| NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse(handle).unwrap(),
        cognito_user_id: None,
    };
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
    assert_eq!(theirs.items[0].last_message, "message 19");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the task stops on shutdown")
        .unwrap();
}
