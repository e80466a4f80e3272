use std::collections::HashMap;

use dm_domain::{
    Conversation, DisplayName, Group, GroupId, GroupKind, GroupName, Handle, ItemKey, Member,
    Message, MessageId, MessageRef, ReadMarker, Timestamp, User, UserId, UserSummary,
};
use serde_dynamo::Item;

use super::*;

fn summary(handle: &str) -> UserSummary {
    UserSummary {
        uuid: UserId::new(),
        handle: handle.into(),
        display_name: format!("{handle} name"),
    }
}

/// `item` as the SDK hands it over (GetItem, Query).
fn sdk(item: &Item) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    item.clone().into()
}

/// Decodes `item` from its attribute map and as the SDK holds it, which must agree.
fn decode_both(item: Item) -> StoreResult<Record> {
    let from_sdk = Record::from_item(sdk(&item));
    let from_map = Record::from_item(item);
    assert_eq!(format!("{from_sdk:?}"), format!("{from_map:?}"));
    from_map
}

proptest::proptest! {
    #[test]
    fn any_text_reads_the_same_through_the_sdk(
        text in proptest::prelude::any::<String>(),
        handle in proptest::prelude::any::<String>(),
    ) {
        check_round_trip(Record::Message(Message {
            id: MessageId::new(),
            group: GroupId::new(),
            created_at: Timestamp::now(),
            text,
            sender: UserSummary {
                uuid: UserId::new(),
                handle,
                display_name: "Any One".into(),
            },
            edited_at: None,
            deleted: false,
            members_version: 0,
        }));
    }
}

fn check_round_trip(record: Record) {
    let item = record.to_item();
    let map: &HashMap<String, AttributeValue> = item.as_ref();
    assert_eq!(
        map.get(ENTITY),
        Some(&AttributeValue::S(record.entity().into()))
    );
    // As the SDK holds it, it decodes the same.
    assert_eq!(
        Record::from_item_with_key(sdk(&item)).unwrap(),
        Record::from_item_with_key(item.clone()).unwrap()
    );
    assert_eq!(Record::from_item(item).unwrap(), record);
}

#[test]
fn every_record_round_trips() {
    let (a, b) = (summary("a"), summary("b"));
    let group = GroupId::new();
    let last = MessageRef {
        at: Timestamp::now(),
        id: MessageId::new(),
    };
    let message = Message {
        id: last.id,
        group,
        created_at: last.at,
        text: "hi 🦀".into(),
        sender: a.clone(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    };
    check_round_trip(Record::Message(message.clone()));
    let g = Group::direct(group, a.clone(), b.clone(), last.at);
    check_round_trip(Record::Group(g.clone()));
    let [row, other] = <[Conversation; 2]>::try_from(g.first_rows(&message)).unwrap();
    check_round_trip(Record::Conversation(other));
    // The preview: none left, the last message (no attribute), an older one;
    // a read marker and counts applied.
    let older = MessageRef {
        at: last.at.plus(chrono::TimeDelta::seconds(-5)),
        id: MessageId::new(),
    };
    for (shown, edited) in [
        (None, None),
        (Some(last), None),
        (Some(older), Some(last.at)),
    ] {
        let row = dm_domain::Conversation {
            shown,
            shown_edited_at: edited,
            read_through: Some(older),
            unread: 100,
            version: 7,
            ..row.clone()
        };
        let item = Record::Conversation(row.clone()).to_item();
        assert_eq!(item.contains_key("preview"), shown != Some(last));
        check_round_trip(Record::Conversation(row));
    }
    check_round_trip(Record::ReadMarker(ReadMarker {
        group,
        member: a.uuid,
        through: last,
    }));
    let (low, high) = if a.uuid < b.uuid {
        (a.uuid, b.uuid)
    } else {
        (b.uuid, a.uuid)
    };
    check_round_trip(Record::DmPair { low, high, group });
    check_round_trip(Record::User(User {
        uuid: a.uuid,
        handle: Handle::parse("Andrew").unwrap(),
        display_name: DisplayName::parse("Andrew Brown").unwrap(),
        cognito_user_id: Some("sub-1".into()),
    }));
    check_round_trip(Record::HandleClaim {
        handle: "andrew".into(),
        user: a.uuid,
    });
    check_round_trip(Record::CognitoClaim {
        sub: "sub-1".into(),
        user: a.uuid,
    });
}

#[test]
fn group_items_stay_out_of_the_sparse_index() {
    let (a, b) = (summary("a"), summary("b"));
    let last = MessageRef {
        at: Timestamp::now(),
        id: MessageId::new(),
    };
    let g = Group::direct(GroupId::new(), a, b, last.at);
    let item = Record::Group(g.clone()).to_item();
    assert!(!item.as_ref().contains_key("message_group_uuid"));
    let msg = Record::Message(Message {
        id: last.id,
        group: g.id,
        created_at: last.at,
        text: "x".into(),
        sender: g.members[0].user.clone(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    });
    assert!(!msg.to_item().as_ref().contains_key("message_group_uuid"));
    // Rows written here are keyed by their conversation and stay out of the
    // index too; only a row written the seed's way carries it.
    let Record::Message(first) = &msg else {
        unreachable!()
    };
    let row = g.first_rows(first).swap_remove(0);
    assert!(
        !Record::Conversation(row.clone())
            .to_item()
            .as_ref()
            .contains_key("message_group_uuid")
    );
    let seeds = Record::Conversation(dm_domain::Conversation {
        last_message_id: None,
        ..row.clone()
    });
    assert!(seeds.to_item().as_ref().contains_key("message_group_uuid"));
    // Both read back whole.
    check_round_trip(Record::Conversation(row));
    check_round_trip(seeds);
}

fn seed_item(fields: &[(&str, &str)]) -> Item {
    let map: HashMap<String, AttributeValue> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned())))
        .collect();
    Item::from(map)
}

#[test]
fn seed_items_decode() {
    let group = "5ae290ed-55d1-47a0-bc6d-fe2bc2700399";
    let user = "0a5f8c4b-0000-4000-8000-000000000001";
    let msg_id = "11111111-2222-4333-8444-555555555555";
    let at = "2023-03-20T22:52:11.123456+00:00";
    let msg = decode_both(seed_item(&[
        ("pk", &format!("MSG#{group}")),
        ("sk", at),
        ("message_uuid", msg_id),
        ("message", "Are you ready?"),
        ("user_uuid", user),
        ("user_display_name", "Andrew Brown"),
        ("user_handle", "andrewbrown"),
    ]))
    .unwrap();
    let Record::Message(m) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(
        (
            m.id.to_string(),
            m.group.to_string(),
            m.created_at.to_string()
        ),
        (msg_id.into(), group.into(), at.into())
    );
    assert_eq!(m.sender.handle, "andrewbrown");

    let row = decode_both(seed_item(&[
        ("pk", &format!("GRP#{user}")),
        ("sk", "2023-03-20T22:52:11+00:00"),
        ("message_group_uuid", group),
        ("message", "Are you ready?"),
        ("user_uuid", "0a5f8c4b-0000-4000-8000-000000000002"),
        ("user_display_name", "Andrew Bayko"),
        ("user_handle", "bayko"),
    ]))
    .unwrap();
    let Record::Conversation(c) = row else {
        panic!("{row:?}")
    };
    assert_eq!(c.group.to_string(), group);
    assert_eq!(c.last_message_id, None);
    assert_eq!(
        c.last_message_at.to_string(),
        "2023-03-20T22:52:11.000000+00:00"
    );
    assert_eq!(c.other.handle, "bayko");
}

#[test]
fn broken_items_are_decode_errors_not_panics() {
    let group = GroupId::new();
    for fields in [
        vec![],
        vec![("pk", "nope"), ("sk", "x")],
        vec![
            ("pk", &format!("MSG#{group}") as &str),
            ("sk", "2023-03-20T22:52:11Z"),
        ],
        vec![
            ("pk", &format!("GROUP#{group}")),
            ("sk", "META"),
            ("entity", "group"),
        ],
    ] {
        let item = seed_item(&fields);
        assert!(
            matches!(Record::from_item(sdk(&item)), Err(StoreError::Decode(_))),
            "{fields:?}"
        );
        assert!(
            matches!(Record::from_item(item), Err(StoreError::Decode(_))),
            "{fields:?}"
        );
    }
}

#[test]
fn a_named_group_and_its_rows_round_trip() {
    let members: Vec<UserSummary> = ["ann", "bob", "cy"].into_iter().map(summary).collect();
    let created = Timestamp::now();
    let g = Group {
        id: GroupId::new(),
        kind: GroupKind::Named {
            name: GroupName::parse("  Babylon 5 council ").unwrap(),
            owner: members[0].uuid,
        },
        members: members.iter().cloned().map(Member::founding).collect(),
        created_at: created,
        version: 3,
        removed: Vec::new(),
    };
    check_round_trip(Record::Group(g.clone()));
    let item = Record::Group(g.clone()).to_item();
    assert_eq!(
        item.as_ref().get("name"),
        Some(&AttributeValue::S("Babylon 5 council".into()))
    );
    // A one-to-one conversation's item carries none of it, as before.
    let direct = Record::Group(Group::direct(
        g.id,
        members[0].clone(),
        members[1].clone(),
        created,
    ));
    for attribute in ["name", "owner_uuid", "members_version"] {
        assert!(
            !direct.to_item().as_ref().contains_key(attribute),
            "{attribute}"
        );
    }
    // A row names the sender of what it shows, and the group's name and size.
    let message = Message {
        id: MessageId::new(),
        group: g.id,
        created_at: created,
        text: "hello, council".into(),
        sender: members[1].clone(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    };
    let rows = g.first_rows(&message);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.other, members[1]);
        assert_eq!(row.topic.as_ref().map(|t| t.members_count), Some(3));
        check_round_trip(Record::Conversation(row.clone()));
    }
    // Before its first message a group's row stands at its creation, keyed by
    // the group and listed (it carries `recency`), unlike a seed's row.
    let waiting = Conversation {
        last_message_id: None,
        shown: None,
        preview: String::new(),
        unread: 0,
        ..rows[0].clone()
    };
    let key = Record::Conversation(waiting.clone()).key();
    assert!(matches!(key, ItemKey::Row { .. }), "{key:?}");
    let item = Record::Conversation(waiting.clone()).to_item();
    assert!(item.as_ref().contains_key("recency"));
    assert!(!item.as_ref().contains_key("message_group_uuid"));
    check_round_trip(Record::Conversation(waiting));
}
