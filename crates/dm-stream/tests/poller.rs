//! The local poller on DynamoDB Local's real stream: messages to several
//! conversations, the poller killed half way and restarted from its
//! checkpoint, or its row updates failing for a while, and every row right
//! in the end.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use dm_domain::{GroupId, Message, MessageId, MessageText, Timestamp, User, UserId};
use dm_store::{
    DynamoRepository, NewMessage, PageRequest, Repository,
    testing::{FaultInjector, Injected},
};
use dm_stream::{
    Handler, RetryPolicy,
    poller::{Checkpoint, Poller, PollerConfig},
};

async fn poller(repo: &DynamoRepository, checkpoint: &std::path::Path) -> Poller {
    poller_with(repo, checkpoint, Handler::new(Arc::new(repo.clone()))).await
}

async fn poller_with(
    repo: &DynamoRepository,
    checkpoint: &std::path::Path,
    handler: Handler,
) -> Poller {
    let config = dm_store::client::sdk_config(Some(dm_local::shared())).await;
    Poller::new(
        repo.client().clone(),
        aws_sdk_dynamodbstreams::Client::new(&config),
        handler,
        PollerConfig {
            table: repo.table().to_owned(),
            checkpoint: Some(checkpoint.to_owned()),
            interval: Duration::from_millis(50),
        },
    )
    .unwrap()
}

/// Polls until a pass finds nothing new.
async fn catch_up(poller: &mut Poller) {
    for _ in 0..100 {
        let pass = poller.poll_once().await.unwrap();
        assert!(!pass.failed);
        if pass.records == 0 {
            return;
        }
    }
    panic!("the poller did not catch up");
}

async fn user(repo: &DynamoRepository, n: usize) -> User {
    let handle = format!("p{n}_{}", &UserId::new().to_string()[..6]);
    dm_store::testing::user(repo, &handle).await
}

/// The `i`th conversation of a test: two users of their own, and a first
/// message at `base`.
async fn conversation(repo: &DynamoRepository, i: usize, base: Timestamp) -> (GroupId, User, User) {
    let (a, b) = (user(repo, 2 * i).await, user(repo, 2 * i + 1).await);
    let first = NewMessage {
        id: MessageId::new(),
        created_at: base,
        text: MessageText::parse("hi").unwrap(),
    };
    let group = repo
        .start_conversation(&a.summary(), &b.summary(), first)
        .await
        .unwrap()
        .message
        .group;
    (group, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_converge_across_a_poller_restart() {
    let repo = dm_store::testing::fresh_table().await;
    let dir = std::env::temp_dir().join(format!("dm-poller-{}", UserId::new()));
    let checkpoint = dir.join("checkpoint.json");
    let base: Timestamp = "2024-02-01T00:00:00.000000+00:00".parse().unwrap();

    // Four conversations, forty messages, with the first half before the restart.
    let mut conversations = Vec::new();
    for i in 0..4 {
        let (group, a, b) = conversation(&repo, i, base).await;
        conversations.push((group, a, b));
    }
    let mut sent: Vec<Message> = Vec::new();
    let send = |i: usize| {
        let (group, a, b) = conversations[i % 4].clone();
        let sender = if i.is_multiple_of(3) { a } else { b };
        let repo = repo.clone();
        async move {
            let message = NewMessage {
                id: MessageId::new(),
                created_at: base.plus(TimeDelta::seconds(i as i64 + 1)),
                text: MessageText::parse(&format!("message {i}")).unwrap(),
            };
            repo.send_message(group, &sender.summary(), message)
                .await
                .unwrap()
        }
    };
    for i in 0..20 {
        sent.push(send(i).await);
    }
    let mut first = poller(&repo, &checkpoint).await;
    catch_up(&mut first).await;
    drop(first);
    let saved = Checkpoint::load(&checkpoint).unwrap();
    assert!(!saved.stream_arn.is_empty());
    assert!(
        saved.shards.values().any(|s| s.sequence.is_some()),
        "the checkpoint records a position"
    );

    for i in 20..40 {
        sent.push(send(i).await);
    }
    let mut second = poller(&repo, &checkpoint).await;
    assert_eq!(
        second.checkpoint(),
        &saved,
        "the restarted poller resumes from the checkpoint"
    );
    catch_up(&mut second).await;

    for (group, a, b) in &conversations {
        let newest = sent
            .iter()
            .filter(|m| m.group == *group)
            .max_by_key(|m| m.reference())
            .unwrap();
        for member in [a, b] {
            let rows = repo
                .conversations(member.uuid, &PageRequest::default())
                .await
                .unwrap();
            assert_eq!(rows.items.len(), 1, "one row per member");
            assert_eq!(rows.items[0].last_message_id, Some(newest.id));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Row updates that fail for good stop the pipeline: the checkpoint stays
/// before everything not applied, the pass says it failed, and the next
/// passes read the same records again and apply them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_row_updates_are_read_again_from_the_checkpoint() {
    let injector = FaultInjector::default();
    let repo = dm_store::testing::fresh_table_with(&injector).await;
    let dir = std::env::temp_dir().join(format!("dm-poller-{}", UserId::new()));
    let checkpoint = dir.join("checkpoint.json");
    let base: Timestamp = "2024-03-01T00:00:00.000000+00:00".parse().unwrap();
    let mut newest = Vec::new();
    for i in 0..4 {
        let (group, a, b) = conversation(&repo, i, base).await;
        newest.push((group, [a, b], None));
    }
    let handler = || {
        Handler::new(Arc::new(repo.clone())).with_retry(RetryPolicy {
            attempts: 1,
            base: Duration::from_millis(1),
            max: Duration::from_millis(1),
        })
    };
    let mut poller = poller_with(&repo, &checkpoint, handler()).await;
    catch_up(&mut poller).await;
    let before = Checkpoint::load(&checkpoint).unwrap();

    for round in 0..3 {
        for (i, (group, members, last)) in newest.iter_mut().enumerate() {
            let message = NewMessage {
                id: MessageId::new(),
                created_at: base.plus(TimeDelta::seconds(10 * round + i as i64 + 1)),
                text: MessageText::parse(&format!("round {round}")).unwrap(),
            };
            let sent = repo
                .send_message(*group, &members[0].summary(), message)
                .await
                .unwrap();
            *last = Some(sent.id);
        }
    }
    let calls = injector.calls();
    for call in 1..=10_000 {
        injector.inject(calls + call, Injected::Throttled);
    }
    let pass = poller.poll_once().await.unwrap();
    assert!(pass.failed, "every row update was throttled");
    assert!(pass.records >= 12, "the pass read the messages: {pass:?}");
    assert_eq!(
        poller.checkpoint(),
        &before,
        "nothing applied, nothing checkpointed"
    );
    assert_eq!(Checkpoint::load(&checkpoint).unwrap(), before);

    injector.clear();
    let again = poller.poll_once().await.unwrap();
    assert!(!again.failed);
    assert!(
        again.records >= 12,
        "the next pass reads the same records again: {again:?}"
    );
    catch_up(&mut poller).await;
    assert_ne!(poller.checkpoint(), &before, "the checkpoint moved on");
    for (_, members, last) in &newest {
        for member in members {
            let rows = repo
                .conversations(member.uuid, &PageRequest::default())
                .await
                .unwrap();
            assert_eq!(rows.items.len(), 1);
            assert_eq!(rows.items[0].last_message_id, *last);
        }
    }
    // The restarted poller has nothing left to do.
    drop(poller);
    let mut restarted = poller_with(&repo, &checkpoint, handler()).await;
    assert_eq!(restarted.poll_once().await.unwrap().records, 0);
    let _ = std::fs::remove_dir_all(dir);
}
