//! The cases on both repositories: concurrent marks, checked marks, the cap,
//! and everything racing the stream.

use super::{world::*, *};

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
            members_version: 0,
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
