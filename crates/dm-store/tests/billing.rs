//! The meter against DynamoDB Local: for every non-transactional call the
//! project makes (GetItem, Query of the table and of the index, PutItem,
//! DeleteItem, BatchWriteItem), the units billed by `dm_store::billing`'s
//! rules equal the units DynamoDB Local reports, on both sides of the 1 KB
//! and 4 KB boundaries, for items in the index and out of it. (Transactions,
//! which DynamoDB Local bills 2 units in all, are unit-tested in
//! `billing.rs`.) The memory repository bills the same calls the same.

use dm_domain::{
    Conversation, GroupId, Message, MessageId, Partition, Timestamp, UserId, UserSummary,
};
use dm_store::{
    DynamoRepository, MemoryRepository, Record,
    billing::item_size,
    capacity::Consumed,
    table::{Condition, Order, Read, Table, Write},
};

fn sender() -> UserSummary {
    UserSummary {
        uuid: UserId::new(),
        handle: "meter".into(),
        display_name: "Meter".into(),
    }
}

/// A message item of exactly `bytes` bytes.
fn message_of(group: GroupId, bytes: u64) -> Record {
    let mut message = Message {
        id: MessageId::new(),
        group,
        created_at: Timestamp::now(),
        text: String::new(),
        sender: sender(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    };
    let base = item_size(&Record::Message(message.clone()).to_item());
    message.text = "m".repeat(usize::try_from(bytes - base).unwrap());
    let record = Record::Message(message);
    assert_eq!(item_size(&record.to_item()), bytes);
    record
}

/// A conversation row written the seed's way (no last message id: in
/// `message-group-sk-index`) of exactly `bytes` bytes.
fn row_of(owner: UserId, group: GroupId, bytes: u64) -> Record {
    let mut row = Conversation {
        group,
        owner,
        other: sender(),
        topic: None,
        preview: String::new(),
        last_message_id: None,
        last_message_at: Timestamp::now(),
        unread: 3,
        shown: None,
        shown_edited_at: None,
        read_through: None,
        version: 0,
        membership_version: 0,
        left: false,
    };
    let base = item_size(&Record::Conversation(row.clone()).to_item());
    row.preview = "p".repeat(usize::try_from(bytes - base).unwrap());
    let record = Record::Conversation(row);
    assert_eq!(item_size(&record.to_item()), bytes);
    record
}

/// A conversation row as written since issue 25 (keyed by its conversation,
/// in `conversations-by-recency`) of exactly `bytes` bytes, standing at `at`.
fn listed_row_of(owner: UserId, group: GroupId, bytes: u64, at: Timestamp) -> Record {
    let Record::Conversation(seed) = row_of(owner, group, 600) else {
        unreachable!()
    };
    let mut row = Conversation {
        last_message_id: Some(MessageId::new()),
        last_message_at: at,
        preview: String::new(),
        ..seed
    };
    row.shown = row.last();
    let base = item_size(&Record::Conversation(row.clone()).to_item());
    row.preview = "p".repeat(usize::try_from(bytes - base).unwrap());
    let record = Record::Conversation(row);
    assert_eq!(item_size(&record.to_item()), bytes);
    record
}

#[tokio::test]
async fn rows_in_the_recency_index_are_billed_as_dynamodb_reports_them() {
    let repo = dm_store::testing::fresh_table().await;
    let (owner, group) = (UserId::new(), GroupId::new());
    let at = Timestamp::now();
    let later = at.plus(chrono::TimeDelta::seconds(1));
    for (bytes, units) in [(900, 1.0), (1025, 2.0)] {
        let row = listed_row_of(owner, group, bytes, at);
        // The index entry is as large as the item (projection ALL).
        billed_as_reported(
            &repo,
            "a new row: the item and its index entry",
            2.0 * units,
            async {
                repo.write(vec![Write::put(row.clone())]).await.unwrap();
            },
        )
        .await;
        let moved = listed_row_of(owner, group, bytes, later);
        billed_as_reported(
            &repo,
            "a row moved in place: the item, and its index entry deleted and put",
            3.0 * units,
            async {
                repo.write(vec![Write::put(moved.clone())]).await.unwrap();
            },
        )
        .await;
        let Record::Conversation(mut counted) = moved.clone() else {
            unreachable!()
        };
        counted.unread += 1;
        billed_as_reported(
            &repo,
            "a row counted in place: the item and its index entry",
            2.0 * units,
            async {
                repo.write(vec![Write::put(Record::Conversation(counted))])
                    .await
                    .unwrap();
            },
        )
        .await;
        billed_as_reported(&repo, "a row deleted", 2.0 * units, async {
            repo.write(vec![Write::delete(moved.key())]).await.unwrap();
        })
        .await;
    }
    for bytes in [1500, 3000] {
        repo.write(vec![Write::put(listed_row_of(
            owner,
            GroupId::new(),
            bytes,
            Timestamp::now(),
        ))])
        .await
        .unwrap();
    }
    billed_as_reported(&repo, "a page of the list, through the index", 1.0, async {
        let page = repo
            .query(
                Partition::Conversations(owner),
                None,
                10,
                Order::NewestFirst,
                Read::Eventual,
            )
            .await
            .unwrap();
        assert_eq!(page.len(), 2);
    })
    .await;
}

/// The billed and reported units of what `call` consumed.
async fn cost<F: Future<Output = ()>>(repo: &DynamoRepository, call: F) -> (f64, f64) {
    let before = repo.capacity();
    call.await;
    let after = repo.capacity();
    (
        after.billed.total() - before.billed.total(),
        after.reported.total() - before.reported.total(),
    )
}

/// Asserts that `call` is billed what DynamoDB Local reports, and `expected`.
async fn billed_as_reported<F: Future<Output = ()>>(
    repo: &DynamoRepository,
    what: &str,
    expected: f64,
    call: F,
) {
    let (billed, reported) = cost(repo, call).await;
    assert_eq!(
        billed, reported,
        "{what}: billed {billed}, reported {reported}"
    );
    assert_eq!(billed, expected, "{what}");
}

#[tokio::test]
async fn single_writes_are_billed_as_dynamodb_reports_them() {
    let repo = dm_store::testing::fresh_table().await;
    let group = GroupId::new();
    for (bytes, units) in [
        (1000, 1.0),
        (1024, 1.0),
        (1025, 2.0),
        (2048, 2.0),
        (2049, 3.0),
    ] {
        let message = message_of(group, bytes);
        billed_as_reported(
            &repo,
            &format!("a put of a new {bytes}-byte message"),
            units,
            async {
                repo.write(vec![Write::create(message.clone())])
                    .await
                    .unwrap();
            },
        )
        .await;
        // Replacing it with a smaller item costs what the larger one does.
        let Record::Message(mut smaller) = message.clone() else {
            unreachable!()
        };
        smaller.text = "short".into();
        billed_as_reported(
            &repo,
            &format!("a put over a {bytes}-byte message"),
            units,
            async {
                repo.write(vec![Write::put_if(
                    Record::Message(smaller),
                    Condition::Always,
                )])
                .await
                .unwrap();
            },
        )
        .await;
        billed_as_reported(&repo, "a delete of a small message", 1.0, async {
            repo.write(vec![Write::delete(message.key())])
                .await
                .unwrap();
        })
        .await;
    }
    billed_as_reported(&repo, "a delete of nothing", 1.0, async {
        repo.write(vec![Write::delete(message_of(group, 500).key())])
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn index_writes_are_billed_as_dynamodb_reports_them() {
    let repo = dm_store::testing::fresh_table().await;
    let (owner, group) = (UserId::new(), GroupId::new());
    for (bytes, table, index) in [(800, 1.0, 1.0), (1024, 1.0, 1.0), (1025, 2.0, 2.0)] {
        let row = row_of(owner, group, bytes);
        billed_as_reported(
            &repo,
            &format!("a {bytes}-byte row entering the index"),
            table + index,
            async {
                repo.write(vec![Write::put(row.clone())]).await.unwrap();
            },
        )
        .await;
        // The same key, another preview: the index entry is updated in place.
        let Record::Conversation(mut changed) = row.clone() else {
            unreachable!()
        };
        changed.unread += 1;
        billed_as_reported(
            &repo,
            &format!("a {bytes}-byte row updated in place"),
            table + index,
            async {
                repo.write(vec![Write::put(Record::Conversation(changed))])
                    .await
                    .unwrap();
            },
        )
        .await;
        billed_as_reported(
            &repo,
            &format!("a {bytes}-byte row leaving the index"),
            table + index,
            async {
                repo.write(vec![Write::delete(row.key())]).await.unwrap();
            },
        )
        .await;
    }
}

#[tokio::test]
async fn reads_are_billed_as_dynamodb_reports_them() {
    let repo = dm_store::testing::fresh_table().await;
    let group = GroupId::new();
    let big = message_of(group, 4096);
    let bigger = message_of(group, 4097);
    repo.write(vec![Write::create(big.clone())]).await.unwrap();
    repo.write(vec![Write::create(bigger.clone())])
        .await
        .unwrap();
    billed_as_reported(&repo, "a consistent get of 4 KB", 1.0, async {
        repo.get(&big.key()).await.unwrap().unwrap();
    })
    .await;
    billed_as_reported(&repo, "a consistent get past 4 KB", 2.0, async {
        repo.get(&bigger.key()).await.unwrap().unwrap();
    })
    .await;
    billed_as_reported(&repo, "a get of nothing", 1.0, async {
        assert!(
            repo.get(&message_of(group, 500).key())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
    // A page is billed as its items together: 4096 + 4097 bytes.
    for (read, units, first) in [(Read::Consistent, 3.0, 1.0), (Read::Eventual, 1.5, 0.5)] {
        billed_as_reported(&repo, &format!("a {read:?} page of two"), units, async {
            let page = repo
                .query(
                    Partition::Messages(group),
                    None,
                    10,
                    Order::NewestFirst,
                    read,
                )
                .await
                .unwrap();
            assert_eq!(page.len(), 2);
        })
        .await;
        billed_as_reported(
            &repo,
            &format!("a {read:?} page of the first, 4 KB"),
            first,
            async {
                repo.query(
                    Partition::Messages(group),
                    None,
                    1,
                    Order::OldestFirst,
                    read,
                )
                .await
                .unwrap();
            },
        )
        .await;
    }
    // An empty page: AWS bills a read its minimum (half a unit, eventually
    // consistent) whatever it finds; DynamoDB Local reports nothing. The
    // one call where the two differ.
    let (billed, reported) = cost(&repo, async {
        let empty = repo
            .query(
                Partition::Messages(GroupId::new()),
                None,
                10,
                Order::NewestFirst,
                Read::Eventual,
            )
            .await
            .unwrap();
        assert!(empty.is_empty());
    })
    .await;
    assert_eq!((billed, reported), (0.5, 0.0), "an empty page");
    // The index: a group's rows, eventually consistent.
    let owner = UserId::new();
    let rows = GroupId::new();
    repo.write(vec![Write::put(row_of(owner, rows, 3000))])
        .await
        .unwrap();
    repo.write(vec![Write::put(row_of(UserId::new(), rows, 1200))])
        .await
        .unwrap();
    billed_as_reported(&repo, "a query of the index", 1.0, async {
        assert_eq!(repo.group_rows(rows).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn batch_puts_are_billed_as_dynamodb_reports_them() {
    let repo = dm_store::testing::fresh_table().await;
    let group = GroupId::new();
    let messages: Vec<Record> = [500, 1024, 1025, 3000]
        .into_iter()
        .map(|bytes| message_of(group, bytes))
        .collect();
    billed_as_reported(&repo, "a batch of four", 1.0 + 1.0 + 2.0 + 3.0, async {
        repo.put_batch(messages).await.unwrap();
    })
    .await;
}

/// The memory repository bills the same calls as DynamoDB does.
#[tokio::test]
async fn memory_bills_what_dynamodb_bills() {
    async fn run(repo: &impl Table) {
        let (owner, group) = (UserId::new(), GroupId::new());
        let message = message_of(group, 1500);
        repo.write(vec![Write::create(message.clone())])
            .await
            .unwrap();
        let row = row_of(owner, group, 900);
        repo.write(vec![Write::put(row.clone())]).await.unwrap();
        repo.get(&message.key()).await.unwrap();
        repo.query(
            Partition::Messages(group),
            None,
            5,
            Order::NewestFirst,
            Read::Eventual,
        )
        .await
        .unwrap();
        repo.group_rows(group).await.unwrap();
        repo.put_batch(vec![message_of(group, 2100)]).await.unwrap();
        repo.write(vec![Write::delete(row.key())]).await.unwrap();
        let at = Timestamp::now();
        let listed = listed_row_of(owner, group, 700, at);
        repo.write(vec![Write::put(listed)]).await.unwrap();
        let moved = listed_row_of(owner, group, 800, at.plus(chrono::TimeDelta::seconds(1)));
        repo.write(vec![Write::put(moved)]).await.unwrap();
        repo.query(
            Partition::Conversations(owner),
            None,
            5,
            Order::NewestFirst,
            Read::Eventual,
        )
        .await
        .unwrap();
    }
    let dynamo = dm_store::testing::fresh_table().await;
    run(&dynamo).await;
    let memory = MemoryRepository::new();
    run(&memory).await;
    let (d, m): (Consumed, Consumed) = (dynamo.capacity(), memory.capacity());
    assert_eq!(d.billed, m.billed);
    assert_eq!(
        d.billed.total(),
        2.0 + 2.0 + 1.0 + 0.5 + 0.5 + 3.0 + 2.0 + 2.0 + 3.0 + 0.5
    );
}
