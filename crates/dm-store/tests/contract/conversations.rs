//! Starting conversations (pattern E) and a user's list of them (B).

use super::support::*;

async fn starting_a_conversation_gives_each_member_a_row(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    for (owner, other) in [(&a, &b), (&b, &a)] {
        let rows = repo
            .conversations(owner.uuid, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.next, None);
        let row = &rows.items[0];
        assert_eq!(
            (row.group, row.owner, &row.other),
            (group, owner.uuid, &other.summary())
        );
        assert_eq!(row.preview, "first");
        assert_eq!(row.last_message_at, base_time());
    }
    let messages = repo
        .messages(group, b.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(messages.items.len(), 1);
    assert_eq!(messages.items[0].sender, a.summary());
    let found = repo.group(group, a.uuid).await.unwrap();
    assert!(found.has_member(a.uuid) && found.has_member(b.uuid));
}

async fn starting_twice_reuses_the_conversation(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    // From the other side, too.
    let again = repo
        .start_conversation(
            &b.summary(),
            &a.summary(),
            message_at("again", base_time().plus(TimeDelta::seconds(1))),
        )
        .await
        .unwrap();
    assert!(!again.started);
    assert_eq!(again.message.group, group);
    assert_eq!(
        repo.conversation_between(b.uuid, a.uuid).await.unwrap(),
        Some(group)
    );
    assert_eq!(
        repo.conversation_between(a.uuid, UserId::new())
            .await
            .unwrap(),
        None
    );
    let (messages, _) = all_messages(&repo, group, a.uuid, 10).await;
    assert_eq!(
        messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["again", "first"]
    );
}

async fn concurrent_starts_make_one_conversation(backend: Store) {
    let repo = backend.repo();
    let a = user(&repo, &format!("a{}", short())).await;
    let b = user(&repo, &format!("b{}", short())).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (repo, a, b) = (repo.clone(), a.summary(), b.summary());
            tokio::spawn(async move {
                let (from, to) = if i % 2 == 0 { (a, b) } else { (b, a) };
                repo.start_conversation(&from, &to, NewMessage::now(text(&format!("hello {i}"))))
                    .await
            })
        })
        .collect();
    let mut groups = HashSet::new();
    let mut started = 0;
    for task in tasks {
        let sent = task.await.unwrap().unwrap();
        groups.insert(sent.message.group);
        started += usize::from(sent.started);
    }
    assert_eq!(groups.len(), 1, "every start landed in one conversation");
    assert_eq!(started, 1, "exactly one start created it");
    let group = *groups.iter().next().unwrap();
    let (messages, _) = all_messages(&repo, group, a.uuid, 100).await;
    assert_eq!(messages.len(), 8, "no message was lost");
    for owner in [a.uuid, b.uuid] {
        let rows = repo
            .conversations(owner, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1, "one row per member");
    }
}

async fn messaging_oneself_is_refused(backend: Store) {
    let repo = backend.repo();
    let a = user(&repo, "lonely").await;
    let result = repo
        .start_conversation(&a.summary(), &a.summary(), NewMessage::now(text("hi me")))
        .await;
    assert_eq!(result, Err(StoreError::Invalid("self_conversation")));
    assert!(
        repo.conversations(a.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn conversations_page_most_recent_first(backend: Store) {
    let repo = backend.repo();
    let me = user(&repo, "hub").await;
    let mut groups = Vec::new();
    for i in 0..25 {
        let other = user(&repo, &format!("spoke{i}")).await;
        let at = base_time().plus(TimeDelta::minutes(i));
        let sent = repo
            .start_conversation(&other.summary(), &me.summary(), message_at("hi", at))
            .await
            .unwrap();
        groups.push(sent.message.group);
    }
    let list = |repo: Repo| async move {
        let mut seen = Vec::new();
        let mut request = PageRequest::first(10);
        let mut pages = 0;
        loop {
            let page = repo.conversations(me.uuid, &request).await.unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|c| c.group));
            match page.next {
                Some(next) => request = PageRequest::after(10, next),
                None => return (seen, pages),
            }
        }
    };
    let (seen, pages) = list(repo.clone()).await;
    assert_eq!(pages, 3);
    let newest_first: Vec<GroupId> = groups.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);

    // A new message in the oldest conversation moves it to the top, once.
    let oldest = groups[0];
    let group = repo.group(oldest, me.uuid).await.unwrap();
    let sent = repo
        .send_message(
            oldest,
            &me.summary(),
            message_at("back again", base_time().plus(TimeDelta::hours(1))),
        )
        .await
        .unwrap();
    assert_eq!(repo.apply_message(&sent).await.unwrap(), Applied::Moved);
    let (seen, _) = list(repo.clone()).await;
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], oldest);
    assert_eq!(seen.iter().filter(|g| **g == oldest).count(), 1);
    let other = group.other_member(me.uuid).unwrap();
    let theirs = repo
        .conversations(other.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].preview, "back again");
}

async fn members_are_named_by_the_group_or_the_seed_rows(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let uuids = |members: Vec<dm_domain::UserSummary>| {
        let mut uuids: Vec<UserId> = members.into_iter().map(|m| m.uuid).collect();
        uuids.sort();
        uuids
    };
    let mut both = vec![a.uuid, b.uuid];
    both.sort();
    assert_eq!(uuids(repo.members_unchecked(group).await.unwrap()), both);
    // Another process, with nothing remembered, reads the same.
    let other = backend.another_process().await;
    assert_eq!(uuids(other.members_unchecked(group).await.unwrap()), both);
    assert_eq!(
        repo.members_unchecked(GroupId::new()).await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
}

dm_store::on_both_backends!(
    setup = Store::new;
    starting_a_conversation_gives_each_member_a_row,
    starting_twice_reuses_the_conversation,
    concurrent_starts_make_one_conversation,
    messaging_oneself_is_refused,
    conversations_page_most_recent_first,
    members_are_named_by_the_group_or_the_seed_rows,
);
