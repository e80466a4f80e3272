//! The row update (D): rows follow the newest message, whoever applies it.

use super::support::*;

async fn rows_follow_the_newest_message_in_any_order(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let mut sent = Vec::new();
    for i in 1..=6 {
        let sender = if i % 2 == 0 { &a } else { &b };
        let at = base_time().plus(TimeDelta::seconds(i));
        sent.push(
            repo.send_message(group, &sender.summary(), message_at(&format!("m{i}"), at))
                .await
                .unwrap(),
        );
    }
    // Out of order, with duplicates and replays.
    for i in [2, 0, 5, 5, 1, 3, 4, 0, 5, 2] {
        repo.apply_message(&sent[i]).await.unwrap();
    }
    assert_eq!(
        repo.apply_message(&sent[3]).await.unwrap(),
        Applied::AlreadyCurrent
    );
    for owner in [a.uuid, b.uuid] {
        let rows = repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1, "exactly one row per member");
        assert_eq!(rows.items[0].preview, "m6");
        assert_eq!(rows.items[0].last_message_id, Some(sent[5].id));
    }
    // Concurrent appliers over overlapping sets converge as well.
    let mut later = Vec::new();
    for i in 7..=20 {
        let at = base_time().plus(TimeDelta::seconds(i));
        later.push(
            repo.send_message(group, &a.summary(), message_at(&format!("m{i}"), at))
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = (0..4)
        .map(|k| {
            let (repo, mut batch) = (repo.clone(), later.clone());
            if k % 2 == 1 {
                batch.reverse();
            }
            tokio::spawn(async move {
                for m in batch {
                    repo.apply_message(&m).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for owner in [a.uuid, b.uuid] {
        let rows = repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1, "exactly one row per member");
        assert_eq!(rows.items[0].preview, "m20");
    }
}

async fn another_process_moving_the_rows_is_noticed(backend: Store) {
    // Each process remembers the group as it last wrote it and takes that as
    // its guess; a guess another process made stale must not win.
    let (repo, other) = (backend.repo(), backend.another_process().await);
    let (a, b, group) = pair(&repo).await;
    let mut sent = Vec::new();
    for i in 1..=4 {
        let at = base_time().plus(TimeDelta::seconds(i));
        sent.push(
            repo.send_message(group, &a.summary(), message_at(&format!("m{i}"), at))
                .await
                .unwrap(),
        );
    }
    assert_eq!(repo.apply_message(&sent[0]).await.unwrap(), Applied::Moved);
    assert_eq!(other.apply_message(&sent[1]).await.unwrap(), Applied::Moved);
    // `repo` still remembers m1 as the last message: its transaction's
    // condition fails, it reads the group and moves the rows from m2.
    assert_eq!(repo.apply_message(&sent[3]).await.unwrap(), Applied::Moved);
    // `other` remembers m2: m3 is older than the table's m4, so the rows
    // keep m4; but m3 was never counted (the rows jumped from m2 to m4), so
    // b's unread count takes it in now.
    assert_eq!(
        other.apply_message(&sent[2]).await.unwrap(),
        Applied::Counted
    );
    assert_eq!(
        other.apply_message(&sent[2]).await.unwrap(),
        Applied::AlreadyCurrent,
        "applied once"
    );
    for owner in [a.uuid, b.uuid] {
        let rows = other
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1, "exactly one row per member");
        assert_eq!(rows.items[0].last_message_id, Some(sent[3].id));
        // a sent all five; b has read none.
        let unread = if owner == b.uuid { 5 } else { 0 };
        assert_eq!(rows.items[0].unread, unread);
    }
}

async fn import_moves_rows_to_the_newest(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let history: Vec<Message> = (1..=60)
        .map(|i| Message {
            id: MessageId::new(),
            group,
            created_at: base_time().plus(TimeDelta::seconds(i)),
            text: format!("h{i}"),
            sender: if i % 2 == 0 { a.summary() } else { b.summary() },
            edited_at: None,
            deleted: false,
            members_version: 0,
        })
        .collect();
    repo.import_messages(group, history).await.unwrap();
    let (messages, _) = all_messages(&repo, group, a.uuid, 25).await;
    assert_eq!(messages.len(), 61);
    for owner in [a.uuid, b.uuid] {
        let rows = repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.items[0].preview, "h60");
    }
    let stranger = user(&repo, "intruder").await;
    let forged = vec![Message {
        id: MessageId::new(),
        group,
        created_at: Timestamp::now(),
        text: "forged".into(),
        sender: stranger.summary(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    }];
    assert_eq!(
        repo.import_messages(group, forged).await,
        Err(StoreError::Invalid("sender_not_member"))
    );
}

dm_store::on_both_backends!(
    setup = Store::new;
    rows_follow_the_newest_message_in_any_order,
    another_process_moving_the_rows_is_noticed,
    import_moves_rows_to_the_newest,
);
