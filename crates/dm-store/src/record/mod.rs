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
//! `user_display_name`, `message_group_uuid` (only on the seed's conversation
//! rows, which keeps the `message-group-sk-index` sparse: see
//! `conversation.rs`).

//!
//! One file per entity holds its item's attribute layout and its
//! conversions; this one holds [`Record`] and the short dispatch between
//! them.

mod claim;
mod connection;
mod conversation;
mod group;
mod idempotency;
mod message;
mod read_marker;
#[cfg(test)]
mod tests;
mod user;

use std::{borrow::Cow, collections::HashMap, fmt::Display};

use dm_domain::{
    Conversation, Group, GroupId, ItemKey, Message, MessageRef, ReadMarker, User, UserId,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_dynamo::{AttributeValue, Item};

use self::{
    claim::ClaimItem, connection::ConnectionItem, conversation::ConversationItem, group::GroupItem,
    idempotency::IdempotencyItem, message::MessageItem, read_marker::ReadMarkerItem,
    user::UserItem,
};
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
    /// A conversation's own item: its members.
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
            // Rows the seed wrote (no message id) stay where the seed put them.
            Self::Conversation(c) if c.is_seed_form() => ItemKey::Conversation {
                owner: c.owner,
                at: c.last_message_at,
                group: None,
            },
            Self::Conversation(c) => ItemKey::Row {
                owner: c.owner,
                group: c.group,
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

    /// The error of this item found where an item of another kind was
    /// expected.
    pub(crate) fn unexpected(&self) -> StoreError {
        StoreError::Decode(format!(
            "unexpected {} item at {}",
            self.entity(),
            self.key()
        ))
    }

    /// Encodes the record as a DynamoDB item.
    pub fn to_item(&self) -> Item {
        let key = self.key();
        let (pk, sk) = (key.pk(), key.sk());
        let entity = self.entity();
        match self {
            Self::Message(m) => encode(MessageItem::new(m, pk, sk, entity)),
            Self::Conversation(c) => encode(ConversationItem::new(c, pk, sk, entity)),
            Self::Group(g) => encode(GroupItem::new(g, pk, sk, entity)),
            Self::DmPair { group, .. } => encode(ClaimItem::of_group(*group, pk, sk, entity)),
            Self::User(u) => encode(UserItem::new(u, pk, sk, entity)),
            Self::Idempotency(c) => encode(IdempotencyItem::new(c, pk, sk, entity)),
            Self::Connection(c) => encode(ConnectionItem::new(c, pk, sk, entity)),
            Self::ReadMarker(r) => encode(ReadMarkerItem::new(r, pk, sk, entity)),
            Self::HandleClaim { user, .. } | Self::CognitoClaim { user, .. } => {
                encode(ClaimItem::of_user(*user, pk, sk, entity))
            }
        }
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
        let place = At {
            pk: pk.as_ref(),
            sk: sk.as_ref(),
        };
        let key =
            ItemKey::decode(place.pk, place.sk).map_err(|e| StoreError::Decode(e.to_string()))?;
        let record = match key.clone() {
            ItemKey::Message { group, at, id } => {
                Self::Message(read::<MessageItem>(item, place)?.decode(group, at, id, place)?)
            }
            ItemKey::Conversation { owner, at, group } => Self::Conversation(
                read::<ConversationItem>(item, place)?.decode(owner, Some(at), group, place)?,
            ),
            ItemKey::Row { owner, group } => Self::Conversation(
                read::<ConversationItem>(item, place)?.decode(owner, None, Some(group), place)?,
            ),
            ItemKey::Group(id) => Self::Group(read::<GroupItem>(item, place)?.decode(id, place)?),
            ItemKey::DmPair(low, high) => Self::DmPair {
                low,
                high,
                group: read::<ClaimItem>(item, place)?.group(place)?,
            },
            ItemKey::User(uuid) => Self::User(read::<UserItem>(item, place)?.decode(uuid, place)?),
            ItemKey::Handle(handle) => Self::HandleClaim {
                handle,
                user: read::<ClaimItem>(item, place)?.user(place)?,
            },
            ItemKey::Cognito(sub) => Self::CognitoClaim {
                sub,
                user: read::<ClaimItem>(item, place)?.user(place)?,
            },
            ItemKey::Connection(user, id) => {
                Self::Connection(read::<ConnectionItem>(item, place)?.decode(user, id))
            }
            ItemKey::ReadMarker(group, member) => {
                Self::ReadMarker(read::<ReadMarkerItem>(item, place)?.decode(group, member, place)?)
            }
            ItemKey::Idempotency(user, key) => {
                Self::Idempotency(read::<IdempotencyItem>(item, place)?.decode(user, key))
            }
            ItemKey::Stored { .. } => return Err(place.error("not a key this table holds")),
        };
        Ok((key, record))
    }
}

/// An entity's item as attributes.
fn encode(item: impl Serialize) -> Item {
    // Every field of every item is a string, a number, a uuid or a list of
    // maps of those: serialisation cannot fail.
    serde_dynamo::to_item(item).unwrap_or_else(|e| unreachable!("item encoding failed: {e}"))
}

/// The whole item as an entity's item.
fn read<'a, T: DeserializeOwned>(item: impl Source<'a>, place: At<'_>) -> StoreResult<T> {
    item.read().map_err(|e| place.error(e))
}

/// Where an item being decoded is stored, for its errors.
#[derive(Debug, Clone, Copy)]
struct At<'a> {
    pk: &'a str,
    sk: &'a str,
}

impl At<'_> {
    /// A decode error naming the item's keys.
    fn error(self, e: impl Display) -> StoreError {
        StoreError::Decode(format!("{} / {}: {e}", self.pk, self.sk))
    }

    /// A decode error naming the item's partition, for items one per partition.
    fn error_in_partition(self, e: impl Display) -> StoreError {
        StoreError::Decode(format!("{}: {e}", self.pk))
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
