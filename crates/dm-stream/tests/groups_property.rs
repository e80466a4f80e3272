//! Named groups' membership under any interleaving, on both repositories:
//! sends, adds, removals and leaves, with the stream's records applied
//! between them in any order, duplicated and replayed. At the end:
//! one row per current member and none for anyone else; each count is the
//! others' messages accepted once the member had joined; each preview is the
//! newest message; a non-member's send was refused every time.

use std::sync::Arc;

use dm_domain::{Group, GroupName, Message, MessageId, MessageText, Timestamp, User, UserId};
use dm_store::{
    ChangeEvent, ChangeKind, GroupChange, Missing, NewMessage, PageRequest, Record, Repository,
    StoreError, testing::Backend,
};
use dm_stream::Handler;
use proptest::prelude::*;

/// Users in play; the first three found the group, the first owns it.
const USERS: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    /// User `i` sends (refused unless a member).
    Send(usize),
    /// The owner adds user `i` (refused if a member already).
    Add(usize),
    /// The owner removes user `i` (not themselves).
    Remove(usize),
    /// User `i` leaves.
    Leave(usize),
    /// The stream applies these of the records so far (indices taken
    /// modulo their number), in this order: any order, repeats included.
    Apply(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..USERS).prop_map(Op::Send),
        2 => (0..USERS).prop_map(Op::Add),
        1 => (0..USERS).prop_map(Op::Remove),
        1 => (0..USERS).prop_map(Op::Leave),
        2 => prop::collection::vec(any::<usize>(), 1..6).prop_map(Op::Apply),
    ]
}

fn record(sequence: usize, record: Record) -> ChangeEvent {
    ChangeEvent {
        sequence: sequence.to_string(),
        kind: ChangeKind::Modify,
        key: record.key(),
        new_image: Some(record),
        expired: false,
    }
}

async fn run(backend: Backend, ops: &[Op], finale: &[usize]) {
    let repo: Arc<dyn Repository> = backend.repo().await;
    let mut users: Vec<User> = Vec::new();
    for i in 0..USERS {
        let handle = format!("p{i}{}", &UserId::new().to_string()[..6]);
        users.push(dm_store::testing::user(repo.as_ref(), &handle).await);
    }
    let mut group: Group = repo
        .create_group(
            &users[0].summary(),
            GroupName::parse("prop").unwrap(),
            vec![users[1].summary(), users[2].summary()],
        )
        .await
        .unwrap();
    let handler = Handler::new(repo.clone());
    let mut records = vec![record(0, Record::Group(group.clone()))];
    let mut sent: Vec<Message> = Vec::new();
    let refused = Some(StoreError::NotFound(Missing::Conversation));
    for (n, op) in ops.iter().enumerate() {
        let owner = group.owner().unwrap();
        let change = match op {
            Op::Send(i) => {
                let result = repo
                    .send_message(
                        group.id,
                        &users[*i].summary(),
                        NewMessage {
                            id: MessageId::new(),
                            created_at: Timestamp::now(),
                            text: MessageText::parse(&format!("m{n}")).unwrap(),
                        },
                    )
                    .await;
                if group.has_member(users[*i].uuid) {
                    let message = result.unwrap();
                    records.push(record(records.len(), Record::Message(message.clone())));
                    sent.push(message);
                } else {
                    assert_eq!(result.err(), refused, "a non-member's send");
                }
                continue;
            }
            Op::Apply(picks) => {
                let batch: Vec<ChangeEvent> = picks
                    .iter()
                    .map(|p| records[p % records.len()].clone())
                    .collect();
                assert_eq!(handler.handle(&batch).await.failed_at, None);
                continue;
            }
            Op::Add(i) if group.has_member(owner) && !group.has_member(users[*i].uuid) => {
                (owner, GroupChange::Add(vec![users[*i].summary()]))
            }
            Op::Remove(i)
                if group.has_member(owner)
                    && group.has_member(users[*i].uuid)
                    && users[*i].uuid != owner =>
            {
                (owner, GroupChange::Remove(users[*i].uuid))
            }
            Op::Leave(i) if group.has_member(users[*i].uuid) => {
                (users[*i].uuid, GroupChange::Remove(users[*i].uuid))
            }
            _ => continue,
        };
        group = repo
            .change_group(group.id, change.0, &change.1)
            .await
            .unwrap();
        records.push(record(records.len(), Record::Group(group.clone())));
    }
    // The stream delivers everything at last, in the finale's order, then
    // all of it once more.
    let mut last: Vec<ChangeEvent> = finale
        .iter()
        .map(|p| records[p % records.len()].clone())
        .collect();
    last.extend(records.iter().cloned());
    for batch in last.chunks(4) {
        assert_eq!(handler.handle(batch).await.failed_at, None);
    }
    let newest = sent.iter().max_by_key(|m| m.reference());
    for user in &users {
        let rows: Vec<_> = repo
            .conversations(user.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| r.group == group.id)
            .collect();
        let Some(joined) = group.joined_version(user.uuid) else {
            assert!(rows.is_empty(), "{}: not a member, no row", user.handle);
            assert_eq!(repo.unread_total(user.uuid).await.unwrap(), 0);
            continue;
        };
        assert_eq!(rows.len(), 1, "{}: one row", user.handle);
        let row = &rows[0];
        let unread = sent
            .iter()
            .filter(|m| m.sender.uuid != user.uuid && m.members_version >= joined)
            .count();
        assert_eq!(
            row.unread as usize,
            unread.min(100),
            "{}'s count",
            user.handle
        );
        assert_eq!(
            row.preview,
            newest.map(|m| m.text.clone()).unwrap_or_default(),
            "{}'s preview",
            user.handle
        );
        assert_eq!(
            row.topic.as_ref().map(|t| t.members_count as usize),
            Some(group.members.len())
        );
    }
}

fn check(backend: Backend, ops: &[Op], finale: &[usize]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(backend, ops, finale));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn membership_holds_under_any_interleaving_in_memory(
        ops in prop::collection::vec(op(), 1..30),
        finale in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        check(Backend::Memory, &ops, &finale);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn membership_holds_under_any_interleaving_on_dynamodb(
        ops in prop::collection::vec(op(), 1..30),
        finale in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        check(Backend::DynamoDbLocal, &ops, &finale);
    }
}
