//! The repository contract: one suite, run against the memory repository and
//! against DynamoDB Local (started by the test binary itself).
//!
//! Each case is an async function over `Arc<dyn Repository>`; the
//! `contract!` macro turns every case into one test per backend, so a failure
//! names both the case and the backend.

use std::{collections::HashSet, sync::Arc};

use chrono::TimeDelta;
use dm_domain::{
    Cursor, CursorError, DisplayName, GroupId, Handle, Message, MessageId, MessageText, NewUser,
    Timestamp, User, UserId,
};
use dm_store::{
    Applied, Clash, IdempotencyClaim, IdempotencyKey, MessageBound, Missing, NewMessage,
    PageRequest, Recipient, Repository, SendOnce, StoreError,
};

type Repo = Arc<dyn Repository>;

/// The repository under test, and a way to write items behind its back.
#[derive(Clone)]
enum Backend {
    Memory(dm_store::MemoryRepository),
    Dynamo(dm_store::DynamoRepository),
}

impl Backend {
    fn repo(&self) -> Repo {
        match self {
            Self::Memory(m) => Arc::new(m.clone()),
            Self::Dynamo(d) => Arc::new(d.clone()),
        }
    }

    /// The same table, through a repository with caches of its own, as
    /// another process would use it.
    async fn another_process(&self) -> Repo {
        match self {
            Self::Memory(m) => Arc::new(m.with_own_cache()),
            Self::Dynamo(d) => {
                let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
                let config = dm_store::client::sdk_config(Some(endpoint)).await;
                Arc::new(dm_store::DynamoRepository::new(&config, d.table()).unwrap())
            }
        }
    }

    /// Writes an item as another tool would have, bypassing the repository.
    async fn put_raw(&self, item: serde_dynamo::Item) {
        match self {
            Self::Memory(m) => m.put_item(item).unwrap(),
            Self::Dynamo(d) => {
                d.client()
                    .put_item()
                    .table_name(d.table())
                    .set_item(Some(item.into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backend::Memory(dm_store::MemoryRepository::new())).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backend::Dynamo(dm_store::testing::fresh_table().await)).await;
                }
            )*
        }
    };
}

contract!(
    users_are_found_by_uuid_handle_and_subject,
    handles_and_subjects_are_unique,
    starting_a_conversation_gives_each_member_a_row,
    starting_twice_reuses_the_conversation,
    concurrent_starts_make_one_conversation,
    messaging_oneself_is_refused,
    only_members_see_or_send,
    messages_page_back_in_time,
    conversations_page_most_recent_first,
    tampered_and_foreign_cursors_are_refused,
    same_timestamp_messages_are_both_kept,
    rows_follow_the_newest_message_in_any_order,
    another_process_moving_the_rows_is_noticed,
    resending_a_message_id_is_a_conflict,
    unknown_ids_are_not_found,
    seed_items_read_back,
    import_moves_rows_to_the_newest,
    idempotency_claims_hold_until_they_expire,
    a_keyed_send_is_stored_once_however_often_it_is_retried,
    live_connections_are_kept_per_user_until_they_expire,
    members_are_named_by_the_group_or_the_seed_rows,
    catching_up_reads_exactly_what_came_after_oldest_first,
);

fn new_user(handle: &str) -> NewUser {
    NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse(&format!("{handle} name")).unwrap(),
        cognito_user_id: Some(format!("sub-{}", UserId::new())),
    }
}

async fn user(repo: &Repo, handle: &str) -> User {
    repo.create_user(new_user(handle)).await.unwrap()
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

fn base_time() -> Timestamp {
    "2024-01-01T00:00:00.000000+00:00".parse().unwrap()
}

fn message_at(s: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        created_at: at,
        text: text(s),
    }
}

/// Starts a conversation between two new users; returns them and its id.
async fn pair(repo: &Repo) -> (User, User, GroupId) {
    let a = user(repo, &format!("a{}", short())).await;
    let b = user(repo, &format!("b{}", short())).await;
    let sent = repo
        .start_conversation(&a.summary(), &b.summary(), message_at("first", base_time()))
        .await
        .unwrap();
    (a, b, sent.message.group)
}

fn short() -> String {
    UserId::new().to_string()[..8].to_owned()
}

async fn all_messages(
    repo: &Repo,
    group: GroupId,
    member: UserId,
    limit: usize,
) -> (Vec<Message>, usize) {
    let mut request = PageRequest::first(limit);
    let mut newest_first = Vec::new();
    let mut pages = 0;
    loop {
        let page = repo.messages(group, member, &request).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= limit);
        assert!(
            page.items
                .windows(2)
                .all(|w| w[0].reference() < w[1].reference()),
            "a page is oldest to newest"
        );
        if let Some(next) = page.next {
            assert_eq!(
                page.items.len(),
                limit,
                "only a full page has a next cursor"
            );
            newest_first.extend(page.items.into_iter().rev());
            request = PageRequest::after(limit, next);
        } else {
            newest_first.extend(page.items.into_iter().rev());
            return (newest_first, pages);
        }
    }
}

async fn users_are_found_by_uuid_handle_and_subject(backend: Backend) {
    let repo = backend.repo();
    let created = user(&repo, "AndrewBrown").await;
    assert_eq!(repo.user(created.uuid).await.unwrap(), created);
    let by_handle = repo
        .user_by_handle(&Handle::parse("@andrewBROWN").unwrap())
        .await
        .unwrap();
    assert_eq!(by_handle, created);
    assert_eq!(
        by_handle.handle.as_str(),
        "AndrewBrown",
        "the handle keeps its case"
    );
    let sub = created.cognito_user_id.clone().unwrap();
    assert_eq!(repo.user_by_cognito_sub(&sub).await.unwrap(), created);
}

async fn handles_and_subjects_are_unique(backend: Backend) {
    let repo = backend.repo();
    let first = user(&repo, "Londo").await;
    let mut again = new_user("lONDO");
    let again_id = again.uuid;
    assert_eq!(
        repo.create_user(again.clone()).await,
        Err(StoreError::Conflict(Clash::HandleTaken))
    );
    assert_eq!(
        repo.user(again_id).await,
        Err(StoreError::NotFound(Missing::User)),
        "a refused user leaves nothing behind"
    );

    again.handle = Handle::parse("vir").unwrap();
    again.cognito_user_id = first.cognito_user_id.clone();
    assert_eq!(
        repo.create_user(again.clone()).await,
        Err(StoreError::Conflict(Clash::CognitoSubTaken))
    );
    assert_eq!(
        repo.user_by_handle(&Handle::parse("vir").unwrap()).await,
        Err(StoreError::NotFound(Missing::User))
    );

    let mut same_id = new_user("g_kar");
    same_id.uuid = first.uuid;
    assert_eq!(
        repo.create_user(same_id).await,
        Err(StoreError::Conflict(Clash::UserExists))
    );
    assert_eq!(repo.user(first.uuid).await.unwrap(), first);
}

async fn starting_a_conversation_gives_each_member_a_row(backend: Backend) {
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
        assert_eq!(row.last_message, "first");
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

async fn starting_twice_reuses_the_conversation(backend: Backend) {
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

async fn concurrent_starts_make_one_conversation(backend: Backend) {
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

async fn messaging_oneself_is_refused(backend: Backend) {
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

async fn only_members_see_or_send(backend: Backend) {
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

async fn messages_page_back_in_time(backend: Backend) {
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

async fn conversations_page_most_recent_first(backend: Backend) {
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
    assert_eq!(theirs.items[0].last_message, "back again");
}

async fn tampered_and_foreign_cursors_are_refused(backend: Backend) {
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

async fn same_timestamp_messages_are_both_kept(backend: Backend) {
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

async fn rows_follow_the_newest_message_in_any_order(backend: Backend) {
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
        assert_eq!(rows.items[0].last_message, "m6");
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
        assert_eq!(rows.items[0].last_message, "m20");
    }
}

async fn another_process_moving_the_rows_is_noticed(backend: Backend) {
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
    let group_item = other.group(group, a.uuid).await.unwrap();
    assert_eq!(group_item.last, sent[3].reference());
}

async fn resending_a_message_id_is_a_conflict(backend: Backend) {
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

async fn unknown_ids_are_not_found(backend: Backend) {
    let repo = backend.repo();
    let a = user(&repo, "someone").await;
    let nobody = UserId::new();
    let missing = GroupId::new();
    assert_eq!(
        repo.user(nobody).await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_handle(&Handle::parse("nobody").unwrap()).await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_cognito_sub("no-such-sub").await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_cognito_sub("").await,
        Err(StoreError::NotFound(Missing::User))
    );
    let not_found = Err(StoreError::NotFound(Missing::Conversation));
    assert_eq!(repo.group(missing, a.uuid).await.map(|_| ()), not_found);
    assert_eq!(
        repo.messages(missing, a.uuid, &PageRequest::default())
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        repo.send_message(missing, &a.summary(), NewMessage::now(text("hello?")))
            .await
            .map(|_| ()),
        not_found
    );
    let orphan = Message {
        id: MessageId::new(),
        group: missing,
        created_at: Timestamp::now(),
        text: "lost".into(),
        sender: a.summary(),
        edited_at: None,
        deleted: false,
    };
    assert_eq!(
        repo.apply_message(&orphan).await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
    let empty = repo
        .conversations(nobody, &PageRequest::default())
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());
}

/// Items exactly as the seed's Python wrote them: bare timestamps as sort
/// keys, no `entity`, no group item.
fn seed_items(group: GroupId, a: &User, b: &User) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    for (i, sender) in [(0, a), (1, b), (2, a)] {
        items.push(serde_json::json!({
            "pk": format!("MSG#{group}"),
            "sk": format!("2023-03-2{i}T22:52:11.123456+00:00"),
            "message_uuid": MessageId::new().to_string(),
            "message": format!("seed {i}"),
            "user_uuid": sender.uuid.to_string(),
            "user_display_name": sender.display_name.to_string(),
            "user_handle": sender.handle.to_string(),
        }));
    }
    for (owner, other) in [(a, b), (b, a)] {
        items.push(serde_json::json!({
            "pk": format!("GRP#{}", owner.uuid),
            "sk": "2023-03-22T22:52:11+00:00",
            "message_group_uuid": group.to_string(),
            "message": "seed 2",
            "user_uuid": other.uuid.to_string(),
            "user_display_name": other.display_name.to_string(),
            "user_handle": other.handle.to_string(),
        }));
    }
    items
}

async fn seed_items_read_back(backend: Backend) {
    let repo = backend.repo();
    let a = user(&repo, "seed_a").await;
    let b = user(&repo, "seed_b").await;
    let stranger = user(&repo, "seed_c").await;
    let group = GroupId::new();
    for json in seed_items(group, &a, &b) {
        let item: serde_dynamo::Item = serde_dynamo::to_item(json).unwrap();
        backend.put_raw(item).await;
    }
    let rows = repo
        .conversations(a.uuid, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1);
    assert_eq!(
        (rows.items[0].group, rows.items[0].other.uuid),
        (group, b.uuid)
    );
    assert_eq!(rows.items[0].last_message_id, None);
    // Paging over bare-timestamp keys neither skips nor repeats.
    let (messages, pages) = all_messages(&repo, group, b.uuid, 2).await;
    assert_eq!(pages, 2);
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["seed 2", "seed 1", "seed 0"]);
    assert_eq!(messages[1].sender, b.summary());
    let denied = repo
        .messages(group, stranger.uuid, &PageRequest::default())
        .await;
    assert_eq!(
        denied.map(|_| ()),
        Err(StoreError::NotFound(Missing::Conversation))
    );
}

async fn import_moves_rows_to_the_newest(backend: Backend) {
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
        assert_eq!(rows.items[0].last_message, "h60");
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
    }];
    assert_eq!(
        repo.import_messages(group, forged).await,
        Err(StoreError::Invalid("sender_not_member"))
    );
}

async fn idempotency_claims_hold_until_they_expire(backend: Backend) {
    let repo = backend.repo();
    let (a, _, group) = pair(&repo).await;
    let claim = |message: MessageId, expires_at: i64| IdempotencyClaim {
        user: a.uuid,
        key: "retry-42".into(),
        message,
        at: base_time().plus(TimeDelta::seconds(9)),
        request: "group:x\nhello".into(),
        expires_at,
    };
    let first = claim(MessageId::new(), 1_000);
    assert_eq!(
        repo.claim_idempotency(first.clone(), 500).await.unwrap(),
        first
    );
    // A retry gets the first claim, whatever it proposed.
    let retry = claim(MessageId::new(), 1_100);
    assert_eq!(repo.claim_idempotency(retry, 600).await.unwrap(), first);
    // Another user's key of the same name is another claim.
    let mut theirs = claim(MessageId::new(), 1_000);
    theirs.user = UserId::new();
    assert_eq!(
        repo.claim_idempotency(theirs.clone(), 600).await.unwrap(),
        theirs
    );
    // Once expired (DynamoDB deletes lazily), the key is free again.
    let later = claim(MessageId::new(), 9_000);
    assert_eq!(
        repo.claim_idempotency(later.clone(), 1_001).await.unwrap(),
        later
    );

    // The message a claim names can be read back by its place.
    let sent = repo
        .send_message(
            group,
            &a.summary(),
            NewMessage {
                id: later.message,
                created_at: later.at,
                text: text("hello"),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        repo.message_unchecked(group, sent.reference())
            .await
            .unwrap(),
        Some(sent.clone())
    );
    let elsewhere = dm_domain::MessageRef {
        at: sent.created_at,
        id: MessageId::new(),
    };
    assert_eq!(
        repo.message_unchecked(group, elsewhere).await.unwrap(),
        None
    );
}

async fn a_keyed_send_is_stored_once_however_often_it_is_retried(backend: Backend) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let key = |name: &str, request: &str| {
        Some(IdempotencyKey {
            key: name.into(),
            request: request.into(),
        })
    };
    let count = |repo: Repo| async move {
        repo.messages(group, a.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len()
    };
    let before = count(repo.clone()).await;

    // To a conversation: the retries answer with the first message.
    let first = repo
        .send_once(
            &a.summary(),
            Recipient::Group(group),
            text("hello"),
            key("k1", "g\nhello"),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        let retry = repo
            .send_once(
                &a.summary(),
                Recipient::Group(group),
                text("hello"),
                key("k1", "g\nhello"),
            )
            .await
            .unwrap();
        assert_eq!(retry, first);
    }
    assert_eq!(count(repo.clone()).await, before + 1);

    // The same key for another request is refused, and stores nothing.
    assert_eq!(
        repo.send_once(
            &a.summary(),
            Recipient::Group(group),
            text("other"),
            key("k1", "g\nother")
        )
        .await,
        Err(StoreError::Invalid("idempotency_key_reused"))
    );
    assert_eq!(count(repo.clone()).await, before + 1);

    // Without a key every call is a new message.
    for _ in 0..2 {
        repo.send_once(&a.summary(), Recipient::Group(group), text("again"), None)
            .await
            .unwrap();
    }
    assert_eq!(count(repo.clone()).await, before + 3);

    // To a user: the retry of a send that started a conversation finds it.
    let c = user(&repo, &format!("c{}", short())).await;
    let started = repo
        .send_once(
            &a.summary(),
            Recipient::User(c.summary()),
            text("hi c"),
            key("k2", "@c\nhi c"),
        )
        .await
        .unwrap();
    let retried = repo
        .send_once(
            &a.summary(),
            Recipient::User(c.summary()),
            text("hi c"),
            key("k2", "@c\nhi c"),
        )
        .await
        .unwrap();
    assert_eq!(retried, started);
    assert_ne!(started.group, group);
    assert_eq!(
        repo.messages(started.group, c.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items,
        vec![started]
    );
    // And keys are per user: b's "k1" is b's own.
    let theirs = repo
        .send_once(
            &b.summary(),
            Recipient::Group(group),
            text("from b"),
            key("k1", "g\nfrom b"),
        )
        .await
        .unwrap();
    assert_eq!(theirs.text, "from b");
}

async fn live_connections_are_kept_per_user_until_they_expire(backend: Backend) {
    use dm_domain::Connection;
    let repo = backend.repo();
    let (a, b) = (UserId::new(), UserId::new());
    let connection = |user, id: &str, expires_at| Connection {
        user,
        id: id.into(),
        expires_at,
    };
    for c in [
        connection(a, "tab-1", 2_000),
        connection(a, "tab-2", 1_000),
        connection(b, "phone", 2_000),
    ] {
        repo.add_connection(&c).await.unwrap();
    }
    let ids = |found: Vec<Connection>| {
        let mut ids: Vec<String> = found.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(repo.connections(a, 500).await.unwrap()),
        ["tab-1", "tab-2"]
    );
    // Expired is absent, whether or not the TTL has deleted it yet.
    assert_eq!(ids(repo.connections(a, 1_000).await.unwrap()), ["tab-1"]);
    assert_eq!(ids(repo.connections(b, 500).await.unwrap()), ["phone"]);
    // Re-adding refreshes; removing forgets; removing twice is fine.
    repo.add_connection(&connection(a, "tab-2", 3_000))
        .await
        .unwrap();
    assert_eq!(ids(repo.connections(a, 2_500).await.unwrap()), ["tab-2"]);
    repo.remove_connection(a, "tab-2").await.unwrap();
    repo.remove_connection(a, "tab-2").await.unwrap();
    assert!(repo.connections(a, 2_500).await.unwrap().is_empty());
    // Another user's connection of the same id is theirs.
    repo.remove_connection(a, "phone").await.unwrap();
    assert_eq!(ids(repo.connections(b, 500).await.unwrap()), ["phone"]);
}

async fn members_are_named_by_the_group_or_the_seed_rows(backend: Backend) {
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

async fn catching_up_reads_exactly_what_came_after_oldest_first(backend: Backend) {
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
