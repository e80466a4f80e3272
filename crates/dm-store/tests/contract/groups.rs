//! Named groups (J): made by one write of the group item, each member's row
//! made by the row update from the group's record, every member's row
//! following each message.

use super::support::*;
use dm_domain::{GroupKind, GroupName, MAX_MEMBERS};
use dm_store::{Changes, GroupChange};

fn name(s: &str) -> GroupName {
    GroupName::parse(s).unwrap()
}

/// What the stream handler does with the group's record.
async fn apply_group_record(repo: &Repo, group: &dm_domain::Group) -> dm_store::Written {
    let changes = Changes {
        group: Some(group.clone()),
        ..Changes::default()
    };
    repo.apply_changes(group.id, &changes).await.unwrap()
}

async fn a_group_is_made_listed_and_messaged(backend: Store) {
    let repo = backend.repo();
    let owner = user(&repo, &format!("own{}", short())).await;
    let others = [
        user(&repo, &format!("one{}", short())).await,
        user(&repo, &format!("two{}", short())).await,
    ];
    let outsider = user(&repo, &format!("out{}", short())).await;
    let group = repo
        .create_group(
            &owner.summary(),
            name(" Council "),
            others.iter().map(User::summary).collect(),
        )
        .await
        .unwrap();
    assert_eq!(group.members.len(), 3);
    assert_eq!(group.owner(), Some(owner.uuid));
    assert!(matches!(&group.kind, GroupKind::Named { name, .. } if name.as_str() == "Council"));
    // Members read it; for anyone else it does not exist.
    assert_eq!(repo.group(group.id, others[1].uuid).await.unwrap(), group);
    assert_eq!(
        repo.group(group.id, outsider.uuid).await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
    // Its record makes every member's row, at its creation, nothing unread;
    // applied again, it changes nothing.
    let written = apply_group_record(&repo, &group).await;
    assert_eq!(written.applied, Applied::Moved);
    assert_eq!(written.rows.len(), 3);
    let again = apply_group_record(&repo, &group).await;
    assert_eq!(again.applied, Applied::AlreadyCurrent);
    let members = [owner.clone(), others[0].clone(), others[1].clone()];
    for member in &members {
        let rows = repo
            .conversations(member.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items;
        assert_eq!(rows.len(), 1, "{}", member.handle);
        let row = &rows[0];
        assert_eq!(row.group, group.id);
        assert_eq!(row.last_message_at, group.created_at);
        assert_eq!((row.unread, row.preview.as_str()), (0, ""));
        let topic = row.topic.as_ref().unwrap();
        assert_eq!((topic.name.as_str(), topic.members_count), ("Council", 3));
        assert_eq!(row.other.uuid, owner.uuid, "the owner until a message");
    }
    // A member's message reaches every member's row, unread for the others,
    // and the rows name its sender.
    let sent = repo
        .send_message(
            group.id,
            &others[0].summary(),
            message_at("hello, council", base_time()),
        )
        .await
        .unwrap();
    assert_eq!(repo.apply_message(&sent).await.unwrap(), Applied::Moved);
    for member in &members {
        let row = &repo
            .conversations(member.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items[0];
        assert_eq!(row.preview, "hello, council");
        assert_eq!(row.last_message_id, Some(sent.id));
        assert_eq!(row.other.uuid, others[0].uuid);
        assert_eq!(row.unread, u32::from(member.uuid != others[0].uuid));
    }
    // The record of the group again, after the message (a replay): nothing.
    assert_eq!(
        apply_group_record(&repo, &group).await.applied,
        Applied::AlreadyCurrent
    );
    // An outsider cannot send into it, nor read it.
    assert_eq!(
        repo.send_message(
            group.id,
            &outsider.summary(),
            message_at("let me in", base_time())
        )
        .await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
    assert!(
        repo.messages(group.id, outsider.uuid, &PageRequest::default())
            .await
            .is_err()
    );
    assert!(
        repo.conversations(outsider.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn a_group_of_a_hundred_is_one_write(backend: Store) {
    let repo = backend.repo();
    let mut users = Vec::new();
    for i in 0..MAX_MEMBERS {
        users.push(user(&repo, &format!("m{i}x{}", short())).await);
    }
    let group = repo
        .create_group(
            &users[0].summary(),
            name("everyone"),
            users[1..].iter().map(User::summary).collect(),
        )
        .await
        .unwrap();
    let written = apply_group_record(&repo, &group).await;
    assert_eq!(written.rows.len(), MAX_MEMBERS);
    let sent = repo
        .send_message(
            group.id,
            &users[57].summary(),
            message_at("hi all", base_time()),
        )
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    for (i, member) in users.iter().enumerate().step_by(9) {
        let row = &repo
            .conversations(member.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items[0];
        assert_eq!(row.preview, "hi all");
        assert_eq!(row.unread, u32::from(i != 57));
        assert_eq!(row.topic.as_ref().unwrap().members_count, 100);
    }
}

async fn bad_groups_are_refused_and_nothing_is_written(backend: Store) {
    let repo = backend.repo();
    let owner = user(&repo, &format!("own{}", short())).await;
    let one = user(&repo, &format!("one{}", short())).await;
    let two = user(&repo, &format!("two{}", short())).await;
    let cases: Vec<(Vec<User>, &str)> = vec![
        (vec![], "too_few_members"),
        (vec![one.clone()], "too_few_members"),
        (vec![one.clone(), one.clone()], "duplicate_members"),
        (vec![one.clone(), owner.clone()], "self_among_members"),
    ];
    for (others, code) in cases {
        assert_eq!(
            repo.create_group(
                &owner.summary(),
                name("x"),
                others.iter().map(User::summary).collect()
            )
            .await,
            Err(StoreError::Invalid(code))
        );
    }
    let many: Vec<dm_domain::UserSummary> = (0..MAX_MEMBERS)
        .map(|i| dm_domain::UserSummary {
            uuid: UserId::new(),
            handle: format!("many{i}"),
            display_name: "Many".into(),
        })
        .collect();
    assert_eq!(
        repo.create_group(&owner.summary(), name("x"), many).await,
        Err(StoreError::Invalid("too_many_members"))
    );
    for member in [&owner, &one, &two] {
        assert!(
            repo.conversations(member.uuid, &PageRequest::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}

dm_store::on_both_backends!(
    setup = Store::new;
    a_group_is_made_listed_and_messaged,
    a_group_of_a_hundred_is_one_write,
    bad_groups_are_refused_and_nothing_is_written,
    members_come_and_go_and_nothing_leaks,
    only_the_owner_renames_adds_and_removes,
    concurrent_adds_never_pass_the_cap,
    a_removal_racing_sends_splits_them_at_its_version,
);

/// A named group of a new owner and `n` new others, its rows made.
async fn group_of(repo: &Repo, n: usize) -> (dm_domain::Group, Vec<User>) {
    let mut users = Vec::new();
    for i in 0..=n {
        users.push(user(repo, &format!("g{i}x{}", short())).await);
    }
    let group = repo
        .create_group(
            &users[0].summary(),
            name("crew"),
            users[1..].iter().map(User::summary).collect(),
        )
        .await
        .unwrap();
    apply_group_record(repo, &group).await;
    (group, users)
}

async fn row_of(repo: &Repo, member: &User, group: GroupId) -> Option<dm_domain::Conversation> {
    repo.conversations(member.uuid, &PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.group == group)
}

async fn send(repo: &Repo, group: GroupId, from: &User, text: &str, second: i64) -> Message {
    let sent = repo
        .send_message(
            group,
            &from.summary(),
            message_at(text, base_time().plus(TimeDelta::seconds(second))),
        )
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    sent
}

async fn members_come_and_go_and_nothing_leaks(backend: Store) {
    let repo = backend.repo();
    let (group, users) = group_of(&repo, 2).await;
    let (owner, b, c) = (&users[0], &users[1], &users[2]);
    let early = send(&repo, group.id, b, "before anyone joined", 1).await;
    // A new member sees the history, none of it unread.
    let d = user(&repo, &format!("d{}", short())).await;
    let added = repo
        .change_group(group.id, owner.uuid, &GroupChange::Add(vec![d.summary()]))
        .await
        .unwrap();
    assert_eq!(added.members.len(), 4);
    assert_eq!(added.joined_version(d.uuid), Some(added.version));
    apply_group_record(&repo, &added).await;
    let row = row_of(&repo, &d, group.id)
        .await
        .expect("the new member's row");
    assert_eq!(
        (row.unread, row.preview.as_str()),
        (0, "before anyone joined")
    );
    assert_eq!(row.topic.unwrap().members_count, 4);
    assert_eq!(all_messages(&repo, group.id, d.uuid, 10).await.0.len(), 1);
    // The old message's record again (a replay) does not count it for them.
    repo.apply_message(&early).await.unwrap();
    assert_eq!(row_of(&repo, &d, group.id).await.unwrap().unread, 0);
    // The next message is theirs.
    send(&repo, group.id, b, "welcome", 2).await;
    assert_eq!(row_of(&repo, &d, group.id).await.unwrap().unread, 1);
    assert_eq!(row_of(&repo, c, group.id).await.unwrap().unread, 2);
    // The owner removes c: c's row is gone at once, before the stream, and
    // the group does not exist for them.
    let removed = repo
        .change_group(group.id, owner.uuid, &GroupChange::Remove(c.uuid))
        .await
        .unwrap();
    assert!(row_of(&repo, c, group.id).await.is_none());
    assert_eq!(repo.unread_total(c.uuid).await.unwrap(), 0);
    let gone = Some(StoreError::NotFound(Missing::Conversation));
    assert_eq!(repo.group(group.id, c.uuid).await.err(), gone);
    let page = repo
        .messages(group.id, c.uuid, &PageRequest::default())
        .await;
    assert_eq!(page.err(), gone);
    let refused = repo
        .send_message(
            group.id,
            &c.summary(),
            message_at("still here?", base_time()),
        )
        .await;
    assert_eq!(refused.err(), gone);
    // The record of the removal takes nothing more; a message after it
    // reaches the others only.
    let written = apply_group_record(&repo, &removed).await;
    assert!(written.rows.iter().all(|r| r.owner != c.uuid));
    let after = send(&repo, group.id, &d, "c has gone", 3).await;
    assert!(row_of(&repo, c, group.id).await.is_none());
    for member in [owner, b] {
        let row = row_of(&repo, member, group.id).await.unwrap();
        assert_eq!(row.preview, "c has gone");
        assert_eq!(row.topic.unwrap().members_count, 3);
    }
    // Every older record replayed, in any order: c's row stays gone, the
    // counts stay exact.
    let counts = |rows: Vec<Option<dm_domain::Conversation>>| {
        rows.into_iter()
            .map(|r| r.map(|r| r.unread))
            .collect::<Vec<_>>()
    };
    let mut now = Vec::new();
    for member in [owner, b, c, &d] {
        now.push(row_of(&repo, member, group.id).await);
    }
    let now = counts(now);
    apply_group_record(&repo, &group).await;
    apply_group_record(&repo, &added).await;
    repo.apply_message(&after).await.unwrap();
    repo.apply_message(&early).await.unwrap();
    apply_group_record(&repo, &removed).await;
    let mut again = Vec::new();
    for member in [owner, b, c, &d] {
        again.push(row_of(&repo, member, group.id).await);
    }
    assert_eq!(counts(again), now);
    assert_eq!(now[2], None, "c has no row");
    // Added back, c sees it all again, from then on.
    let back = repo
        .change_group(group.id, owner.uuid, &GroupChange::Add(vec![c.summary()]))
        .await
        .unwrap();
    apply_group_record(&repo, &back).await;
    let row = row_of(&repo, c, group.id).await.expect("back in the list");
    assert_eq!((row.unread, row.preview.as_str()), (0, "c has gone"));
    send(&repo, group.id, b, "welcome back", 4).await;
    assert_eq!(row_of(&repo, c, group.id).await.unwrap().unread, 1);
}

async fn only_the_owner_renames_adds_and_removes(backend: Store) {
    let repo = backend.repo();
    let (group, users) = group_of(&repo, 3).await;
    let (owner, b, c, d) = (&users[0], &users[1], &users[2], &users[3]);
    let outsider = user(&repo, &format!("out{}", short())).await;
    let forbidden = |r: Result<dm_domain::Group, StoreError>| {
        assert_eq!(
            r.map(|g| g.version),
            Err(StoreError::Forbidden("not_owner"))
        );
    };
    forbidden(
        repo.change_group(group.id, b.uuid, &GroupChange::Rename(name("mine")))
            .await,
    );
    forbidden(
        repo.change_group(
            group.id,
            b.uuid,
            &GroupChange::Add(vec![outsider.summary()]),
        )
        .await,
    );
    forbidden(
        repo.change_group(group.id, b.uuid, &GroupChange::Remove(c.uuid))
            .await,
    );
    assert_eq!(
        repo.change_group(group.id, outsider.uuid, &GroupChange::Rename(name("x")))
            .await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
    assert_eq!(
        repo.change_group(group.id, owner.uuid, &GroupChange::Add(vec![b.summary()]))
            .await,
        Err(StoreError::Invalid("already_member"))
    );
    assert_eq!(
        repo.change_group(group.id, owner.uuid, &GroupChange::Remove(outsider.uuid))
            .await,
        Err(StoreError::NotFound(Missing::User))
    );
    // Nothing changed.
    assert_eq!(repo.group(group.id, b.uuid).await.unwrap(), group);
    // The owner renames; every row follows the record.
    let renamed = repo
        .change_group(group.id, owner.uuid, &GroupChange::Rename(name("ship")))
        .await
        .unwrap();
    assert_eq!(renamed.version, group.version + 1);
    apply_group_record(&repo, &renamed).await;
    for member in &users {
        let row = row_of(&repo, member, group.id).await.unwrap();
        assert_eq!(row.topic.unwrap().name.as_str(), "ship");
    }
    // A member leaves; the owner leaves, and the earliest left owns it.
    let left = repo
        .change_group(group.id, d.uuid, &GroupChange::Remove(d.uuid))
        .await
        .unwrap();
    assert!(!left.has_member(d.uuid));
    let handed = repo
        .change_group(group.id, owner.uuid, &GroupChange::Remove(owner.uuid))
        .await
        .unwrap();
    assert_eq!(handed.owner(), Some(b.uuid));
    assert_eq!(handed.members.len(), 2);
    repo.change_group(group.id, b.uuid, &GroupChange::Rename(name("b's")))
        .await
        .unwrap();
    // A one-to-one conversation is not a group.
    let (x, _, direct) = pair(&repo).await;
    assert_eq!(
        repo.change_group(direct, x.uuid, &GroupChange::Rename(name("x")))
            .await,
        Err(StoreError::Invalid("not_a_group"))
    );
}

async fn concurrent_adds_never_pass_the_cap(backend: Store) {
    let repo = backend.repo();
    let other = backend.another_process().await;
    let (group, users) = group_of(&repo, MAX_MEMBERS - 3).await;
    assert_eq!(group.members.len(), MAX_MEMBERS - 2);
    let mut newcomers = Vec::new();
    for i in 0..4 {
        newcomers.push(user(&repo, &format!("n{i}x{}", short())).await);
    }
    let owner = users[0].uuid;
    let add = |repo: Repo, who: Vec<User>| async move {
        repo.change_group(
            group.id,
            owner,
            &GroupChange::Add(who.iter().map(User::summary).collect()),
        )
        .await
    };
    let (one, two) = tokio::join!(
        add(repo.clone(), newcomers[..2].to_vec()),
        add(other.clone(), newcomers[2..].to_vec())
    );
    let outcomes = [one.is_ok(), two.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "{one:?} {two:?}"
    );
    for refused in [one, two].into_iter().filter_map(Result::err) {
        assert_eq!(refused, StoreError::Invalid("too_many_members"));
    }
    let now = repo.group(group.id, owner).await.unwrap();
    assert_eq!(now.members.len(), MAX_MEMBERS);
}

/// The owner removes a member while every member sends, from another
/// process. Each send is accepted at the version it was checked at: the
/// removed member's accepted messages all come before the removal's
/// version, and once refused they stay refused. With every record applied
/// out of order and again, the removed member has no row and nothing
/// unread, and each member left counts exactly the others' messages.
async fn a_removal_racing_sends_splits_them_at_its_version(backend: Store) {
    let repo = backend.repo();
    let other = backend.another_process().await;
    let (group, users) = group_of(&repo, 3).await;
    let (owner, leaving) = (users[0].clone(), users[3].clone());
    // How many of the leaving member's sends were answered, and whether the
    // removal has begun.
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let removing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(k, from)| {
            let (other, from) = (other.clone(), from.clone());
            let (answered, removing) = (answered.clone(), removing.clone());
            let leaving = from.uuid == leaving.uuid;
            tokio::spawn(async move {
                let mut outcomes: Vec<Result<Message, StoreError>> = Vec::new();
                for i in 0.. {
                    // The others send 20 each. The leaving member sends two
                    // before the removal begins, then keeps sending while it
                    // runs, until refused three times.
                    let refused = outcomes.iter().filter(|o| o.is_err()).count();
                    if (!leaving && i == 20) || refused == 3 {
                        break;
                    }
                    assert!(i < 200, "never refused");
                    while leaving && i >= 2 && !removing.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::task::yield_now().await;
                    }
                    let at = base_time().plus(TimeDelta::milliseconds((i * 10 + k) as i64));
                    let text = format!("{} {i}", from.handle);
                    outcomes.push(
                        other
                            .send_message(group.id, &from.summary(), message_at(&text, at))
                            .await,
                    );
                    if leaving {
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    tokio::task::yield_now().await;
                }
                (from.uuid, outcomes)
            })
        })
        .collect();
    // Removed while sending.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    removing.store(true, std::sync::atomic::Ordering::SeqCst);
    let removed = repo
        .change_group(group.id, owner.uuid, &GroupChange::Remove(leaving.uuid))
        .await
        .unwrap();
    let (mut accepted, mut refusals) = (Vec::new(), 0);
    for sender in senders {
        let (from, outcomes) = sender.await.unwrap();
        let mut refused = false;
        for outcome in outcomes {
            match outcome {
                Ok(message) => {
                    assert!(!refused, "accepted again after a refusal");
                    if from == leaving.uuid {
                        assert!(
                            message.members_version < removed.version,
                            "accepted after the removal: {message:?}"
                        );
                    }
                    accepted.push(message);
                }
                Err(e) => {
                    assert_eq!(from, leaving.uuid, "only the removed member is refused");
                    assert_eq!(e, StoreError::NotFound(dm_store::Missing::Conversation));
                    refused = true;
                    refusals += 1;
                }
            }
        }
    }
    let theirs = accepted.iter().filter(|m| m.sender.uuid == leaving.uuid);
    assert!(theirs.count() >= 2 && refusals > 0, "{refusals} refused");
    // The stream: the messages newest first with the removal among them,
    // then everything once more in order.
    let (before, after) = accepted.split_at(accepted.len() / 2);
    for message in after.iter().rev() {
        repo.apply_message(message).await.unwrap();
    }
    apply_group_record(&repo, &removed).await;
    for message in before.iter().rev().chain(&accepted) {
        repo.apply_message(message).await.unwrap();
    }
    apply_group_record(&repo, &removed).await;

    assert!(row_of(&repo, &leaving, group.id).await.is_none());
    assert_eq!(repo.unread_total(leaving.uuid).await.unwrap(), 0);
    let newest = accepted.iter().max_by_key(|m| m.reference()).unwrap();
    for member in &users[..3] {
        let row = row_of(&repo, member, group.id).await.unwrap();
        let others = accepted
            .iter()
            .filter(|m| m.sender.uuid != member.uuid)
            .count();
        assert_eq!(row.unread as usize, others, "{}'s count", member.handle);
        assert_eq!(row.last_message_id, Some(newest.id));
    }
}
