//! What the access patterns cost, in capacity units: billed first, by AWS's
//! rules (`dm_store::billing`), and beside it what DynamoDB Local reports
//! (`ReturnConsumedCapacity`), which under-counts transactions: it reports
//! any small one as 2 units.

use dm_domain::MessageText;
use dm_store::{NewMessage, PageRequest, Repository, capacity::Consumed};

/// What was spent between two readings: `((read, write) billed, (read, write) reported)`.
fn spent(before: Consumed, after: Consumed) -> ((f64, f64), (f64, f64)) {
    (
        (
            after.billed.read - before.billed.read,
            after.billed.write - before.billed.write,
        ),
        (
            after.reported.read - before.reported.read,
            after.reported.write - before.reported.write,
        ),
    )
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

/// A new user, as the messages show them.
async fn user(repo: &impl Repository, handle: &str) -> dm_domain::UserSummary {
    dm_store::testing::user(repo, handle).await.summary()
}

#[tokio::test]
async fn membership_is_read_once_then_remembered() {
    let repo = dm_store::testing::fresh_table().await;
    let (a, b) = (user(&repo, "cost_a").await, user(&repo, "cost_b").await);
    let group = repo
        .start_conversation(&a, &b, NewMessage::now(text("hi")))
        .await
        .unwrap()
        .message
        .group;

    let before = repo.capacity();
    repo.send_message(
        group,
        &b,
        NewMessage::now(text("first send reads the group")),
    )
    .await
    .unwrap();
    let first = repo.capacity();
    assert_eq!(
        spent(before, first),
        ((1.0, 1.0), (1.0, 1.0)),
        "one consistent read of the group item, one put"
    );

    repo.send_message(group, &a, NewMessage::now(text("later sends only put")))
        .await
        .unwrap();
    let second = repo.capacity();
    assert_eq!(spent(first, second), ((0.0, 1.0), (0.0, 1.0)));

    repo.messages(group, a.uuid, &PageRequest::default())
        .await
        .unwrap();
    let listed = repo.capacity();
    assert_eq!(
        spent(second, listed),
        ((0.5, 0.0), (0.5, 0.0)),
        "the page query alone"
    );
}

/// What the stream handler spends applying one new message (the group and
/// rows as remembered, each row written in place on its own), and what an
/// edit and a delete of it cost at the API and on the stream side.
#[tokio::test]
async fn a_message_an_edit_and_a_delete_cost_what_they_should() {
    let repo = dm_store::testing::fresh_table().await;
    let (a, b) = (user(&repo, "cost_c").await, user(&repo, "cost_d").await);
    let first = repo
        .start_conversation(&a, &b, NewMessage::now(text("hi")))
        .await
        .unwrap()
        .message;
    let group = first.group;
    // A reply from b, applied as the stream applies it.
    let reply = repo
        .send_message(group, &b, NewMessage::now(text("a reply of some length")))
        .await
        .unwrap();
    repo.apply_message(&first).await.unwrap();
    let before = repo.capacity();
    repo.apply_message(&reply).await.unwrap();
    let applied = repo.capacity();
    assert_eq!(
        spent(before, applied),
        ((0.0, 6.0), (0.0, 6.0)),
        "a send's stream application: no read (the group and the rows are remembered), each row put in place under its version (1), its entry in conversations-by-recency moved (2): no transaction, so DynamoDB Local reports the same"
    );
    // b edits it: the API reads it and writes it; the stream rewrites the rows.
    let lookup = dm_store::MessageLookup {
        id: reply.id,
        sent_at: Some(reply.created_at),
    };
    let edited = repo
        .edit_message(
            group,
            b.uuid,
            lookup,
            text("a reply, edited"),
            dm_domain::Timestamp::now(),
        )
        .await
        .unwrap();
    let api = repo.capacity();
    assert_eq!(
        spent(applied, api),
        ((1.0, 1.0), (1.0, 1.0)),
        "an edit: a consistent read of the message and a conditional put"
    );
    repo.apply_message(&edited).await.unwrap();
    let stream = repo.capacity();
    assert_eq!(
        spent(api, stream),
        ((0.0, 4.0), (0.0, 4.0)),
        "the edit on the stream: no read (an edit changes no count), both rows rewritten in place (1 each) with their index entries (1 each)"
    );
    // b deletes it: the stream reads the newest message left.
    let tombstone = repo.delete_message(group, b.uuid, lookup).await.unwrap();
    let api2 = repo.capacity();
    assert_eq!(
        spent(stream, api2),
        ((1.0, 1.0), (1.0, 1.0)),
        "a delete: a consistent read and the tombstone's conditional put"
    );
    repo.apply_message(&tombstone).await.unwrap();
    let stream2 = repo.capacity();
    assert_eq!(
        spent(api2, stream2),
        ((1.0, 4.0), (1.0, 4.0)),
        "the delete on the stream: one page of the newest messages (the newest left, and a's recount from it), both rows rewritten in place with their index entries"
    );
}

/// What a mark costs at the API (the message's read, the marker's put) and
/// on the stream (the reader's recount and their row's write; the other
/// member's row, remembered, is left as it is).
#[tokio::test]
async fn a_mark_costs_what_it_should() {
    let repo = dm_store::testing::fresh_table().await;
    let (a, b) = (user(&repo, "cost_e").await, user(&repo, "cost_f").await);
    let first = repo
        .start_conversation(&a, &b, NewMessage::now(text("hi")))
        .await
        .unwrap()
        .message;
    let group = first.group;
    repo.apply_message(&first).await.unwrap();
    let reply = repo
        .send_message(group, &a, NewMessage::now(text("are you there?")))
        .await
        .unwrap();
    repo.apply_message(&reply).await.unwrap();
    let before = repo.capacity();
    repo.mark_read(group, b.uuid, reply.reference())
        .await
        .unwrap();
    let api = repo.capacity();
    assert_eq!(
        spent(before, api),
        ((1.0, 1.0), (1.0, 1.0)),
        "a mark: a consistent read of the message, the marker's conditional put"
    );
    let marker = dm_domain::ReadMarker {
        group,
        member: b.uuid,
        through: reply.reference(),
    };
    let changes = dm_store::Changes {
        marks: vec![marker],
        ..dm_store::Changes::default()
    };
    let written = repo.apply_changes(group, &changes).await.unwrap();
    assert_eq!(written.applied, dm_store::Applied::Counted);
    let stream = repo.capacity();
    assert_eq!(
        spent(api, stream),
        ((1.0, 2.0), (0.0, 2.0)),
        "the mark on the stream: b's recount (one consistent page past the marker, empty: AWS bills its minimum, 1, DynamoDB Local reports 0), b's row in place with its index entry"
    );
}

/// A named group of `n` new users (`{prefix}_{i}`, the first its owner),
/// made, and its record as the stream brings it.
async fn new_group(
    repo: &impl Repository,
    prefix: &str,
    n: usize,
) -> (
    Vec<dm_domain::UserSummary>,
    dm_domain::Group,
    dm_store::Changes,
) {
    let mut members = Vec::new();
    for i in 0..n {
        members.push(user(repo, &format!("{prefix}_{i}")).await);
    }
    let group = repo
        .create_group(
            &members[0],
            dm_domain::GroupName::parse("cost").unwrap(),
            members[1..].to_vec(),
        )
        .await
        .unwrap();
    let changes = dm_store::Changes {
        group: Some(group.clone()),
        ..dm_store::Changes::default()
    };
    (members, group, changes)
}

/// What a message costs in a named group of `n` members once its rows are
/// made and remembered: the send (its sender's membership read strongly
/// consistent from the group item, whose size grows with the members, and
/// the message's put), then the stream (each member's row in place with its
/// index entry moved: 3 units a member, nothing shared by the members); and
/// what adding and removing a member cost at the API.
async fn group_message_costs(n: usize) -> ((f64, f64), (f64, f64), (f64, f64), (f64, f64)) {
    let repo = dm_store::testing::fresh_table().await;
    let (members, group, changes) = new_group(&repo, &format!("grp{n}"), n).await;
    let made = repo.capacity();
    repo.apply_changes(group.id, &changes).await.unwrap();
    assert_eq!(
        spent(made, repo.capacity()).0,
        (1.0, 2.0 * n as f64),
        "the making on the stream: the newest message looked for once for all the rows (an empty consistent page: AWS bills its minimum, 1), each row put with its index entry, no row read first"
    );
    let first = repo
        .send_message(group.id, &members[1], NewMessage::now(text("first")))
        .await
        .unwrap();
    repo.apply_message(&first).await.unwrap();
    let before = repo.capacity();
    let sent = repo
        .send_message(
            group.id,
            &members[2],
            NewMessage::now(text("a message to all")),
        )
        .await
        .unwrap();
    let api = repo.capacity();
    repo.apply_message(&sent).await.unwrap();
    let stream = repo.capacity();
    // The last member removed, then added back.
    let last = members[n - 1].clone();
    let start = repo.capacity();
    let removed = repo
        .change_group(
            group.id,
            members[0].uuid,
            &dm_store::GroupChange::Remove(last.uuid),
        )
        .await
        .unwrap();
    let after_remove = repo.capacity();
    // The stream's part of the removal: every other member's row shows one
    // member fewer.
    let changes = dm_store::Changes {
        group: Some(removed),
        ..dm_store::Changes::default()
    };
    repo.apply_changes(group.id, &changes).await.unwrap();
    let removal_applied = repo.capacity();
    let removal_rows = spent(after_remove, removal_applied).0;
    assert_eq!(
        removal_rows,
        (1.0, 2.0 * (n - 1) as f64),
        "the removal on the stream: the removed member's row read (left already), each other row in place (1) with its index entry (1)"
    );
    let before_add = repo.capacity();
    let back = repo
        .change_group(
            group.id,
            members[0].uuid,
            &dm_store::GroupChange::Add(vec![last]),
        )
        .await
        .unwrap();
    let after_add = repo.capacity();
    // The stream's part of the add: the rows follow the group's record.
    let changes = dm_store::Changes {
        group: Some(back),
        ..dm_store::Changes::default()
    };
    repo.apply_changes(group.id, &changes).await.unwrap();
    let add_rows = spent(after_add, repo.capacity()).0;
    assert_eq!(
        add_rows,
        (3.0, 2.0 * n as f64),
        "the add on the stream: the newcomer's row made from the messages (3 reads: the newest, which is not deleted, so it is the preview too; the marker; the count), each row in place with its index entry"
    );
    (
        spent(before, api).0,
        spent(api, stream).0,
        spent(before_add, after_add).0,
        spent(start, after_remove).0,
    )
}

#[tokio::test]
async fn a_group_message_costs_three_units_a_member_and_its_check() {
    // (read, write) billed: the send, the stream, an add, a removal.
    let ten = group_message_costs(10).await;
    let hundred = group_message_costs(100).await;
    eprintln!("10 members: {ten:?}\n100 members: {hundred:?}");
    assert_eq!(ten.0, (1.0, 1.0), "the check (a 1.3 KB item) and the put");
    assert_eq!(ten.1, (0.0, 30.0), "3 a member, no read");
    assert_eq!(
        hundred.0,
        (3.0, 1.0),
        "the check (a 10 KB item) and the put"
    );
    assert_eq!(hundred.1, (0.0, 300.0), "3 a member, no read");
    // Membership changes at the API: the group item read (strongly
    // consistent) and written under its version; a removal also reads the
    // member's row and puts it back left, out of the index.
    assert_eq!(ten.2, (1.0, 2.0), "an add: read 1.3 KB, write 1.4 KB");
    assert_eq!(
        ten.3,
        (2.0, 4.0),
        "a removal: the item (1 + 2), the row (1 + 1, and 1 for its index entry)"
    );
    assert_eq!(
        hundred.2,
        (3.0, 10.0),
        "an add: read and write a 10 KB item"
    );
    assert_eq!(
        hundred.3,
        (4.0, 12.0),
        "a removal: the item (3 + 10), the row (1 + 1, and 1 for its index entry)"
    );
}

/// A member's inbox page costs what it did per row: a group's row is a
/// pair's row plus the group's name and size (a page is billed by its
/// bytes, 0.5 a started 4 KB).
#[tokio::test]
async fn a_groups_row_is_a_pairs_row_and_its_name_and_size() {
    let repo = dm_store::MemoryRepository::new();
    let (ana, bo, cy) = (
        user(&repo, "rowana").await,
        user(&repo, "rowbo").await,
        user(&repo, "rowcy").await,
    );
    let pair = repo
        .start_conversation(&ana, &bo, NewMessage::now(text("hello")))
        .await
        .unwrap();
    repo.apply_message(&pair.message).await.unwrap();
    let group = repo
        .create_group(
            &ana,
            dm_domain::GroupName::parse("crew").unwrap(),
            vec![bo.clone(), cy],
        )
        .await
        .unwrap();
    let made = dm_store::Changes {
        group: Some(group.clone()),
        ..dm_store::Changes::default()
    };
    repo.apply_changes(group.id, &made).await.unwrap();
    let sent = repo
        .send_message(group.id, &ana, NewMessage::now(text("hello")))
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    // Bo's rows, each showing Ana's "hello".
    // Their sizes but for their `version`, which counts the row's writes.
    let size = |row: &dm_domain::Conversation| {
        let mut item = dm_store::Record::Conversation(row.clone()).to_item();
        item.remove("version");
        dm_store::billing::item_size(&item)
    };
    let rows = repo
        .conversations(bo.uuid, &PageRequest::default())
        .await
        .unwrap()
        .items;
    let (groups, pairs): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.topic.is_some());
    let (group_row, pair_row) = (size(groups[0]), size(pairs[0]));
    eprintln!("a pair's row: {pair_row} bytes, a group's: {group_row}");
    // `group_name` and "crew", `members_count` and 3 (a number of one
    // digit: 2 bytes).
    assert_eq!(group_row - pair_row, 10 + 4 + 13 + 2);
}

/// A group's making applied again by a process that remembers neither the
/// group nor a row (a replayed record): the group item is read, and each
/// founding member's row is created without a read first, so here each
/// creation is refused (billed as the write would have been) and the row
/// read, once each; nothing changes.
#[tokio::test]
async fn a_making_replayed_elsewhere_finds_every_row_and_changes_nothing() {
    let repo = dm_store::testing::fresh_table().await;
    let (_, group, changes) = new_group(&repo, "replay", 5).await;
    let first = repo.apply_changes(group.id, &changes).await.unwrap();
    assert_eq!(first.applied, dm_store::Applied::Moved, "the rows made");

    let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
    let config = dm_store::client::sdk_config(Some(endpoint)).await;
    let elsewhere = dm_store::DynamoRepository::new(&config, repo.table()).unwrap();
    let before = elsewhere.capacity();
    let again = elsewhere.apply_changes(group.id, &changes).await.unwrap();
    assert_eq!(again.applied, dm_store::Applied::AlreadyCurrent);
    assert_eq!(
        again.rows, first.rows,
        "every row as the first making left it"
    );
    assert_eq!(
        spent(before, elsewhere.capacity()).0,
        (2.0 + 5.0, 5.0),
        "the group item and the newest message read once, then for each member a refused creation and a read of the row"
    );
}
