//! Items of the single table, typed: what is stored, what a change carries.
//!
//! [`Record`] is the one decoded form of an item, whichever way it arrived: a
//! DynamoDB read, a stream record (Lambda or the streams API), or the memory
//! repository. Every item this crate writes carries an `entity` attribute;
//! items without one (written by the seed's Python) are recognised by their
//! key prefix.
//!
//! Attribute names follow the seed, so the Cruddur tables and tools keep
//! working: `message_uuid`, `message`, `user_uuid`, `user_handle`,
//! `user_display_name`, `message_group_uuid` (only on conversation rows, which
//! keeps the `message-group-sk-index` sparse).

use std::{borrow::Cow, collections::HashMap};

use dm_domain::{
    Conversation, DisplayName, Group, GroupId, Handle, ItemKey, Message, MessageId, MessageRef,
    ReadMarker, ReadState, Timestamp, User, UserId, UserSummary,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_dynamo::{AttributeValue, Item};

use crate::{StoreError, StoreResult};

/// The attribute naming an item's kind.
pub const ENTITY: &str = "entity";

/// One item of the table, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A message.
    Message(Message),
    /// A member's conversation row.
    Conversation(Conversation),
    /// A conversation's own item: members and the newest message applied.
    Group(Group),
    /// The claim that makes one conversation per pair of users.
    DmPair {
        /// The smaller user id.
        low: UserId,
        /// The larger user id.
        high: UserId,
        /// Their conversation.
        group: GroupId,
    },
    /// A user profile.
    User(User),
    /// A handle claim.
    HandleClaim {
        /// The lowercased handle.
        handle: String,
        /// Its owner.
        user: UserId,
    },
    /// A Cognito subject claim.
    CognitoClaim {
        /// The subject.
        sub: String,
        /// Its owner.
        user: UserId,
    },
    /// An idempotency key's claim on the message it sent.
    Idempotency(dm_domain::IdempotencyClaim),
    /// A user's live connection.
    Connection(dm_domain::Connection),
    /// A member's read marker, as the API recorded it.
    ReadMarker(ReadMarker),
}

impl Record {
    /// The item's key.
    pub fn key(&self) -> ItemKey {
        match self {
            Self::Message(m) => ItemKey::message(m.group, m.reference()),
            Self::Conversation(c) => ItemKey::Conversation {
                owner: c.owner,
                at: c.last_message_at,
                // Rows the seed wrote have no message id and no group suffix.
                group: c.last_message_id.map(|_| c.group),
            },
            Self::Group(g) => ItemKey::Group(g.id),
            Self::DmPair { low, high, .. } => ItemKey::DmPair(*low, *high),
            Self::User(u) => ItemKey::User(u.uuid),
            Self::HandleClaim { handle, .. } => ItemKey::Handle(handle.clone()),
            Self::CognitoClaim { sub, .. } => ItemKey::Cognito(sub.clone()),
            Self::Idempotency(c) => ItemKey::Idempotency(c.user, c.key.clone()),
            Self::Connection(c) => ItemKey::Connection(c.user, c.id.clone()),
            Self::ReadMarker(r) => ItemKey::ReadMarker(r.group, r.member),
        }
    }

    /// The name of its kind, as in the `entity` attribute.
    pub fn entity(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Conversation(_) => "conversation",
            Self::Group(_) => "group",
            Self::DmPair { .. } => "dm_pair",
            Self::User(_) => "user",
            Self::HandleClaim { .. } => "handle",
            Self::CognitoClaim { .. } => "cognito",
            Self::Idempotency(_) => "idempotency",
            Self::Connection(_) => "connection",
            Self::ReadMarker(_) => "read_marker",
        }
    }

    /// Encodes the record as a DynamoDB item.
    pub fn to_item(&self) -> Item {
        let key = self.key();
        let (pk, sk) = (key.pk(), key.sk());
        let entity = self.entity();
        let encoded = match self {
            Self::Message(m) => serde_dynamo::to_item(MessageItem {
                pk,
                sk,
                entity: Some(entity.into()),
                message_uuid: Some(m.id),
                message: m.text.clone(),
                created_at: Some(m.created_at),
                user_uuid: m.sender.uuid,
                user_handle: m.sender.handle.clone(),
                user_display_name: m.sender.display_name.clone(),
                edited_at: m.edited_at,
                deleted: m.deleted.then_some(true),
            }),
            Self::Conversation(c) => serde_dynamo::to_item(ConversationItem {
                pk,
                sk,
                entity: Some(entity.into()),
                message_group_uuid: c.group,
                message: c.last_message.clone(),
                last_message_uuid: c.last_message_id,
                last_message_at: Some(c.last_message_at),
                user_uuid: c.other.uuid,
                user_handle: c.other.handle.clone(),
                user_display_name: c.other.display_name.clone(),
                unread_count: Some(c.unread),
            }),
            Self::Group(g) => serde_dynamo::to_item(GroupItem {
                pk,
                sk,
                entity: entity.into(),
                group_uuid: g.id,
                members: g
                    .members
                    .iter()
                    .zip(&g.reads)
                    .map(|(member, read)| MemberItem::new(member, read))
                    .collect(),
                version: g.version,
                created_at: g.created_at,
                last_message_at: g.last.at,
                last_message_uuid: g.last.id,
                // Only when it is not the last message (after an edit or a
                // delete): the group item a send rewrites stays its size.
                preview: (g.shown != Some(g.last))
                    .then(|| g.shown.map(|r| r.sort_key()).unwrap_or_default()),
                preview_edited_at: g.shown_edited_at,
                message: g.last_message.clone(),
            }),
            Self::DmPair { group, .. } => serde_dynamo::to_item(ClaimItem {
                pk,
                sk,
                entity: entity.into(),
                group_uuid: Some(*group),
                user_uuid: None,
            }),
            Self::User(u) => serde_dynamo::to_item(UserItem {
                pk,
                sk,
                entity: entity.into(),
                user_uuid: u.uuid,
                handle: u.handle.to_string(),
                display_name: u.display_name.to_string(),
                cognito_user_id: u.cognito_user_id.clone(),
            }),
            Self::Idempotency(c) => serde_dynamo::to_item(IdempotencyItem {
                pk,
                sk,
                entity: entity.into(),
                message_uuid: c.message,
                created_at: c.at,
                request: c.request.clone(),
                expires_at: c.expires_at,
            }),
            Self::Connection(c) => serde_dynamo::to_item(ConnectionItem {
                pk,
                sk,
                entity: entity.into(),
                expires_at: c.expires_at,
            }),
            Self::ReadMarker(r) => serde_dynamo::to_item(ReadMarkerItem {
                pk,
                sk,
                entity: entity.into(),
                read_through: r.through.sort_key(),
            }),
            Self::HandleClaim { user, .. } | Self::CognitoClaim { user, .. } => {
                serde_dynamo::to_item(ClaimItem {
                    pk,
                    sk,
                    entity: entity.into(),
                    group_uuid: None,
                    user_uuid: Some(*user),
                })
            }
        };
        // Every field above is a string, a uuid or a list of maps of those:
        // serialisation cannot fail.
        encoded.unwrap_or_else(|e| unreachable!("item encoding failed: {e}"))
    }

    /// Decodes an item.
    pub fn from_item(item: impl Into<Item>) -> StoreResult<Self> {
        Self::from_item_with_key(item).map(|(_, record)| record)
    }

    /// Decodes an item and the key it is stored under, which differs from
    /// [`Record::key`] for the seed's items (their sort keys lack the uuid).
    pub fn from_item_with_key(item: impl Into<Item>) -> StoreResult<(ItemKey, Self)> {
        Self::decode(item.into())
    }

    fn decode<'a>(item: impl Source<'a>) -> StoreResult<(ItemKey, Self)> {
        let (pk, sk) = item.keys()?;
        let (pk, sk) = (pk.as_ref(), sk.as_ref());
        let key = ItemKey::decode(pk, sk).map_err(|e| StoreError::Decode(e.to_string()))?;
        let bad = |e: String| StoreError::Decode(format!("{pk} / {sk}: {e}"));
        let record = match key.clone() {
            ItemKey::Message { group, at, id } => {
                let m: MessageItem = item.read().map_err(bad)?;
                Self::Message(Message {
                    // The seed's messages keep their uuid only in `message_uuid`.
                    id: m.message_uuid.or(id).ok_or_else(|| {
                        StoreError::Decode(format!("{pk} / {sk}: message without a uuid"))
                    })?,
                    group,
                    created_at: m.created_at.unwrap_or(at),
                    text: m.message,
                    sender: UserSummary {
                        uuid: m.user_uuid,
                        handle: m.user_handle,
                        display_name: m.user_display_name,
                    },
                    edited_at: m.edited_at,
                    deleted: m.deleted.unwrap_or(false),
                })
            }
            ItemKey::Conversation { owner, at, .. } => {
                let c: ConversationItem = item.read().map_err(bad)?;
                Self::Conversation(Conversation {
                    group: c.message_group_uuid,
                    owner,
                    other: UserSummary {
                        uuid: c.user_uuid,
                        handle: c.user_handle,
                        display_name: c.user_display_name,
                    },
                    last_message: c.message,
                    last_message_id: c.last_message_uuid,
                    last_message_at: c.last_message_at.unwrap_or(at),
                    unread: c.unread_count.unwrap_or(0),
                })
            }
            ItemKey::Group(id) => {
                let g: GroupItem = item.read().map_err(bad)?;
                let (members, reads): (Vec<UserSummary>, Vec<ReadState>) = g
                    .members
                    .into_iter()
                    .map(|m| m.decode())
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(bad)?
                    .into_iter()
                    .unzip();
                let two = || StoreError::Decode(format!("{pk}: a group has two members"));
                let last = MessageRef {
                    at: g.last_message_at,
                    id: g.last_message_uuid,
                };
                // Absent: the preview is the last message.
                let shown = match g.preview.as_deref() {
                    None => Some(last),
                    Some("") => None,
                    Some(sk) => Some(parse_ref(sk).map_err(bad)?),
                };
                Self::Group(Group {
                    id,
                    members: members.try_into().map_err(|_| two())?,
                    reads: reads.try_into().map_err(|_| two())?,
                    version: g.version,
                    created_at: g.created_at,
                    last,
                    shown,
                    shown_edited_at: g.preview_edited_at,
                    last_message: g.message,
                })
            }
            ItemKey::DmPair(low, high) => {
                let c: ClaimItem = item.read().map_err(bad)?;
                Self::DmPair {
                    low,
                    high,
                    group: c
                        .group_uuid
                        .ok_or_else(|| StoreError::Decode(format!("{pk}: no group_uuid")))?,
                }
            }
            ItemKey::User(uuid) => {
                let u: UserItem = item.read().map_err(bad)?;
                let invalid =
                    |e: dm_domain::ValidationError| StoreError::Decode(format!("{pk}: {e}"));
                Self::User(User {
                    uuid,
                    handle: Handle::parse(&u.handle).map_err(invalid)?,
                    display_name: DisplayName::parse(&u.display_name).map_err(invalid)?,
                    cognito_user_id: u.cognito_user_id,
                })
            }
            ItemKey::Handle(handle) => Self::HandleClaim {
                handle,
                user: claim_user(item, pk, bad)?,
            },
            ItemKey::Cognito(sub) => Self::CognitoClaim {
                sub,
                user: claim_user(item, pk, bad)?,
            },
            ItemKey::Connection(user, id) => {
                let c: ConnectionItem = item.read().map_err(bad)?;
                Self::Connection(dm_domain::Connection {
                    user,
                    id,
                    expires_at: c.expires_at,
                })
            }
            ItemKey::ReadMarker(group, member) => {
                let r: ReadMarkerItem = item.read().map_err(bad)?;
                Self::ReadMarker(ReadMarker {
                    group,
                    member,
                    through: parse_ref(&r.read_through).map_err(bad)?,
                })
            }
            ItemKey::Idempotency(user, key) => {
                let i: IdempotencyItem = item.read().map_err(bad)?;
                Self::Idempotency(dm_domain::IdempotencyClaim {
                    user,
                    key,
                    message: i.message_uuid,
                    at: i.created_at,
                    request: i.request,
                    expires_at: i.expires_at,
                })
            }
        };
        Ok((key, record))
    }
}

/// A message reference from its sort key form, `{created_at}#{id}`.
fn parse_ref(sort_key: &str) -> Result<MessageRef, String> {
    let bad = || format!("`{sort_key}` is not a message's place");
    let (at, id) = sort_key.split_once('#').ok_or_else(bad)?;
    Ok(MessageRef {
        at: at.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

fn claim_user<'a>(
    item: impl Source<'a>,
    pk: &str,
    bad: impl FnOnce(String) -> StoreError,
) -> StoreResult<UserId> {
    let c: ClaimItem = item.read().map_err(bad)?;
    c.user_uuid
        .ok_or_else(|| StoreError::Decode(format!("{pk}: claim without user_uuid")))
}

/// An item as it was read.
trait Source<'a> {
    /// Its `pk` and `sk` (empty when missing, which the key decoder refuses).
    fn keys(&self) -> StoreResult<(Cow<'a, str>, Cow<'a, str>)>;
    /// The whole item as `T`.
    fn read<T: DeserializeOwned>(self) -> Result<T, String>;
}

impl Source<'static> for Item {
    fn keys(&self) -> StoreResult<(Cow<'static, str>, Cow<'static, str>)> {
        let map: &HashMap<String, AttributeValue> = self.as_ref();
        let text = |name: &str| match map.get(name) {
            Some(AttributeValue::S(s)) => Cow::Owned(s.clone()),
            _ => Cow::Borrowed(""),
        };
        Ok((text("pk"), text("sk")))
    }

    fn read<T: DeserializeOwned>(self) -> Result<T, String> {
        serde_dynamo::from_item(self).map_err(|e| e.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct MessageItem {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    entity: Option<String>,
    #[serde(default)]
    message_uuid: Option<MessageId>,
    message: String,
    #[serde(default)]
    created_at: Option<Timestamp>,
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// When its author last edited it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    edited_at: Option<Timestamp>,
    /// `true` on a tombstone; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    deleted: Option<bool>,
}

#[derive(Serialize, Deserialize)]
struct ConversationItem {
    pk: String,
    sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    entity: Option<String>,
    message_group_uuid: GroupId,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    last_message_uuid: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    last_message_at: Option<Timestamp>,
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// The owner's unread count; absent on rows written before read state.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    unread_count: Option<u32>,
}

/// A member of a group item, with their read state.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    user_uuid: UserId,
    user_handle: String,
    user_display_name: String,
    /// The sort key of the newest message they marked read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    read_through: Option<String>,
    /// Their unread count; absent when never counted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    unread_count: Option<u32>,
}

impl MemberItem {
    fn new(u: &UserSummary, read: &ReadState) -> Self {
        Self {
            user_uuid: u.uuid,
            user_handle: u.handle.clone(),
            user_display_name: u.display_name.clone(),
            read_through: read.through.map(|r| r.sort_key()),
            unread_count: read.unread,
        }
    }

    fn decode(self) -> Result<(UserSummary, ReadState), String> {
        let read = ReadState {
            through: self.read_through.as_deref().map(parse_ref).transpose()?,
            unread: self.unread_count,
        };
        let member = UserSummary {
            uuid: self.user_uuid,
            handle: self.user_handle,
            display_name: self.user_display_name,
        };
        Ok((member, read))
    }
}

/// A group's own item. Its id is `group_uuid`, not `message_group_uuid`, so
/// that it stays out of the sparse `message-group-sk-index`.
#[derive(Serialize, Deserialize)]
struct GroupItem {
    pk: String,
    sk: String,
    entity: String,
    group_uuid: GroupId,
    members: Vec<MemberItem>,
    /// Absent on items written before it existed: version 0.
    #[serde(default)]
    version: u64,
    created_at: Timestamp,
    last_message_at: Timestamp,
    last_message_uuid: MessageId,
    /// The sort key of the message the preview shows, empty when none
    /// remains; absent when it is the last message (and on items written
    /// before edits).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview: Option<String>,
    /// When that message was last edited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    preview_edited_at: Option<Timestamp>,
    message: String,
}

#[derive(Serialize, Deserialize)]
struct UserItem {
    pk: String,
    sk: String,
    entity: String,
    user_uuid: UserId,
    handle: String,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    cognito_user_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    pk: String,
    sk: String,
    entity: String,
    message_uuid: MessageId,
    created_at: Timestamp,
    request: String,
    /// Epoch seconds; the table's time-to-live attribute.
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    entity: String,
    /// Epoch seconds; the table's time-to-live attribute.
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct ReadMarkerItem {
    pk: String,
    sk: String,
    entity: String,
    /// The sort key of the newest message the member has seen; conditions
    /// compare it as a string, which orders as the messages do.
    read_through: String,
}

#[derive(Serialize, Deserialize)]
struct ClaimItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    group_uuid: Option<GroupId>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    user_uuid: Option<UserId>,
}

#[cfg(test)]
mod tests {
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
        };
        check_round_trip(Record::Message(message));
        let g = Group {
            id: group,
            members: [a.clone(), b.clone()],
            created_at: last.at,
            last,
            last_message: "hi".into(),
            reads: [
                dm_domain::ReadState {
                    through: Some(last),
                    unread: Some(0),
                },
                dm_domain::ReadState {
                    through: None,
                    unread: Some(100),
                },
            ],
            version: 7,
            shown: None,
            shown_edited_at: None,
        };
        for row in g.rows() {
            check_round_trip(Record::Conversation(row));
        }
        // The preview: none left, the last message (no attribute), an older one.
        let older = MessageRef {
            at: last.at.plus(chrono::TimeDelta::seconds(-5)),
            id: MessageId::new(),
        };
        for (shown, edited) in [
            (None, None),
            (Some(last), None),
            (Some(older), Some(last.at)),
        ] {
            let g = Group {
                shown,
                shown_edited_at: edited,
                ..g.clone()
            };
            let item = Record::Group(g.clone()).to_item();
            assert_eq!(item.contains_key("preview"), shown != Some(last));
            check_round_trip(Record::Group(g));
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
        let g = Group {
            id: GroupId::new(),
            members: [a, b],
            created_at: last.at,
            last,
            last_message: "x".into(),
            reads: Default::default(),
            version: 0,
            shown: None,
            shown_edited_at: None,
        };
        let item = Record::Group(g.clone()).to_item();
        assert!(!item.as_ref().contains_key("message_group_uuid"));
        let msg = Record::Message(Message {
            id: last.id,
            group: g.id,
            created_at: last.at,
            text: "x".into(),
            sender: g.members[0].clone(),
            edited_at: None,
            deleted: false,
        });
        assert!(!msg.to_item().as_ref().contains_key("message_group_uuid"));
        let [row, _] = g.rows();
        assert!(
            Record::Conversation(row)
                .to_item()
                .as_ref()
                .contains_key("message_group_uuid")
        );
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
}
