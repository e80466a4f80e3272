//! The stream handler's invariants, each proved against both repositories:
//! one row per member, newest wins, idempotent, nothing dropped, only messages
//! move rows. Records are shuffled, duplicated and replayed across batches;
//! failures are injected after every call; two handlers run at once.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use dm_domain::{
    DisplayName, GroupId, Handle, ItemKey, Message, MessageId, MessageText, NewUser, Timestamp,
    User, UserId,
};
use dm_store::{
    ChangeEvent, ChangeKind, DynamoRepository, MemoryRepository, NewMessage, PageRequest, Record,
    Repository, StoreError,
    memory::Fault,
    testing::{Backend, FaultInjector, Injected},
};
use dm_stream::{Handler, RetryPolicy};
use proptest::prelude::*;

/// The repository under test, and what it takes to inject failures into it.
#[derive(Clone)]
enum Store {
    Memory(MemoryRepository),
    Dynamo(DynamoRepository, FaultInjector),
}

impl Store {
    async fn new(backend: Backend) -> Self {
        match backend {
            Backend::DynamoDbLocal => {
                let injector = FaultInjector::default();
                Self::Dynamo(
                    dm_store::testing::fresh_table_with(&injector).await,
                    injector,
                )
            }
            Backend::Memory => Self::Memory(MemoryRepository::new()),
        }
    }

    fn repo(&self) -> Arc<dyn Repository> {
        match self {
            Self::Memory(m) => Arc::new(m.clone()),
            Self::Dynamo(d, _) => Arc::new(d.clone()),
        }
    }

    fn calls(&self) -> u64 {
        match self {
            Self::Memory(m) => m.calls(),
            Self::Dynamo(_, injector) => injector.calls(),
        }
    }

    fn clear_faults(&self) {
        match self {
            Self::Memory(m) => m.clear_faults(),
            Self::Dynamo(_, injector) => injector.clear(),
        }
    }

    /// The call takes effect and its response is lost.
    fn lose_response(&self, call: u64) {
        match self {
            Self::Memory(m) => m.inject(
                call,
                Fault::After(StoreError::Unavailable("injected".into())),
            ),
            Self::Dynamo(_, injector) => injector.inject(call, Injected::LostResponse),
        }
    }
}

/// A fast handler: tests need no long backoffs.
fn handler(backend: &Store, attempts: u32) -> Handler {
    Handler::new(backend.repo()).with_retry(RetryPolicy {
        attempts,
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    })
}

struct World {
    groups: Vec<(GroupId, [User; 2], Message)>,
}

fn base_time() -> Timestamp {
    "2024-05-01T12:00:00.000000+00:00".parse().unwrap()
}

async fn world(repo: &Arc<dyn Repository>, groups: usize) -> World {
    let mut out = Vec::new();
    for _ in 0..groups {
        let mut users = Vec::new();
        for _ in 0..2 {
            let id = UserId::new();
            let handle = format!("u{}", &id.to_string()[..8]);
            users.push(
                repo.create_user(NewUser {
                    uuid: id,
                    handle: Handle::parse(&handle).unwrap(),
                    display_name: DisplayName::parse(&handle).unwrap(),
                    cognito_user_id: None,
                })
                .await
                .unwrap(),
            );
        }
        let first = NewMessage {
            id: MessageId::new(),
            created_at: base_time(),
            text: MessageText::parse("first").unwrap(),
        };
        let sent = repo
            .start_conversation(&users[0].summary(), &users[1].summary(), first)
            .await
            .unwrap();
        let users: [User; 2] = users.try_into().unwrap();
        out.push((sent.message.group, users, sent.message));
    }
    World { groups: out }
}

impl World {
    /// Sends a message: conversation `g`, member `who`, `secs` after the first.
    async fn send(&self, repo: &Arc<dyn Repository>, g: usize, who: usize, secs: i64) -> Message {
        let (group, users, _) = &self.groups[g];
        let message = NewMessage {
            id: MessageId::new(),
            created_at: base_time().plus(TimeDelta::seconds(secs)),
            text: MessageText::parse(&format!("at {secs}")).unwrap(),
        };
        repo.send_message(*group, &users[who].summary(), message)
            .await
            .unwrap()
    }

    /// Every member has exactly one row, showing the newest of `sent` (and the first message).
    async fn assert_converged(&self, repo: &Arc<dyn Repository>, sent: &[Message]) {
        for (group, users, first) in &self.groups {
            let newest = sent
                .iter()
                .filter(|m| m.group == *group)
                .chain(std::iter::once(first))
                .max_by_key(|m| m.reference())
                .unwrap();
            for user in users {
                let rows = repo
                    .conversations(user.uuid, &PageRequest::default())
                    .await
                    .unwrap();
                assert_eq!(rows.items.len(), 1, "exactly one row per member");
                assert_eq!(
                    rows.items[0].last_message_id,
                    Some(newest.id),
                    "the row shows the newest message"
                );
                assert_eq!(rows.items[0].last_message_at, newest.created_at);
            }
        }
    }
}

fn event(sequence: usize, message: &Message) -> ChangeEvent {
    ChangeEvent {
        sequence: sequence.to_string(),
        kind: ChangeKind::Insert,
        key: ItemKey::message(message.group, message.reference()),
        new_image: Some(Record::Message(message.clone())),
        expired: false,
    }
}

/// Records in the given order, numbered from `first`.
fn events(first: usize, messages: &[&Message]) -> Vec<ChangeEvent> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| event(first + i, m))
        .collect()
}

dm_store::on_both_backends!(
    a_lost_response_after_any_call_is_retried,
    the_first_failed_record_is_reported_and_its_retry_converges,
    two_handlers_at_once_converge,
    only_messages_move_rows,
    a_message_of_an_unknown_conversation_is_skipped,
);

async fn a_lost_response_after_any_call_is_retried(kind: Backend) {
    // Every call of the handler, in turn, loses its response.
    for k in 1.. {
        let backend = Store::new(kind).await;
        let repo = backend.repo();
        let world = world(&repo, 2).await;
        let mut sent = Vec::new();
        for (i, secs) in [3, 1, 2, 5].into_iter().enumerate() {
            sent.push(world.send(&repo, i % 2, i % 2, secs).await);
        }
        let batch = events(1, &sent.iter().collect::<Vec<_>>());
        let target = backend.calls() + k;
        backend.lose_response(target);
        let outcome = handler(&backend, 6).handle(&batch).await;
        assert_eq!(
            outcome.failed_at, None,
            "call {k}: the handler's retry recovered"
        );
        let reached = backend.calls() >= target;
        backend.clear_faults();
        world.assert_converged(&repo, &sent).await;
        if !reached {
            // The handler made fewer than k calls: every one of them has failed once.
            assert!(k > 2, "two conversations take at least one call each");
            break;
        }
    }
}

async fn the_first_failed_record_is_reported_and_its_retry_converges(kind: Backend) {
    let backend = Store::new(kind).await;
    let repo = backend.repo();
    let world = world(&repo, 1).await;
    let sent = vec![
        world.send(&repo, 0, 0, 7).await,
        world.send(&repo, 0, 1, 9).await,
        world.send(&repo, 0, 0, 8).await,
    ];
    let batch = events(5, &sent.iter().collect::<Vec<_>>());
    // No retries left: the first call of the handler fails, after taking effect.
    backend.lose_response(backend.calls() + 1);
    let outcome = handler(&backend, 1).handle(&batch).await;
    assert_eq!(
        outcome.failed_at.as_deref(),
        Some("5"),
        "the first record of the failed conversation"
    );
    // What Lambda does next: the batch again, from the failed record.
    let outcome = handler(&backend, 1).handle(&batch).await;
    assert_eq!(outcome.failed_at, None);
    world.assert_converged(&repo, &sent).await;
}

async fn two_handlers_at_once_converge(kind: Backend) {
    let backend = Store::new(kind).await;
    let repo = backend.repo();
    let world = world(&repo, 3).await;
    let mut sent = Vec::new();
    for i in 0..24 {
        sent.push(
            world
                .send(&repo, i % 3, i % 2, (i as i64 * 7919) % 50)
                .await,
        );
    }
    let forward = events(1, &sent.iter().collect::<Vec<_>>());
    let backward = events(1, &sent.iter().rev().collect::<Vec<_>>());
    let (one, two) = (handler(&backend, 6), handler(&backend, 6));
    let tasks = [
        tokio::spawn(async move {
            let mut failed = false;
            for chunk in forward.chunks(5) {
                failed |= one.handle(chunk).await.failed_at.is_some();
            }
            failed
        }),
        tokio::spawn(async move {
            let mut failed = false;
            for chunk in backward.chunks(3) {
                failed |= two.handle(chunk).await.failed_at.is_some();
            }
            failed
        }),
    ];
    for task in tasks {
        assert!(!task.await.unwrap(), "no batch failed");
    }
    world.assert_converged(&repo, &sent).await;
}

async fn only_messages_move_rows(kind: Backend) {
    let backend = Store::new(kind).await;
    let repo = backend.repo();
    let world = world(&repo, 1).await;
    let (group, users, first) = &world.groups[0];
    let later = Message {
        created_at: base_time().plus(TimeDelta::hours(1)),
        id: MessageId::new(),
        ..first.clone()
    };
    let stored = repo.group(*group, users[0].uuid).await.unwrap();
    let row = stored.first_rows(first).swap_remove(0);
    let mut newer_row = row.clone();
    newer_row.last_message_at = later.created_at;
    let batch = vec![
        // An idempotency claim the table's TTL removed: no image.
        ChangeEvent {
            sequence: "1".into(),
            kind: ChangeKind::Remove,
            key: ItemKey::Idempotency(users[0].uuid, "retry-1".into()),
            new_image: None,
            expired: true,
        },
        // Conversation-row writes, user items and group items.
        ChangeEvent {
            sequence: "2".into(),
            kind: ChangeKind::Insert,
            key: Record::Conversation(newer_row.clone()).key(),
            new_image: Some(Record::Conversation(newer_row)),
            expired: false,
        },
        ChangeEvent {
            sequence: "3".into(),
            kind: ChangeKind::Insert,
            key: ItemKey::User(users[0].uuid),
            new_image: Some(Record::User(users[0].clone())),
            expired: false,
        },
        ChangeEvent {
            sequence: "4".into(),
            kind: ChangeKind::Modify,
            key: ItemKey::Group(*group),
            new_image: Some(Record::Group(stored.clone())),
            expired: false,
        },
    ];
    let calls = backend.calls();
    let outcome = handler(&backend, 1).handle(&batch).await;
    assert_eq!(
        (
            outcome.records,
            outcome.messages,
            outcome.moved,
            outcome.expired
        ),
        (4, 0, 0, 1)
    );
    assert_eq!(backend.calls(), calls, "nothing was read or written");
    world.assert_converged(&repo, &[]).await;
}

async fn a_message_of_an_unknown_conversation_is_skipped(kind: Backend) {
    let backend = Store::new(kind).await;
    let repo = backend.repo();
    let world = world(&repo, 1).await;
    let sent = world.send(&repo, 0, 1, 4).await;
    let orphan = Message {
        group: GroupId::new(),
        id: MessageId::new(),
        ..sent.clone()
    };
    let outcome = handler(&backend, 3)
        .handle(&events(1, &[&orphan, &sent]))
        .await;
    assert_eq!(
        (outcome.skipped, outcome.moved, outcome.failed_at),
        (1, 1, None),
        "one bad record does not block its shard"
    );
    world.assert_converged(&repo, &[sent]).await;
}

/// A run: messages (conversation, sender, seconds after the first) and how
/// the stream delivers them (order, duplicates, replays, batch size).
#[derive(Debug, Clone)]
struct Run {
    messages: Vec<(usize, usize, i64)>,
    order: Vec<usize>,
    batch: usize,
}

fn run_strategy() -> impl Strategy<Value = Run> {
    prop::collection::vec((0..3usize, 0..2usize, 0..12i64), 1..14).prop_flat_map(|messages| {
        let n = messages.len();
        let shuffled = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        let extra = prop::collection::vec(0..n, 0..n * 2);
        (Just(messages), shuffled, extra, 1..6usize).prop_map(
            |(messages, mut order, extra, batch)| {
                // Every record at least once, then duplicates and replays anywhere after.
                for (i, e) in extra.into_iter().enumerate() {
                    let at = (i * 7919) % (order.len() + 1);
                    order.insert(at.max(1), e);
                }
                Run {
                    messages,
                    order,
                    batch,
                }
            },
        )
    })
}

fn check_run(kind: Backend, run: &Run) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let backend = Store::new(kind).await;
        let repo = backend.repo();
        let world = world(&repo, 3).await;
        let mut sent = Vec::new();
        for &(g, who, secs) in &run.messages {
            sent.push(world.send(&repo, g, who, secs).await);
        }
        let delivered: Vec<&Message> = run.order.iter().map(|&i| &sent[i]).collect();
        let stream = events(1, &delivered);
        let handler = handler(&backend, 6);
        for batch in stream.chunks(run.batch) {
            assert_eq!(handler.handle(batch).await.failed_at, None);
        }
        world.assert_converged(&repo, &sent).await;
        // Replaying the whole stream once more changes nothing.
        for batch in stream.chunks(run.batch) {
            assert_eq!(
                handler.handle(batch).await.moved,
                0,
                "a replay moves no row"
            );
        }
        world.assert_converged(&repo, &sent).await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn shuffled_duplicated_replayed_records_converge_in_memory(run in run_strategy()) {
        check_run(Backend::Memory, &run);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn shuffled_duplicated_replayed_records_converge_on_dynamodb(run in run_strategy()) {
        check_run(Backend::DynamoDbLocal, &run);
    }
}

/// Throttling and transaction conflicts, which DynamoDB Local never produces
/// by itself, injected by an SDK interceptor with no effect on the table: a
/// cancelled transaction is not retried by the client, the handler retries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_conflicts_are_retried_by_the_handler() {
    // The call each fault is injected at: the handler's first call is the
    // transaction (its guess of the group is what its process last saw);
    // after a failure it reads the group item first, then writes.
    for (fault, first, healed) in [
        (Injected::Throttled, 1, 1),
        (Injected::TransactionConflict, 1, 2),
    ] {
        let backend = Store::new(Backend::DynamoDbLocal).await;
        let Store::Dynamo(_, injector) = &backend else {
            unreachable!()
        };
        let repo = backend.repo();
        let world = world(&repo, 1).await;
        let sent = vec![world.send(&repo, 0, 1, 3).await];
        let batch = events(10, &sent.iter().collect::<Vec<_>>());

        // With no retries left the batch reports its record ...
        injector.inject(injector.calls() + first, fault);
        let outcome = handler(&backend, 1).handle(&batch).await;
        assert_eq!(outcome.failed_at.as_deref(), Some("10"), "{fault:?}");
        // ... and nothing moved.
        let rows = repo
            .conversations(world.groups[0].1[0].uuid, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items[0].preview, "first", "{fault:?} had no effect");

        // With retries, the same fault heals within the batch.
        injector.inject(injector.calls() + healed, fault);
        let outcome = handler(&backend, 4).handle(&batch).await;
        assert_eq!(outcome.failed_at, None, "{fault:?}");
        world.assert_converged(&repo, &sent).await;
    }
}

/// The retry budget (`dm_store::retry`): with every attempt throttled, one
/// message costs exactly the handler's attempts times the SDK's for each of
/// its two members (their rows, not remembered by this handler, are read at
/// once), and then goes back to Lambda or the poller, with nothing moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_table_costs_a_bounded_number_of_requests() {
    let injector = FaultInjector::default();
    let table = dm_store::testing::fresh_table_with_sdk_retries(&injector).await;
    let backend = Store::Dynamo(table, injector.clone());
    let repo = backend.repo();
    let world = world(&repo, 1).await;
    let sent = [world.send(&repo, 0, 1, 3).await];
    let batch = events(10, &sent.iter().collect::<Vec<_>>());

    let before = injector.calls();
    for call in 1..=1_000 {
        injector.inject(before + call, Injected::Throttled);
    }
    let policy = RetryPolicy {
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let outcome = Handler::new(repo.clone())
        .with_retry(policy)
        .handle(&batch)
        .await;
    assert_eq!(outcome.failed_at.as_deref(), Some("10"));
    let requests = injector.calls() - before;
    assert_eq!(
        requests,
        2 * u64::from(policy.attempts * dm_store::retry::SDK_ATTEMPTS),
        "two rows' reads, each the handler's attempts ({}) times the SDK's ({})",
        policy.attempts,
        dm_store::retry::SDK_ATTEMPTS
    );
    injector.clear();
    let rows = repo
        .conversations(world.groups[0].1[0].uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items[0].preview, "first", "nothing moved");
}
