//! A conversation's messages (A), sending (C), paging and catching up.

use super::support::*;

async fn only_members_see_or_send(backend: Store) {
    let repo = backend.repo();
    let (a, _, group) = pair(&repo).await;
    let stranger = user(&repo, "stranger").await;
    let not_found = Err(StoreError::NotFound(Missing::Conversation));
    assert_eq!(
        repo.group(group, stranger.uuid).await.map(|_| ()),
        not_found
    );
    assert_eq!(
        repo.messages(group, stranger.uuid, &PageRequest::default())
            .await
            .map(|_| ()),
        not_found
    );
    let sent = repo
        .send_message(
            group,
            &stranger.summary(),
            NewMessage::now(text("let me in")),
        )
        .await;
    assert_eq!(sent.map(|_| ()), not_found);
    let (messages, _) = all_messages(&repo, group, a.uuid, 10).await;
    assert_eq!(messages.len(), 1, "the stranger's message was not stored");
    assert!(repo.is_member(group, a.uuid).await.unwrap());
    assert!(!repo.is_member(group, stranger.uuid).await.unwrap());
}

async fn messages_page_back_in_time(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    // 1 + 39 = 40 messages: exactly four pages of 10, then uneven pages of 7.
    for i in 1..40 {
        let sender = if i % 2 == 0 { &a } else { &b };
        let at = base_time().plus(TimeDelta::seconds(i));
        repo.send_message(
            group,
            &sender.summary(),
            message_at(&format!("m{i:02}"), at),
        )
        .await
        .unwrap();
    }
    for limit in [10, 7, 1, 100] {
        let (newest_first, pages) = all_messages(&repo, group, a.uuid, limit).await;
        assert_eq!(
            pages,
            40usize.div_ceil(limit),
            "limit {limit}: no empty last page"
        );
        let texts: Vec<&str> = newest_first.iter().map(|m| m.text.as_str()).collect();
        let mut expected: Vec<String> = (1..40).rev().map(|i| format!("m{i:02}")).collect();
        expected.push("first".into());
        assert_eq!(texts, expected, "limit {limit}");
    }
}

async fn tampered_and_foreign_cursors_are_refused(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let (c, _, other_group) = pair(&repo).await;
    for i in 1..5 {
        repo.send_message(
            group,
            &a.summary(),
            message_at("x", base_time().plus(TimeDelta::seconds(i))),
        )
        .await
        .unwrap();
        repo.send_message(
            other_group,
            &c.summary(),
            message_at("y", base_time().plus(TimeDelta::seconds(i))),
        )
        .await
        .unwrap();
    }
    let page = repo
        .messages(group, a.uuid, &PageRequest::first(2))
        .await
        .unwrap();
    let cursor = page.next.unwrap();
    // The same cursor works where it belongs ...
    assert!(
        repo.messages(group, b.uuid, &PageRequest::after(2, cursor.clone()))
            .await
            .is_ok()
    );
    // ... but not on another conversation, even one the caller can read.
    let foreign = repo
        .messages(other_group, c.uuid, &PageRequest::after(2, cursor.clone()))
        .await;
    assert_eq!(
        foreign.map(|_| ()),
        Err(StoreError::Cursor(CursorError::WrongPartition))
    );
    let on_rows = repo
        .conversations(a.uuid, &PageRequest::after(2, cursor.clone()))
        .await;
    assert_eq!(
        on_rows.map(|_| ()),
        Err(StoreError::Cursor(CursorError::WrongPartition))
    );
    let mut chars: Vec<char> = cursor.as_str().chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'x' { 'y' } else { 'x' };
    for bad in [
        chars.into_iter().collect::<String>(),
        "garbage".into(),
        String::new(),
        "%%%".into(),
    ] {
        let result = repo
            .messages(
                group,
                a.uuid,
                &PageRequest::after(2, Cursor::from_text(bad.clone())),
            )
            .await;
        assert_eq!(
            result.map(|_| ()),
            Err(StoreError::Cursor(CursorError::Malformed)),
            "{bad:?}"
        );
    }
}

async fn same_timestamp_messages_are_both_kept(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let at = base_time().plus(TimeDelta::seconds(5));
    let one = repo
        .send_message(group, &a.summary(), message_at("one", at))
        .await
        .unwrap();
    let two = repo
        .send_message(group, &b.summary(), message_at("two", at))
        .await
        .unwrap();
    let (messages, _) = all_messages(&repo, group, a.uuid, 10).await;
    assert_eq!(messages.len(), 3, "neither message overwrote the other");
    // Both applied, in either order: one row per member, showing the later by id.
    repo.apply_message(&two).await.unwrap();
    repo.apply_message(&one).await.unwrap();
    let newest = if one.id > two.id { &one } else { &two };
    for owner in [a.uuid, b.uuid] {
        let rows = repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.items[0].last_message_id, Some(newest.id));
    }
}

async fn resending_a_message_id_is_a_conflict(backend: Store) {
    let repo = backend.repo();
    let (a, _, group) = pair(&repo).await;
    let message = message_at("once", base_time().plus(TimeDelta::seconds(1)));
    repo.send_message(group, &a.summary(), message.clone())
        .await
        .unwrap();
    let again = repo.send_message(group, &a.summary(), message).await;
    assert_eq!(
        again.map(|_| ()),
        Err(StoreError::Conflict(Clash::ItemExists))
    );
    let (messages, _) = all_messages(&repo, group, a.uuid, 10).await;
    assert_eq!(messages.len(), 2);
}

async fn catching_up_reads_exactly_what_came_after_oldest_first(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    // 24 more messages; 10 and 11 share a microsecond.
    let mut sent = vec![];
    for i in 1..=24 {
        let at = base_time().plus(TimeDelta::seconds(if i == 11 { 10 } else { i }));
        let from = if i % 2 == 0 { &a } else { &b };
        sent.push(
            repo.send_message(group, &from.summary(), message_at(&format!("m{i}"), at))
                .await
                .unwrap(),
        );
    }
    let all = |repo: Repo, after: MessageBound, limit: usize| async move {
        let mut got: Vec<Message> = Vec::new();
        let mut after = after;
        loop {
            let page = repo
                .messages_after(group, a.uuid, after, limit)
                .await
                .unwrap();
            assert!(page.items.len() <= limit);
            let Some(last) = page.items.last() else {
                assert!(page.next.is_none());
                break;
            };
            after = MessageBound {
                at: last.created_at,
                id: Some(last.id),
            };
            got.extend(page.items.iter().cloned());
            if page.next.is_none() {
                break;
            }
        }
        got
    };
    // After message 5 (index 4): 6..=24, in order, each once, in pages of 7.
    let fifth = &sent[4];
    let bound = MessageBound {
        at: fifth.created_at,
        id: Some(fifth.id),
    };
    let ids = |ms: &[Message]| ms.iter().map(|m| m.id).collect::<Vec<_>>();
    let mut expected: Vec<Message> = sent[5..].to_vec();
    expected.sort_by_key(Message::reference);
    assert_eq!(ids(&all(repo.clone(), bound, 7).await), ids(&expected));
    // After one of two same-microsecond messages: the other one is not missed.
    let (ten, eleven) = (&sent[9], &sent[10]);
    let (first, second) = if ten.reference() < eleven.reference() {
        (ten, eleven)
    } else {
        (eleven, ten)
    };
    let got = all(
        repo.clone(),
        MessageBound {
            at: first.created_at,
            id: Some(first.id),
        },
        100,
    )
    .await;
    assert_eq!(got[0].id, second.id);
    // By time alone, every message of that time counts as had.
    let got = all(
        repo.clone(),
        MessageBound {
            at: first.created_at,
            id: None,
        },
        100,
    )
    .await;
    assert_eq!(got[0].text, "m12");
    // After the newest: nothing, and no cursor.
    let last = sent.last().unwrap();
    let page = repo
        .messages_after(
            group,
            b.uuid,
            MessageBound {
                at: last.created_at,
                id: Some(last.id),
            },
            20,
        )
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    // Only members.
    let stranger = user(&repo, &format!("s{}", short())).await;
    assert_eq!(
        repo.messages_after(group, stranger.uuid, bound, 20).await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
}

dm_store::on_both_backends!(
    setup = Store::new;
    only_members_see_or_send,
    messages_page_back_in_time,
    tampered_and_foreign_cursors_are_refused,
    same_timestamp_messages_are_both_kept,
    resending_a_message_id_is_a_conflict,
    catching_up_reads_exactly_what_came_after_oldest_first,
);
