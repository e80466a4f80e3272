//! A table exactly as Cruddur's week-5 Python writes it, migrated, then
//! used: messages keyed by a bare timestamp in the writer's local offset
//! (without a fraction when it was zero), conversation rows keyed by their
//! last reply and moved by delete and put, the seed's stale rows, two
//! conversations for one pair, no group items and no pair claims.

use super::support::*;

/// One conversation as Cruddur wrote it: `(text, sender index, created_at
/// as written)`, and the rows' sort key and preview (the seed's are stale).
struct Written {
    group: GroupId,
    members: [usize; 2],
    messages: Vec<(&'static str, usize, &'static str)>,
    row_at: &'static str,
    row_preview: &'static str,
}

fn fixture() -> Vec<Written> {
    vec![
        // The seed's: a minute apart, rows at the seed's start with an early text.
        Written {
            group: GroupId::new(),
            members: [0, 1],
            messages: vec![
                ("seed one", 0, "2023-03-20T22:50:11.123456+00:00"),
                ("seed two", 1, "2023-03-20T22:51:11.123456+00:00"),
                ("seed three", 0, "2023-03-20T22:52:11.123456+00:00"),
            ],
            row_at: "2023-03-20T22:49:59.000001+00:00",
            row_preview: "seed one",
        },
        // The same pair again (create never looked for one): newer, and
        // written where fractions were zero.
        Written {
            group: GroupId::new(),
            members: [1, 0],
            messages: vec![
                ("again", 1, "2023-03-22T10:00:00+00:00"),
                ("yes again", 0, "2023-03-22T10:01:00+00:00"),
            ],
            row_at: "2023-03-22T10:01:00+00:00",
            row_preview: "yes again",
        },
        // Written in Toronto: -05:00, which sorts wrongly as text.
        Written {
            group: GroupId::new(),
            members: [0, 2],
            messages: vec![
                ("evening", 1, "2023-03-21T23:30:00.5-05:00"),
                ("late reply", 0, "2023-03-22T00:10:00.25-05:00"),
            ],
            row_at: "2023-03-22T00:10:00.25-05:00",
            row_preview: "late reply",
        },
    ]
}

/// The items of `conversations` among `users`, as Cruddur's Python wrote them.
fn fixture_items(users: &[User], conversations: &[Written]) -> Vec<serde_json::Value> {
    let summary = |u: &User| {
        serde_json::json!({
            "user_uuid": u.uuid.to_string(),
            "user_display_name": u.display_name.to_string(),
            "user_handle": u.handle.to_string(),
        })
    };
    let mut items = Vec::new();
    for c in conversations {
        for (text, sender, at) in &c.messages {
            let mut item = summary(&users[c.members[*sender]]);
            item["pk"] = format!("MSG#{}", c.group).into();
            item["sk"] = (*at).into();
            item["message_uuid"] = MessageId::new().to_string().into();
            item["message"] = (*text).into();
            items.push(item);
        }
        for (owner, other) in [(0, 1), (1, 0)] {
            let mut item = summary(&users[c.members[other]]);
            item["pk"] = format!("GRP#{}", users[c.members[owner]].uuid).into();
            item["sk"] = c.row_at.into();
            item["message_group_uuid"] = c.group.to_string().into();
            item["message"] = c.row_preview.into();
            items.push(item);
        }
    }
    items
}

async fn write_fixture(backend: &Store, users: &[User], conversations: &[Written]) {
    for item in fixture_items(users, conversations) {
        backend.put_raw(serde_dynamo::to_item(item).unwrap()).await;
    }
}

async fn cruddurs_table_works_once_migrated(backend: Store) {
    let repo = backend.repo();
    let users = [
        user(&repo, &format!("cr_a{}", short())).await,
        user(&repo, &format!("cr_b{}", short())).await,
        user(&repo, &format!("cr_c{}", short())).await,
    ];
    let conversations = fixture();
    write_fixture(&backend, &users, &conversations).await;
    let [seed, again, toronto] = [0, 1, 2].map(|i| conversations[i].group);
    let (a, b, c) = (&users[0], &users[1], &users[2]);

    let done = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert_eq!(
        (
            done.messages_rekeyed,
            done.groups_made,
            done.claims_made,
            done.rows_made,
            done.old_rows_removed
        ),
        (7, 3, 2, 6, 6),
        "{done:?}"
    );
    let again_run = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert!(
        !again_run.changed(),
        "a second run changes nothing: {again_run:?}"
    );

    // Every conversation listed, newest first, each at its newest message.
    let listed = |user: UserId| {
        let repo = repo.clone();
        async move {
            repo.conversations(user, &PageRequest::default())
                .await
                .unwrap()
                .items
        }
    };
    let rows_a = listed(a.uuid).await;
    let order: Vec<GroupId> = rows_a.iter().map(|r| r.group).collect();
    // In UTC: again at 10:01 on the 22nd, Toronto's last reply at 05:10.
    assert_eq!(order, [again, toronto, seed], "{rows_a:?}");
    let previews: Vec<&str> = rows_a.iter().map(|r| r.preview.as_str()).collect();
    assert_eq!(previews, ["yes again", "late reply", "seed three"]);
    // History counts as unread up to a marker Cruddur never wrote.
    let unread: Vec<u32> = rows_a.iter().map(|r| r.unread).collect();
    assert_eq!(unread, [1, 1, 1]);
    assert_eq!(
        listed(b.uuid).await.len(),
        2,
        "both of the pair's conversations"
    );
    assert_eq!(listed(c.uuid).await.len(), 1);

    // The -05:00 messages in time order, under UTC keys; catch-up finds them.
    let (messages, _) = all_messages(&repo, toronto, c.uuid, 10).await;
    let texts: Vec<&str> = messages.iter().rev().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["evening", "late reply"]);
    assert_eq!(
        messages[1].created_at.to_string(),
        "2023-03-22T04:30:00.500000+00:00"
    );
    let after = repo
        .messages_after(
            toronto,
            c.uuid,
            MessageBound {
                at: messages[1].created_at,
                id: Some(messages[1].id),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(after.items.len(), 1);

    // Starting by handle reaches the pair's newest conversation.
    let started = repo
        .start_conversation(
            &a.summary(),
            &b.summary(),
            NewMessage::now(text("by handle")),
        )
        .await
        .unwrap();
    assert!(!started.started);
    assert_eq!(started.message.group, again);

    // Sending into the oldest conversation moves both rows.
    let sent = repo
        .send_message(
            seed,
            &b.summary(),
            NewMessage::now(text("back in the seed")),
        )
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    repo.apply_message(&started.message).await.unwrap();
    let rows_a = listed(a.uuid).await;
    assert_eq!(rows_a[0].group, seed, "moved to the top");
    assert_eq!(rows_a[0].preview, "back in the seed");
    assert_eq!(rows_a[0].unread, 2);
    let rows_b = listed(b.uuid).await;
    assert_eq!(rows_b[0].group, seed);
    assert_eq!(
        rows_b[0].unread, 2,
        "a's two seed messages; b's own never count"
    );

    // Marking read, editing and deleting a migrated message.
    repo.mark_read(seed, a.uuid, sent.reference())
        .await
        .unwrap();
    let marker = dm_domain::ReadMarker {
        group: seed,
        member: a.uuid,
        through: sent.reference(),
    };
    repo.apply_changes(
        seed,
        &dm_store::Changes {
            marks: vec![marker],
            ..dm_store::Changes::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listed(a.uuid).await[0].unread, 0);
    let (seed_messages, _) = all_messages(&repo, seed, a.uuid, 10).await;
    let third = seed_messages
        .iter()
        .find(|m| m.text == "seed three")
        .unwrap();
    let lookup = dm_store::MessageLookup {
        id: third.id,
        sent_at: Some(third.created_at),
    };
    let edited = repo
        .edit_message(
            seed,
            a.uuid,
            lookup,
            text("seed three, edited"),
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(edited.text, "seed three, edited");
    let gone = repo.delete_message(seed, a.uuid, lookup).await.unwrap();
    assert!(gone.deleted);
}

dm_store::on_both_backends!(
    setup = Store::new;
    cruddurs_table_works_once_migrated,
    sends_during_the_migration_end_where_they_belong,
);

/// What a user sees of the table: their rows, and each conversation's
/// messages.
async fn seen(repo: &Repo, users: &[User]) -> Vec<String> {
    let mut out = Vec::new();
    for user in users {
        let rows = repo
            .conversations(user.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items;
        for row in rows {
            out.push(format!(
                "{} {} {:?} {} {} {:?}",
                user.handle,
                row.group,
                row.last_message_id,
                row.preview,
                row.unread,
                row.read_through
            ));
            let (messages, _) = all_messages(repo, row.group, user.uuid, 100).await;
            for m in messages {
                out.push(format!("  {} {} {}", m.id, m.created_at, m.text));
            }
        }
    }
    out
}

/// The migration stopped at each of its calls in turn (the call failing
/// before it took effect, or after, its answer lost, as a killed process
/// leaves it), then run again to the end: the table ends as one
/// uninterrupted run leaves it, and a further run changes nothing.
#[tokio::test]
async fn a_migration_stopped_anywhere_and_run_again_ends_the_same() {
    let new_users: Vec<NewUser> = ["ki_a", "ki_b", "ki_c"]
        .iter()
        .map(|h| new_user(&format!("{h}{}", short())))
        .collect();
    let conversations = fixture();
    let start = || async {
        let memory = dm_store::MemoryRepository::new();
        let repo: Repo = Arc::new(memory.clone());
        let mut users = Vec::new();
        for u in &new_users {
            users.push(repo.create_user(u.clone()).await.unwrap());
        }
        (memory, repo, users)
    };
    let (memory, repo, users) = start().await;
    let items = fixture_items(&users, &conversations);
    for item in &items {
        memory
            .put_item(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
            .unwrap();
    }
    let before = memory.calls();
    repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    let calls = memory.calls() - before;
    let expected = seen(&repo, &users).await;
    assert!(calls > 20, "{calls} calls");
    for stop in 1..=calls {
        let (memory, repo, users) = start().await;
        for item in &items {
            memory
                .put_item(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
                .unwrap();
        }
        let killed = StoreError::Unavailable("the process was killed".into());
        let fault = if stop % 2 == 0 {
            dm_store::memory::Fault::After(killed)
        } else {
            dm_store::memory::Fault::Before(killed)
        };
        memory.inject(memory.calls() + stop, fault);
        let first = repo.migrate_layout(false, &mut |_| {}).await;
        assert!(first.is_err(), "stopped at call {stop}");
        memory.clear_faults();
        repo.migrate_layout(false, &mut |_| {}).await.unwrap();
        assert_eq!(
            seen(&repo, &users).await,
            expected,
            "stopped at call {stop}"
        );
        let again = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
        assert!(!again.changed(), "stopped at call {stop}: {again:?}");
    }
}

/// A member who is not a user of the table stops the migration before it
/// writes anything, and is named.
#[tokio::test]
async fn a_missing_user_stops_the_migration_before_any_write() {
    let memory = dm_store::MemoryRepository::new();
    let repo: Repo = Arc::new(memory.clone());
    let a = user(&repo, &format!("mu_a{}", short())).await;
    let b = user(&repo, &format!("mu_b{}", short())).await;
    let outsider = User {
        uuid: UserId::new(),
        handle: Handle::parse(&format!("mu_c{}", short())).unwrap(),
        display_name: DisplayName::parse("Not Imported").unwrap(),
        cognito_user_id: None,
    };
    let users = [a, b, outsider.clone()];
    for item in fixture_items(&users, &fixture()) {
        memory
            .put_item(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
            .unwrap();
    }
    let before = memory.scan();
    let done = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    assert_eq!(done.missing_users, [outsider.summary()], "{done:?}");
    assert!(!done.changed());
    assert_eq!(memory.scan(), before, "nothing was written");
}

/// The same on DynamoDB Local, through an SDK client that does not retry:
/// the migration's calls fail in turn (every third one, answered as
/// throttled before it takes effect, or taking effect with its answer lost).
#[tokio::test]
async fn on_dynamodb_a_migration_stopped_anywhere_and_run_again_ends_the_same() {
    let new_users: Vec<NewUser> = ["kd_a", "kd_b", "kd_c"]
        .iter()
        .map(|h| new_user(&format!("{h}{}", short())))
        .collect();
    let conversations = fixture();
    let injector = dm_store::testing::FaultInjector::default();
    let start = || async {
        let table = dm_store::testing::fresh_table_with(&injector).await;
        let repo: Repo = Arc::new(table.clone());
        let mut users = Vec::new();
        for u in &new_users {
            users.push(repo.create_user(u.clone()).await.unwrap());
        }
        (Store::Dynamo(table), repo, users)
    };
    let (store, repo, users) = start().await;
    let items = fixture_items(&users, &conversations);
    for item in &items {
        store
            .put_raw(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
            .await;
    }
    let before = injector.calls();
    repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    let calls = injector.calls() - before;
    let expected = seen(&repo, &users).await;
    for stop in (1..=calls).step_by(3) {
        let (store, repo, users) = start().await;
        for item in &items {
            store
                .put_raw(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
                .await;
        }
        let fault = if stop % 2 == 0 {
            dm_store::testing::Injected::LostResponse
        } else {
            dm_store::testing::Injected::Throttled
        };
        injector.inject(injector.calls() + stop, fault);
        let first = repo.migrate_layout(false, &mut |_| {}).await;
        assert!(first.is_err(), "stopped at call {stop} of {calls}");
        injector.clear();
        repo.migrate_layout(false, &mut |_| {}).await.unwrap();
        assert_eq!(
            seen(&repo, &users).await,
            expected,
            "stopped at call {stop}"
        );
        let again = repo.migrate_layout(false, &mut |_| {}).await.unwrap();
        assert!(!again.changed(), "stopped at call {stop}: {again:?}");
    }
}

/// The migration's own writes, replayed through the stream handler, change
/// nothing: messages under their new keys are ones the rows reflect, and
/// the removals of their old items are ignored.
#[tokio::test]
async fn the_migrations_writes_replayed_through_the_stream_change_nothing() {
    let memory = dm_store::MemoryRepository::new();
    let repo: Repo = Arc::new(memory.clone());
    let mut users = Vec::new();
    for h in ["rp_a", "rp_b", "rp_c"] {
        users.push(user(&repo, &format!("{h}{}", short())).await);
    }
    for item in fixture_items(&users, &fixture()) {
        memory
            .put_item(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).unwrap())
            .unwrap();
    }
    let from = memory.changes_after(0, usize::MAX).unwrap().len() as u64;
    repo.migrate_layout(false, &mut |_| {}).await.unwrap();
    let after = seen(&repo, &users).await;
    let items = memory.scan();
    let records = memory.changes_after(from, usize::MAX).unwrap();
    assert!(records.len() > 20, "{} records", records.len());
    assert!(replay(&repo, &records).await > 0);
    assert_eq!(seen(&repo, &users).await, after);
    assert_eq!(memory.scan(), items, "no item changed");
}

/// Applies `records` one by one as the stream handler does (its message
/// records, and removals of messages whose keys name them; everything else
/// it ignores). Returns how many it applied.
async fn replay(repo: &Repo, records: &[dm_store::ChangeEvent]) -> usize {
    let mut applied = 0;
    for record in records {
        match (&record.new_image, &record.key) {
            (Some(dm_store::Record::Message(m)), _) => {
                repo.apply_message(m).await.unwrap();
                applied += 1;
            }
            (
                None,
                &dm_domain::ItemKey::Message {
                    group,
                    at,
                    id: Some(id),
                },
            ) => {
                let changes = dm_store::Changes {
                    removed: vec![dm_domain::MessageRef { at, id }],
                    ..dm_store::Changes::default()
                };
                repo.apply_changes(group, &changes).await.unwrap();
                applied += 1;
            }
            _ => {}
        }
    }
    applied
}

/// Messages sent into one of Cruddur's conversations while another process
/// migrates, each applied as the stream handler applies it (a record it
/// cannot apply yet, before the conversation has its group item, is
/// skipped, as the handler skips it): none is lost, and the rows end at the
/// newest with exact counts.
async fn sends_during_the_migration_end_where_they_belong(backend: Store) {
    let repo = backend.repo();
    let users = [
        user(&repo, &format!("cs_a{}", short())).await,
        user(&repo, &format!("cs_b{}", short())).await,
        user(&repo, &format!("cs_c{}", short())).await,
    ];
    let conversations = fixture();
    write_fixture(&backend, &users, &conversations).await;
    let seed = conversations[0].group;
    let stream = {
        let repo = repo.clone();
        let b = users[1].summary();
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..6 {
                let m = repo
                    .send_message(seed, &b, NewMessage::now(text(&format!("during {i}"))))
                    .await
                    .unwrap();
                match repo.apply_message(&m).await {
                    Ok(_) | Err(StoreError::NotFound(Missing::Conversation)) => {}
                    Err(e) => panic!("{e}"),
                }
                sent.push(m);
                tokio::task::yield_now().await;
            }
            sent
        })
    };
    let other = backend.another_process().await;
    other.migrate_layout(false, &mut |_| {}).await.unwrap();
    let sent = stream.await.unwrap();
    let newest = sent.last().unwrap();
    for (owner, unread) in [(&users[0], 1 + 6), (&users[1], 2)] {
        let rows = repo
            .conversations(owner.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items;
        let row = rows.iter().find(|r| r.group == seed).unwrap();
        assert_eq!(row.last_message_id, Some(newest.id), "@{}", owner.handle);
        assert_eq!(row.preview, "during 5");
        assert_eq!(row.unread, unread, "@{}'s count", owner.handle);
    }
}
