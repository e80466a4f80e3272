//! Live delivery: what the handler tells the notifier (a mockall mock), and
//! what the notifier posts to whose connections through API Gateway's
//! management API (aws-smithy-mocks), on both repositories.

use std::sync::{Arc, Mutex};

use dm_domain::{Connection, GroupId, Message, MessageId, MessageText, Timestamp, User, UserId};
use dm_store::{ChangeEvent, ChangeKind, NewMessage, Record, Repository, testing::Backend};
use dm_stream::{
    Handler,
    live::{ConnectionNotifier, Frame, ManagementApi, Notifier, Post, PostError, Update},
};

mod support;
use support::{Recorder, user};

mockall::mock! {
    #[derive(Debug)]
    Notify {}
    #[async_trait::async_trait]
    impl Notifier for Notify {
        async fn notify(&self, update: &Update);
    }
}

/// Two users' conversation, and `n` more messages in it, one second apart.
async fn conversation(repo: &Arc<dyn Repository>, n: usize) -> (User, User, Vec<Message>) {
    let (a, b) = (user(repo, "ana").await, user(repo, "bo").await);
    let at = |s: i64| {
        "2025-03-01T10:00:00.000000+00:00"
            .parse::<Timestamp>()
            .unwrap()
            .plus(chrono::TimeDelta::seconds(s))
    };
    let first = repo
        .start_conversation(
            &a.summary(),
            &b.summary(),
            NewMessage {
                id: MessageId::new(),
                created_at: at(0),
                text: MessageText::parse("first").unwrap(),
            },
        )
        .await
        .unwrap()
        .message;
    let mut sent = vec![first.clone()];
    for i in 1..=n {
        let from = if i % 2 == 0 { &a } else { &b };
        sent.push(
            repo.send_message(
                first.group,
                &from.summary(),
                NewMessage {
                    id: MessageId::new(),
                    created_at: at(i as i64),
                    text: MessageText::parse(&format!("message {i}")).unwrap(),
                },
            )
            .await
            .unwrap(),
        );
    }
    (a, b, sent)
}

fn inserts(messages: &[&Message]) -> Vec<ChangeEvent> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| ChangeEvent {
            sequence: format!("{}", 100 + i),
            kind: ChangeKind::Insert,
            key: Record::Message((*m).clone()).key(),
            new_image: Some(Record::Message((*m).clone())),
            expired: false,
        })
        .collect()
}

dm_store::on_both_backends!(
    the_handler_notifies_each_conversation_once_with_its_new_messages_in_order,
    a_replayed_older_message_is_notified_but_moves_no_row,
    the_notifier_posts_to_every_connection_of_every_member_and_forgets_gone_ones,
    a_read_marker_reaches_every_member_and_clears_the_readers_count,
    edits_and_deletes_reach_every_member_with_the_rows_they_change,
);

async fn the_handler_notifies_each_conversation_once_with_its_new_messages_in_order(
    backend: Backend,
) {
    let repo = backend.repo().await;
    let (_, _, sent) = conversation(&repo, 3).await;
    let (_, _, other) = conversation(&repo, 0).await;
    let group = sent[0].group;
    let expected = sent.clone();
    let newest = sent[3].clone();
    let mut notifier = MockNotify::new();
    notifier
        .expect_notify()
        .withf(move |u: &Update| {
            u.group == group && u.messages == expected && u.rows_show.as_ref() == Some(&newest)
        })
        .times(1)
        .return_const(());
    let lone = other[0].clone();
    notifier
        .expect_notify()
        .withf(move |u: &Update| {
            u.group == lone.group && u.messages == [lone.clone()] && u.rows_show.is_none()
        })
        .times(1)
        .return_const(());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(notifier));
    // Out of order, with a duplicate and a modify (which is not new).
    let mut events = inserts(&[&sent[2], &sent[0], &other[0], &sent[3], &sent[1], &sent[2]]);
    events.push(ChangeEvent {
        kind: ChangeKind::Modify,
        ..inserts(&[&sent[1]]).remove(0)
    });
    let outcome = handler.handle(&events).await;
    // The other conversation's rows showed its first message from the start.
    assert_eq!((outcome.moved, outcome.already_current), (1, 1));
    // The mock checks the calls when it is dropped, with the handler.
}

async fn a_replayed_older_message_is_notified_but_moves_no_row(backend: Backend) {
    let repo = backend.repo().await;
    let (_, _, sent) = conversation(&repo, 2).await;
    Handler::new(repo.clone())
        .handle(&inserts(&[&sent[2]]))
        .await;
    // sent[1] (b's) came late: the rows keep sent[2], but a's count takes
    // it in, so the rows changed (their counts) without moving.
    let older = sent[1].clone();
    let mut notifier = MockNotify::new();
    notifier
        .expect_notify()
        .withf(move |u: &Update| {
            u.messages == [older.clone()] && u.rows_show.is_none() && u.changed
        })
        .times(1)
        .return_const(());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(notifier));
    let outcome = handler.handle(&inserts(&[&sent[1]])).await;
    assert_eq!((outcome.moved, outcome.counted), (0, 1));
    // Replayed once more, it changes nothing, and is still notified.
    let older = sent[1].clone();
    let mut notifier = MockNotify::new();
    notifier
        .expect_notify()
        .withf(move |u: &Update| {
            u.messages == [older.clone()] && u.rows_show.is_none() && !u.changed
        })
        .times(1)
        .return_const(());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(notifier));
    let outcome = handler.handle(&inserts(&[&sent[1]])).await;
    assert_eq!(outcome.already_current, 1);
}

/// The frames posted to connection `id`, in order.
fn frames_to(posted: &[(String, Frame)], id: &str) -> Vec<Frame> {
    posted
        .iter()
        .filter(|(c, _)| c == id)
        .map(|(_, f)| f.clone())
        .collect()
}

async fn the_notifier_posts_to_every_connection_of_every_member_and_forgets_gone_ones(
    backend: Backend,
) {
    let repo = backend.repo().await;
    let (a, b, sent) = conversation(&repo, 1).await;
    let stranger = user(&repo, "cy").await;
    let far = i64::MAX / 2;
    for (user, id) in [
        (&a, "a-tab"),
        (&a, "a-phone"),
        (&b, "b-tab"),
        (&b, "b-old"),
        (&stranger, "c-tab"),
    ] {
        repo.add_connection(&Connection {
            user: user.uuid,
            id: id.into(),
            expires_at: far,
        })
        .await
        .unwrap();
    }
    // An expired connection gets nothing.
    repo.add_connection(&Connection {
        user: b.uuid,
        id: "b-expired".into(),
        expires_at: 1,
    })
    .await
    .unwrap();
    let post = Arc::new(Recorder {
        gone: vec!["b-old".into()],
        ..Recorder::default()
    });
    let notifier = ConnectionNotifier::new(repo.clone(), post.clone());
    let newest = sent[1].clone();
    // As the handler does: the rows first, then the frames.
    repo.apply_message(&newest).await.unwrap();
    let written = repo.group(newest.group, a.uuid).await.unwrap();
    let mut rows = Vec::new();
    for member in [&a, &b] {
        let page = repo
            .conversations(member.uuid, &dm_store::PageRequest::default())
            .await
            .unwrap();
        rows.extend(page.items.into_iter().filter(|r| r.group == newest.group));
    }
    notifier
        .notify(&Update {
            group: newest.group,
            members: written.members.clone(),
            group_changed: None,
            gone: Vec::new(),
            rows: rows.clone(),
            messages: vec![newest.clone()],
            rows_show: Some(newest.clone()),
            marks: vec![],
            changed: true,
            edited: Vec::new(),
            deleted: Vec::new(),
        })
        .await;
    let posted = post.posted.lock().unwrap().clone();
    let to = |id: &str| frames_to(&posted, id);
    let message = Frame::message(&newest);
    for (id, member) in [("a-tab", &a), ("a-phone", &a), ("b-tab", &b)] {
        let row = rows.iter().find(|r| r.owner == member.uuid).unwrap();
        assert_eq!(to(id), [message.clone(), Frame::conversation(row)], "{id}");
    }
    // The row names the other member (a sees bo, b sees ana) and counts
    // what its owner has not read: b's message for a, a's first for b.
    let Some(Frame::Conversation { conversation }) = to("b-tab").pop() else {
        panic!("b's row")
    };
    assert_eq!(conversation.handle, a.handle.to_string());
    assert_eq!(conversation.message, newest.text);
    assert_eq!(conversation.unread_count, 1);
    let Some(Frame::Conversation { conversation }) = to("a-tab").pop() else {
        panic!("a's row")
    };
    assert_eq!(conversation.unread_count, 1);
    assert!(to("c-tab").is_empty(), "a stranger gets nothing");
    assert!(to("b-expired").is_empty());
    assert_eq!(posted.len(), 6);
    // The expired connection is closed (its token is over), not posted to.
    assert_eq!(*post.closed.lock().unwrap(), ["b-expired"]);
    // The gone and the expired connections are forgotten; the others are kept.
    let mut left: Vec<String> = repo
        .connections(b.uuid, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    left.sort();
    assert_eq!(left, ["b-tab"]);
}

#[tokio::test]
async fn the_management_api_posts_the_frame_and_reports_a_gone_connection() {
    use aws_sdk_apigatewaymanagement::{
        Client,
        operation::post_to_connection::{PostToConnectionError, PostToConnectionOutput},
        types::error::{ForbiddenException, GoneException},
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    let ok = mock!(Client::post_to_connection)
        .match_requests(move |r| {
            record.lock().unwrap().push((
                r.connection_id().unwrap_or_default().to_owned(),
                String::from_utf8(r.data().map(|d| d.as_ref().to_vec()).unwrap_or_default())
                    .unwrap(),
            ));
            r.connection_id() == Some("open")
        })
        .then_output(|| PostToConnectionOutput::builder().build());
    let gone = mock!(Client::post_to_connection)
        .match_requests(|r| r.connection_id() == Some("closed"))
        .then_error(|| PostToConnectionError::GoneException(GoneException::builder().build()));
    let forbidden = mock!(Client::post_to_connection)
        .match_requests(|r| r.connection_id() == Some("forbidden"))
        .then_error(|| {
            PostToConnectionError::ForbiddenException(ForbiddenException::builder().build())
        });
    let client = mock_client!(
        aws_sdk_apigatewaymanagement,
        RuleMode::MatchAny,
        [&ok, &gone, &forbidden]
    );
    let api = ManagementApi::new(client);
    let frame = Frame::message(&Message {
        id: MessageId::new(),
        group: GroupId::new(),
        created_at: Timestamp::now(),
        text: "hi".into(),
        sender: dm_domain::UserSummary {
            uuid: UserId::new(),
            handle: "ana".into(),
            display_name: "Ana".into(),
        },
        edited_at: None,
        deleted: false,
        members_version: 0,
    })
    .to_json();
    assert_eq!(api.post("open", &frame).await, Ok(()));
    assert_eq!(api.post("closed", &frame).await, Err(PostError::Gone));
    assert!(matches!(
        api.post("forbidden", &frame).await,
        Err(PostError::Failed(_))
    ));
    assert_eq!(ok.num_calls(), 1);
    assert_eq!(gone.num_calls(), 1);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&("open".to_owned(), frame.clone())),
        "{seen:?}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(parsed["type"], "message");
    assert_eq!(parsed["message"]["message"], "hi");
}

#[tokio::test]
async fn the_management_api_closes_a_connection() {
    use aws_sdk_apigatewaymanagement::{
        Client,
        operation::delete_connection::{DeleteConnectionError, DeleteConnectionOutput},
        types::error::GoneException,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let open = mock!(Client::delete_connection)
        .match_requests(|r| r.connection_id() == Some("expired"))
        .then_output(|| DeleteConnectionOutput::builder().build());
    let gone = mock!(Client::delete_connection)
        .match_requests(|r| r.connection_id() == Some("closed"))
        .then_error(|| DeleteConnectionError::GoneException(GoneException::builder().build()));
    let client = mock_client!(
        aws_sdk_apigatewaymanagement,
        RuleMode::MatchAny,
        [&open, &gone]
    );
    let api = ManagementApi::new(client);
    assert_eq!(api.close("expired").await, Ok(()));
    assert_eq!(api.close("closed").await, Err(PostError::Gone));
    assert_eq!((open.num_calls(), gone.num_calls()), (1, 1));
}

/// A read marker's record, as the stream carries a marker moved again.
fn moved_marker(sequence: &str, marker: dm_domain::ReadMarker) -> ChangeEvent {
    modified(sequence, Record::ReadMarker(marker))
}

/// The MODIFY record of an item written again (a marker moved, a message
/// edited or deleted).
fn modified(sequence: &str, record: Record) -> ChangeEvent {
    ChangeEvent {
        sequence: sequence.into(),
        kind: ChangeKind::Modify,
        key: record.key(),
        new_image: Some(record),
        expired: false,
    }
}

/// Records live connections, unexpiring, of users.
async fn connect(repo: &Arc<dyn Repository>, connections: &[(&User, &str)]) {
    for (user, id) in connections {
        repo.add_connection(&Connection {
            user: user.uuid,
            id: (*id).into(),
            expires_at: i64::MAX / 2,
        })
        .await
        .unwrap();
    }
}

async fn a_read_marker_reaches_every_member_and_clears_the_readers_count(backend: Backend) {
    let repo = backend.repo().await;
    let (a, b, sent) = conversation(&repo, 3).await;
    Handler::new(repo.clone())
        .handle(&inserts(&sent.iter().collect::<Vec<_>>()))
        .await;
    connect(&repo, &[(&a, "a-tab"), (&a, "a-phone"), (&b, "b-tab")]).await;
    // a reads up to the newest message, as the API records it.
    let newest = sent.iter().max_by_key(|m| m.reference()).unwrap();
    let group = newest.group;
    repo.mark_read(group, a.uuid, newest.reference())
        .await
        .unwrap();
    let marker = dm_domain::ReadMarker {
        group,
        member: a.uuid,
        through: newest.reference(),
    };
    let post = Arc::new(Recorder::default());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(ConnectionNotifier::new(
        repo.clone(),
        post.clone(),
    )));
    let outcome = handler.handle(&[moved_marker("500", marker)]).await;
    assert_eq!((outcome.counted, outcome.failed_at), (1, None));
    let posted = post.posted.lock().unwrap().clone();
    let to = |id: &str| frames_to(&posted, id);
    // Every connection of both members hears where a has read to ...
    for id in ["a-tab", "a-phone", "b-tab"] {
        assert_eq!(to(id)[0], Frame::read(&marker), "{id}");
    }
    // ... and a's tabs get a's row with nothing unread, b's gets b's row.
    for id in ["a-tab", "a-phone"] {
        let Some(Frame::Conversation { conversation }) = to(id).pop() else {
            panic!("{id}: a's row")
        };
        assert_eq!(
            (conversation.unread_count, conversation.handle.as_str()),
            (0, b.handle.as_str())
        );
    }
    let Some(Frame::Conversation { conversation }) = to("b-tab").pop() else {
        panic!("b's row")
    };
    assert_eq!(conversation.handle, a.handle.to_string());
    // The same record again: nothing changes, so no row frames.
    let again = handler.handle(&[moved_marker("501", marker)]).await;
    assert_eq!(again.already_current, 1);
}

async fn edits_and_deletes_reach_every_member_with_the_rows_they_change(backend: Backend) {
    let repo = backend.repo().await;
    let (a, b, sent) = conversation(&repo, 2).await;
    Handler::new(repo.clone())
        .handle(&inserts(&sent.iter().collect::<Vec<_>>()))
        .await;
    connect(&repo, &[(&a, "a-tab"), (&b, "b-tab")]).await;
    let post = Arc::new(Recorder::default());
    let handler = Handler::new(repo.clone()).with_notifier(Arc::new(ConnectionNotifier::new(
        repo.clone(),
        post.clone(),
    )));
    let lookup = |m: &Message| dm_store::MessageLookup {
        id: m.id,
        sent_at: None,
    };
    // a edits the newest message (a's "message 2"): the rows show it, in place.
    let newest = sent.last().unwrap().clone();
    assert_eq!(newest.sender.uuid, a.uuid);
    let edited = repo
        .edit_message(
            newest.group,
            a.uuid,
            lookup(&newest),
            MessageText::parse("message 2, edited").unwrap(),
            Timestamp::now(),
        )
        .await
        .unwrap();
    let outcome = handler
        .handle(&[modified("600", Record::Message(edited.clone()))])
        .await;
    assert_eq!((outcome.counted, outcome.moved), (1, 0));
    let posted = std::mem::take(&mut *post.posted.lock().unwrap());
    for id in ["a-tab", "b-tab"] {
        let frames = frames_to(&posted, id);
        assert_eq!(frames[0], Frame::edited(&edited), "{id}");
        let Frame::MessageEdited { message, .. } = &frames[0] else {
            unreachable!()
        };
        assert_eq!(message.edited_at, edited.edited_at.map(|t| t.to_string()));
        let Some(Frame::Conversation { conversation }) = frames.get(1) else {
            panic!("{id}: the row, with its new preview")
        };
        assert_eq!(conversation.message, "message 2, edited");
        assert_eq!(
            conversation.created_at,
            newest.created_at.to_string(),
            "in place"
        );
    }
    // An older edit record replayed: the frame repeats, no row changes.
    let outcome = handler
        .handle(&[modified("601", Record::Message(newest.clone()))])
        .await;
    assert_eq!(outcome.already_current, 1);
    let posted = std::mem::take(&mut *post.posted.lock().unwrap());
    assert!(
        posted
            .iter()
            .all(|(_, f)| !matches!(f, Frame::Conversation { .. })),
        "{posted:?}"
    );
    // a deletes it: the rows show b's "message 1", still in place, and b's
    // count no longer has it.
    let tombstone = repo
        .delete_message(newest.group, a.uuid, lookup(&newest))
        .await
        .unwrap();
    let outcome = handler
        .handle(&[modified("602", Record::Message(tombstone))])
        .await;
    assert_eq!(outcome.counted, 1);
    let posted = std::mem::take(&mut *post.posted.lock().unwrap());
    for (id, unread) in [("a-tab", 1), ("b-tab", 1)] {
        let frames = frames_to(&posted, id);
        assert_eq!(
            frames[0],
            Frame::deleted(newest.group, newest.reference()),
            "{id}"
        );
        let Some(Frame::Conversation { conversation }) = frames.get(1) else {
            panic!("{id}: the row, with its new preview")
        };
        assert_eq!(conversation.message, "message 1");
        assert_eq!(
            conversation.created_at,
            newest.created_at.to_string(),
            "in place"
        );
        assert_eq!(conversation.unread_count, unread, "{id}");
    }
    let json = Frame::deleted(newest.group, newest.reference()).to_json();
    assert!(json.starts_with(r#"{"type":"message_deleted""#), "{json}");
    let json = Frame::edited(&edited).to_json();
    assert!(json.starts_with(r#"{"type":"message_edited""#), "{json}");
}
