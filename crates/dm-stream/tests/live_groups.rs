//! Live delivery in named groups, through the stream handler and the
//! notifier, on both repositories: every socket of every current member gets
//! a group's frames; a new member gets a `members` frame and the messages
//! accepted after they joined, none before; a removed member's sockets get a
//! `removed` frame, and then nothing of the group, whatever the stream
//! replays.

use std::sync::Arc;

use dm_domain::{
    Connection, Group, GroupName, Message, MessageId, MessageText, Timestamp, User, UserId,
};
use dm_store::{
    ChangeEvent, ChangeKind, GroupChange, NewMessage, Record, Repository, testing::Backend,
};
use dm_stream::{
    Handler,
    live::{ConnectionNotifier, Frame},
};

mod support;
use support::{Recorder, user};

fn record(sequence: u64, kind: ChangeKind, record: Record) -> ChangeEvent {
    ChangeEvent {
        sequence: sequence.to_string(),
        kind,
        key: record.key(),
        new_image: Some(record),
        expired: false,
    }
}

async fn send(repo: &Arc<dyn Repository>, group: &Group, from: &User, text: &str) -> Message {
    repo.send_message(
        group.id,
        &from.summary(),
        NewMessage {
            id: MessageId::new(),
            created_at: Timestamp::now(),
            text: MessageText::parse(text).unwrap(),
        },
    )
    .await
    .unwrap()
}

fn texts(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Message { message, .. } => Some(message.message.clone()),
            _ => None,
        })
        .collect()
}

async fn a_groups_frames_reach_its_members_and_only_them(backend: Backend) {
    let repo = backend.repo().await;
    let (owner, b, c) = (
        user(&repo, "own").await,
        user(&repo, "bee").await,
        user(&repo, "cee").await,
    );
    let group = repo
        .create_group(
            &owner.summary(),
            GroupName::parse("crew").unwrap(),
            vec![b.summary(), c.summary()],
        )
        .await
        .unwrap();
    for (who, id) in [
        (&owner, "own-tab"),
        (&b, "b-tab"),
        (&c, "c-tab"),
        (&c, "c-phone"),
    ] {
        repo.add_connection(&Connection {
            user: who.uuid,
            id: id.into(),
            expires_at: i64::MAX / 2,
        })
        .await
        .unwrap();
    }
    let post = Arc::new(Recorder::default());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(ConnectionNotifier::new(
        repo.clone(),
        post.clone(),
    )));
    let mut sequence = 0;
    let mut next = || {
        sequence += 1;
        sequence
    };
    // Made: every member's sockets hear who is in it, and get their row.
    handler
        .handle(&[record(
            next(),
            ChangeKind::Insert,
            Record::Group(group.clone()),
        )])
        .await;
    for id in ["own-tab", "b-tab", "c-tab", "c-phone"] {
        let frames = post.take(id);
        assert!(
            matches!(&frames[..], [Frame::Members { members, .. }, Frame::Conversation { .. }] if members.len() == 3),
            "{id}: {frames:?}"
        );
    }
    let first = send(&repo, &group, &b, "one").await;
    handler
        .handle(&[record(
            next(),
            ChangeKind::Insert,
            Record::Message(first.clone()),
        )])
        .await;
    for id in ["own-tab", "b-tab", "c-tab", "c-phone"] {
        assert_eq!(texts(&post.take(id)), ["one"], "{id}");
    }
    // c is removed: a `removed` frame to each of c's sockets, `members` to
    // the others.
    let removed = repo
        .change_group(group.id, owner.uuid, &GroupChange::Remove(c.uuid))
        .await
        .unwrap();
    // A message accepted before the removal, and one after.
    let late = send(&repo, &removed, &b, "after c left").await;
    handler
        .handle(&[
            record(next(), ChangeKind::Modify, Record::Group(removed.clone())),
            record(next(), ChangeKind::Insert, Record::Message(late.clone())),
        ])
        .await;
    for id in ["c-tab", "c-phone"] {
        assert_eq!(
            post.take(id),
            [Frame::removed(group.id)],
            "{id}: removed, and nothing more"
        );
    }
    for id in ["own-tab", "b-tab"] {
        let frames = post.take(id);
        assert_eq!(texts(&frames), ["after c left"], "{id}");
        assert!(
            frames
                .iter()
                .any(|f| matches!(f, Frame::Members { members, .. } if members.len() == 2)),
            "{id}: {frames:?}"
        );
    }
    // The stream replays everything, in another order, and a new member
    // joins: c's sockets hear nothing; the newcomer hears only what was
    // accepted after they joined.
    let d = user(&repo, "dee").await;
    repo.add_connection(&Connection {
        user: d.uuid,
        id: "d-tab".into(),
        expires_at: i64::MAX / 2,
    })
    .await
    .unwrap();
    let added = repo
        .change_group(group.id, owner.uuid, &GroupChange::Add(vec![d.summary()]))
        .await
        .unwrap();
    let welcome = send(&repo, &added, &owner, "welcome, d").await;
    handler
        .handle(&[
            record(next(), ChangeKind::Insert, Record::Message(late.clone())),
            record(next(), ChangeKind::Insert, Record::Group(group.clone())),
            record(next(), ChangeKind::Insert, Record::Message(first.clone())),
            record(next(), ChangeKind::Modify, Record::Group(added.clone())),
            record(next(), ChangeKind::Insert, Record::Message(welcome.clone())),
        ])
        .await;
    for id in ["c-tab", "c-phone"] {
        assert!(post.take(id).is_empty(), "{id} hears nothing more");
    }
    let to_d = post.take("d-tab");
    assert_eq!(texts(&to_d), ["welcome, d"], "{to_d:?}");
    assert!(to_d.iter().any(|f| matches!(f, Frame::Members { .. })));
    let to_b = post.take("b-tab");
    assert_eq!(texts(&to_b), ["one", "after c left", "welcome, d"]);
    // c's list has no row of it; d's counts only the welcome.
    let rows_of = |user: UserId| {
        let repo = repo.clone();
        async move {
            repo.conversations(user, &dm_store::PageRequest::default())
                .await
                .unwrap()
                .items
        }
    };
    assert!(rows_of(c.uuid).await.is_empty());
    let d_rows = rows_of(d.uuid).await;
    assert_eq!(d_rows.len(), 1);
    assert_eq!(d_rows[0].unread, 1, "the welcome, and nothing before it");
}

dm_store::on_both_backends!(a_groups_frames_reach_its_members_and_only_them,);
