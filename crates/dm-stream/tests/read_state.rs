//! Read state, edits and deletes under everything the stream does, on both
//! repositories: messages sent with skewed clocks (an older `created_at`
//! written after a newer one), read markers set as the API sets them, edits
//! and deletes by the authors, and their records shuffled, duplicated,
//! replayed, and applied by two handlers at once. Once the stream has caught
//! up:
//!
//! 1. a member's own messages never count as unread for them;
//! 2. each unread count is the number of the other member's messages newer
//!    than the member's marker and not deleted, up to the cap;
//! 3. a marker never moves backwards, even under concurrent marks;
//! 4. marking, sending, editing, deleting and the stream racing each other
//!    converge to 2 and 5;
//! 5. a row's preview is the current text of the newest message not deleted
//!    (empty when none remains), and the row stands at the newest message
//!    sent, deleted or not: edits and deletes never move it.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use dm_domain::{
    DisplayName, GroupId, Handle, ItemKey, Message, MessageId, MessageRef, MessageText, NewUser,
    ReadMarker, Timestamp, UNREAD_CAP, User, UserId,
};
use dm_store::{
    ChangeEvent, ChangeKind, MessageLookup, NewMessage, PageRequest, Record, Repository,
    testing::Backend,
};
use dm_stream::{Handler, RetryPolicy};
use proptest::prelude::*;

fn handler(repo: &Arc<dyn Repository>) -> Handler {
    Handler::new(repo.clone()).with_retry(RetryPolicy {
        attempts: 8,
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    })
}

fn base_time() -> Timestamp {
    "2024-05-01T12:00:00.000000+00:00".parse().unwrap()
}

async fn user(repo: &Arc<dyn Repository>) -> User {
    let id = UserId::new();
    let handle = format!("u{}", &id.to_string()[..8]);
    repo.create_user(NewUser {
        uuid: id,
        handle: Handle::parse(&handle).unwrap(),
        display_name: DisplayName::parse(&handle).unwrap(),
        cognito_user_id: None,
    })
    .await
    .unwrap()
}

/// Two conversations, each started by its member 0 with one message.
struct World {
    groups: Vec<(GroupId, [User; 2])>,
    /// Every message sent, the first ones included.
    sent: Vec<Message>,
    /// Every later state written (edits, tombstones), in the order written.
    states: Vec<Message>,
    /// Every marker the API accepted, in the order it did.
    marked: Vec<ReadMarker>,
}

impl World {
    async fn new(repo: &Arc<dyn Repository>, groups: usize) -> Self {
        let mut world = Self {
            groups: Vec::new(),
            sent: Vec::new(),
            states: Vec::new(),
            marked: Vec::new(),
        };
        for _ in 0..groups {
            let users = [user(repo).await, user(repo).await];
            let first = NewMessage {
                id: MessageId::new(),
                created_at: base_time(),
                text: MessageText::parse("first").unwrap(),
            };
            let started = repo
                .start_conversation(&users[0].summary(), &users[1].summary(), first)
                .await
                .unwrap();
            world.groups.push((started.message.group, users));
            world.sent.push(started.message);
        }
        world
    }

    async fn send(&mut self, repo: &Arc<dyn Repository>, g: usize, who: usize, secs: i64) {
        let sent = send(repo, self.groups[g].0, &self.groups[g].1[who], secs).await;
        self.sent.push(sent);
    }

    /// The `pick`-th message sent to conversation `g` (by sending order).
    fn pick(&self, g: usize, pick: usize) -> Message {
        let group = self.groups[g].0;
        let sent: Vec<&Message> = self.sent.iter().filter(|m| m.group == group).collect();
        sent[pick % sent.len()].clone()
    }

    /// Its author edits the `pick`-th message of conversation `g`.
    async fn edit(&mut self, repo: &Arc<dyn Repository>, g: usize, pick: usize, n: i64) {
        let message = self.pick(g, pick);
        self.states.extend(edit(repo, &message, n).await);
    }

    /// Its author deletes the `pick`-th message of conversation `g`.
    async fn delete(&mut self, repo: &Arc<dyn Repository>, g: usize, pick: usize) {
        let message = self.pick(g, pick);
        self.states.push(delete(repo, &message).await);
    }

    /// A message as it is now: its latest state written.
    fn current(&self, id: MessageId) -> Message {
        self.sent
            .iter()
            .chain(&self.states)
            .filter(|m| m.id == id)
            .max_by_key(|m| m.revision())
            .cloned()
            .unwrap()
    }

    /// The preview invariant 5 defines.
    fn expected_preview(&self, group: GroupId) -> String {
        self.sent
            .iter()
            .filter(|m| m.group == group)
            .map(|m| self.current(m.id))
            .filter(|m| !m.deleted)
            .max_by_key(Message::reference)
            .map(|m| m.text)
            .unwrap_or_default()
    }

    /// Member `who` marks conversation `g` read up to its `pick`-th message
    /// sent so far (by sending order: what a page has seen).
    async fn mark(&mut self, repo: &Arc<dyn Repository>, g: usize, who: usize, pick: usize) {
        let (group, users) = &self.groups[g];
        let seen: Vec<&Message> = self.sent.iter().filter(|m| m.group == *group).collect();
        let through = seen[pick % seen.len()].reference();
        let member = users[who].uuid;
        let stands = repo.mark_read(*group, member, through).await.unwrap();
        assert!(
            stands >= through,
            "the marker in force is at least the one asked"
        );
        self.marked.push(ReadMarker {
            group: *group,
            member,
            through: stands,
        });
    }

    /// Where each member's marker must stand.
    fn marker(&self, group: GroupId, member: UserId) -> Option<MessageRef> {
        self.marked
            .iter()
            .filter(|r| r.group == group && r.member == member)
            .map(|r| r.through)
            .max()
    }

    /// The unread count invariant 2 defines.
    fn expected_unread(&self, group: GroupId, member: UserId) -> u32 {
        let marker = self.marker(group, member);
        let n = self
            .sent
            .iter()
            .filter(|m| m.group == group && m.sender.uuid != member)
            .filter(|m| marker.is_none_or(|t| m.reference() > t))
            .filter(|m| !self.current(m.id).deleted)
            .count();
        u32::try_from(n).unwrap().min(UNREAD_CAP + 1)
    }

    /// The stream as it would carry the writes: each message, each later
    /// state of one, and each accepted marker (a repeated one is a harmless
    /// replay).
    fn records(&self) -> Vec<ChangeEvent> {
        let messages = self
            .sent
            .iter()
            .map(|m| (Record::Message(m.clone()), ChangeKind::Insert))
            .chain(
                self.states
                    .iter()
                    .map(|m| (Record::Message(m.clone()), ChangeKind::Modify)),
            );
        let marks = self
            .marked
            .iter()
            .map(|r| (Record::ReadMarker(*r), ChangeKind::Modify));
        messages
            .chain(marks)
            .enumerate()
            .map(|(i, (record, kind))| ChangeEvent {
                sequence: (i + 1).to_string(),
                kind,
                key: record.key(),
                new_image: Some(record),
                expired: false,
            })
            .collect()
    }

    async fn assert_exact(&self, repo: &Arc<dyn Repository>) {
        for (group, users) in &self.groups {
            for user in users {
                let rows = repo
                    .conversations(user.uuid, &PageRequest::default())
                    .await
                    .unwrap();
                assert_eq!(rows.items.len(), 1, "one row per member");
                let expected = self.expected_unread(*group, user.uuid);
                assert_eq!(rows.items[0].unread, expected, "the row's unread count");
                assert_eq!(
                    rows.items[0].preview,
                    self.expected_preview(*group),
                    "the row's preview"
                );
                let newest = self
                    .sent
                    .iter()
                    .filter(|m| m.group == *group)
                    .map(Message::reference)
                    .max()
                    .unwrap();
                assert_eq!(
                    rows.items[0].last_message_at, newest.at,
                    "the row stands at the newest message sent"
                );
                let own_only = self
                    .sent
                    .iter()
                    .filter(|m| m.group == *group)
                    .all(|m| m.sender.uuid == user.uuid);
                if own_only {
                    assert_eq!(rows.items[0].unread, 0, "one's own messages never count");
                }
                let stored = repo.group(*group, user.uuid).await.unwrap();
                let index = stored.member_index(user.uuid).unwrap();
                assert_eq!(stored.reads[index].through, self.marker(*group, user.uuid));
                assert_eq!(stored.reads[index].unread, Some(expected));
                // The recorded marker is the newest accepted (invariant 3).
                let markers = repo.read_markers(*group, user.uuid).await.unwrap();
                assert_eq!(
                    markers
                        .iter()
                        .find(|r| r.member == user.uuid)
                        .map(|r| r.through),
                    self.marker(*group, user.uuid)
                );
            }
        }
    }
}

/// A message from `user` to `group`, sent `ms` milliseconds after the base time.
async fn send(repo: &Arc<dyn Repository>, group: GroupId, user: &User, ms: i64) -> Message {
    let message = NewMessage {
        id: MessageId::new(),
        created_at: base_time().plus(TimeDelta::milliseconds(ms)),
        text: MessageText::parse(&format!("at {ms}")).unwrap(),
    };
    repo.send_message(group, &user.summary(), message)
        .await
        .unwrap()
}

/// Its author edits `message` as the API does (stamped now); the state in
/// force after, unless it was deleted.
async fn edit(repo: &Arc<dyn Repository>, message: &Message, n: i64) -> Option<Message> {
    let text = MessageText::parse(&format!("edit {n}")).unwrap();
    match repo
        .edit_message(
            message.group,
            message.sender.uuid,
            lookup(message),
            text,
            Timestamp::now(),
        )
        .await
    {
        Ok(m) => {
            assert!(m.edited_at.is_some() && !m.deleted);
            Some(m)
        }
        Err(dm_store::StoreError::Conflict(dm_store::Clash::MessageDeleted)) => None,
        Err(e) => panic!("edit failed: {e}"),
    }
}

/// Its author deletes `message`; the tombstone.
async fn delete(repo: &Arc<dyn Repository>, message: &Message) -> Message {
    let tombstone = repo
        .delete_message(message.group, message.sender.uuid, lookup(message))
        .await
        .unwrap();
    assert!(tombstone.deleted && tombstone.text.is_empty());
    assert_eq!(tombstone.reference(), message.reference(), "in its place");
    tombstone
}

fn lookup(message: &Message) -> MessageLookup {
    MessageLookup {
        id: message.id,
        sent_at: Some(message.created_at),
    }
}

/// What one step of a run does.
#[derive(Debug, Clone, Copy)]
enum Op {
    Send,
    Mark,
    Edit,
    Delete,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Send),
        2 => Just(Op::Mark),
        1 => Just(Op::Edit),
        1 => Just(Op::Delete),
    ]
}

/// A sequence of sends, marks, edits and deletes, and how the stream
/// delivers the records.
#[derive(Debug, Clone)]
struct Run {
    /// (conversation, member, what, milliseconds or which message).
    ops: Vec<(usize, usize, Op, i64)>,
    /// A permutation (with duplicates) of the records, by index modulo their number.
    order: Vec<usize>,
    batch: usize,
    /// A second handler at once, taking the records backward.
    concurrent: bool,
}

fn run_strategy() -> impl Strategy<Value = Run> {
    (
        prop::collection::vec((0..2usize, 0..2usize, op_strategy(), 0..40i64), 1..24),
        prop::collection::vec(0..1000usize, 0..40),
        1..7usize,
        prop::bool::ANY,
    )
        .prop_map(|(ops, order, batch, concurrent)| Run {
            ops,
            order,
            batch,
            concurrent,
        })
}

fn check_run(backend: Backend, run: &Run) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let repo = backend.repo().await;
        let mut world = World::new(&repo, 2).await;
        for &(g, who, op, n) in &run.ops {
            match op {
                Op::Send => world.send(&repo, g, who, n).await,
                Op::Mark => world.mark(&repo, g, who, n as usize).await,
                Op::Edit => world.edit(&repo, g, n as usize, n).await,
                Op::Delete => world.delete(&repo, g, n as usize).await,
            }
        }
        let records = world.records();
        // Every record once, shuffled by the run's order, then duplicates.
        let mut delivered: Vec<ChangeEvent> = Vec::new();
        let mut left: Vec<usize> = (0..records.len()).collect();
        for &k in &run.order {
            if !left.is_empty() {
                let at = k % left.len();
                delivered.push(records[left.remove(at)].clone());
            }
            delivered.push(records[k % records.len()].clone());
        }
        delivered.extend(left.into_iter().map(|i| records[i].clone()));
        // One handler in batches; or two at once, one forward, one backward.
        let (one, two) = (handler(&repo), handler(&repo));
        let forward = delivered.clone();
        let backward: Vec<ChangeEvent> = delivered.iter().rev().cloned().collect();
        let batch = run.batch;
        let mut tasks = vec![tokio::spawn(async move {
            for chunk in forward.chunks(batch) {
                assert_eq!(one.handle(chunk).await.failed_at, None);
            }
        })];
        if run.concurrent {
            tasks.push(tokio::spawn(async move {
                for chunk in backward.chunks(batch + 1) {
                    assert_eq!(two.handle(chunk).await.failed_at, None);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        world.assert_exact(&repo).await;
        // Replaying everything changes nothing.
        let outcome = handler(&repo).handle(&records).await;
        assert_eq!(
            (outcome.moved, outcome.counted),
            (0, 0),
            "a replay changes nothing"
        );
        world.assert_exact(&repo).await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn unread_counts_are_exact_in_memory(run in run_strategy()) {
        check_run(Backend::Memory, &run);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn unread_counts_are_exact_on_dynamodb(run in run_strategy()) {
        check_run(Backend::DynamoDbLocal, &run);
    }
}

/// Invariant 3: two tabs marking at once, in any order, leave the newest.
async fn concurrent_marks_never_move_back(backend: Backend) {
    let repo = backend.repo().await;
    let mut world = World::new(&repo, 1).await;
    for i in 0..12 {
        world.send(&repo, 0, 1, i).await;
    }
    let (group, users) = world.groups[0].clone();
    let refs: Vec<MessageRef> = world.sent.iter().map(Message::reference).collect();
    let newest = *refs.iter().max().unwrap();
    let tabs = (0..2).map(|tab| {
        let (repo, refs) = (repo.clone(), refs.clone());
        let member = users[0].uuid;
        tokio::spawn(async move {
            let mut seen = Vec::new();
            // One tab forward, the other backward.
            let order: Vec<MessageRef> = if tab == 0 {
                refs
            } else {
                refs.into_iter().rev().collect()
            };
            for through in order {
                seen.push(repo.mark_read(group, member, through).await.unwrap());
            }
            seen
        })
    });
    for tab in tabs {
        let stands = tab.await.unwrap();
        assert!(
            stands.windows(2).all(|w| w[0] <= w[1]),
            "what one tab is told never moves back"
        );
    }
    let markers = repo.read_markers(group, users[1].uuid).await.unwrap();
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].through, newest);
    // Marking an older message now changes nothing.
    assert_eq!(
        repo.mark_read(group, users[0].uuid, refs[0]).await.unwrap(),
        newest
    );
}

/// Marks need a member and a message of the conversation.
async fn marks_are_checked(backend: Backend) {
    let repo = backend.repo().await;
    let world = World::new(&repo, 2).await;
    let (group, users) = &world.groups[0];
    let (other_group, _) = &world.groups[1];
    let first = world.sent[0].reference();
    let stranger = user(&repo).await;
    assert_eq!(
        repo.mark_read(*group, stranger.uuid, first).await,
        Err(dm_store::StoreError::NotFound(
            dm_store::Missing::Conversation
        ))
    );
    assert_eq!(
        repo.read_markers(*group, stranger.uuid).await,
        Err(dm_store::StoreError::NotFound(
            dm_store::Missing::Conversation
        ))
    );
    let elsewhere = world.sent[1].reference();
    assert_eq!(world.sent[1].group, *other_group);
    assert_eq!(
        repo.mark_read(*group, users[1].uuid, elsewhere).await,
        Err(dm_store::StoreError::NotFound(dm_store::Missing::Message)),
        "a message of another conversation"
    );
    assert!(
        repo.read_markers(*group, users[1].uuid)
            .await
            .unwrap()
            .is_empty(),
        "nothing was recorded"
    );
}

/// The cap: past 99, a count reads 100 until a marker brings it back.
async fn counts_are_capped_and_recounted(backend: Backend) {
    let repo = backend.repo().await;
    let mut world = World::new(&repo, 1).await;
    let (group, users) = world.groups[0].clone();
    let history: Vec<Message> = (1..=120)
        .map(|i| Message {
            id: MessageId::new(),
            group,
            created_at: base_time().plus(TimeDelta::seconds(i)),
            text: format!("m{i}"),
            sender: users[0].summary(),
            edited_at: None,
            deleted: false,
        })
        .collect();
    repo.import_messages(group, history.clone()).await.unwrap();
    world.sent.extend(history.iter().cloned());
    world.assert_exact(&repo).await;
    let reader = users[1].uuid;
    let row = |repo: Arc<dyn Repository>| async move {
        repo.conversations(reader, &PageRequest::default())
            .await
            .unwrap()
            .items[0]
            .unread
    };
    assert_eq!(
        row(repo.clone()).await,
        UNREAD_CAP + 1,
        "121 unread shows as 100"
    );
    // Read up to m40: 80 are left.
    world.mark(&repo, 0, 1, 40).await;
    handler(&repo).handle(&world.records()).await;
    world.assert_exact(&repo).await;
    assert_eq!(row(repo.clone()).await, 80);
    let total = repo.unread_total(reader).await.unwrap();
    assert_eq!(total, 80);
    assert_eq!(repo.unread_total(users[0].uuid).await.unwrap(), 0);
}

dm_store::on_both_backends!(
    concurrent_marks_never_move_back,
    marks_are_checked,
    counts_are_capped_and_recounted,
    marks_sends_and_the_stream_racing_converge,
);

/// The key a marker is stored under (for the AWS CLI's eyes).
#[test]
fn markers_live_beside_their_conversation() {
    let group = GroupId::new();
    let member = UserId::new();
    let key = ItemKey::ReadMarker(group, member);
    assert_eq!(key.pk(), format!("READ#{group}"));
    assert_eq!(key.sk(), member.to_string());
}

/// Invariant 4: sends, marks, edits and deletes racing each other (two
/// requests at once: an edit and a send, a delete of the newest message and a
/// send, two edits of one message, a delete and an edit of one message) and
/// the stream handler (which applies their records as they come, in small
/// batches, while more are written) converge once it has caught up.
async fn marks_sends_and_the_stream_racing_converge(backend: Backend) {
    use rand::{Rng, SeedableRng, rngs::SmallRng};
    let repo = backend.repo().await;
    let mut world = World::new(&repo, 2).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ChangeEvent>();
    let consumer = {
        let handler = handler(&repo);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(event) = rx.recv().await {
                batch.push(event);
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                assert_eq!(handler.handle(&batch).await.failed_at, None);
                batch.clear();
            }
        })
    };
    let mut rng = SmallRng::seed_from_u64(if backend == Backend::DynamoDbLocal {
        11
    } else {
        7
    });
    let mut sequence = 0;
    for _ in 0..70 {
        let (g, who) = (rng.gen_range(0..2), rng.gen_range(0..2));
        let before = (world.sent.len(), world.states.len(), world.marked.len());
        let (pick, at) = (rng.gen_range(0..100), rng.gen_range(0..50));
        let target = world.pick(g, pick);
        let (group, users) = world.groups[g].clone();
        match rng.gen_range(0..10) {
            0..=2 => world.mark(&repo, g, who, pick).await,
            3..=5 => world.send(&repo, g, who, at).await,
            6 => {
                let (edited, sent) = tokio::join!(
                    edit(&repo, &target, at),
                    send(&repo, group, &users[who], at)
                );
                world.states.extend(edited);
                world.sent.push(sent);
            }
            7 => {
                let newest = world
                    .sent
                    .iter()
                    .filter(|m| m.group == group)
                    .max_by_key(|m| m.reference())
                    .cloned()
                    .unwrap();
                let (tombstone, sent) =
                    tokio::join!(delete(&repo, &newest), send(&repo, group, &users[who], 60));
                world.states.push(tombstone);
                world.sent.push(sent);
            }
            8 => {
                let (one, two) = tokio::join!(edit(&repo, &target, at), edit(&repo, &target, -at));
                world.states.extend(one.into_iter().chain(two));
            }
            _ => {
                let (tombstone, edited) =
                    tokio::join!(delete(&repo, &target), edit(&repo, &target, at));
                world.states.push(tombstone);
                world.states.extend(edited);
            }
        }
        // The records of what was just written, as the stream carries them.
        let written = world.sent[before.0..]
            .iter()
            .map(|m| (Record::Message(m.clone()), ChangeKind::Insert))
            .chain(
                world.states[before.1..]
                    .iter()
                    .map(|m| (Record::Message(m.clone()), ChangeKind::Modify)),
            )
            .chain(
                world.marked[before.2..]
                    .iter()
                    .map(|r| (Record::ReadMarker(*r), ChangeKind::Modify)),
            );
        for (record, kind) in written {
            sequence += 1;
            tx.send(ChangeEvent {
                sequence: sequence.to_string(),
                kind,
                key: record.key(),
                new_image: Some(record),
                expired: false,
            })
            .unwrap();
        }
        if rng.gen_bool(0.3) {
            tokio::task::yield_now().await;
        }
    }
    drop(tx);
    consumer.await.unwrap();
    world.assert_exact(&repo).await;
    // The two edits of a message: the one the store accepted last stands.
    for m in world.sent.clone() {
        let stored = repo
            .find_message(m.group, m.sender.uuid, lookup(&m))
            .await
            .unwrap();
        assert_eq!(
            stored,
            world.current(m.id),
            "the stored state is the latest"
        );
    }
}
