//! Named groups (J): made by one write of the group item, each member's row
//! made by the row update from the group's record, every member's row
//! following each message.

use super::support::*;
use dm_domain::{GroupKind, GroupName, MAX_MEMBERS};
use dm_store::Changes;

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
);
