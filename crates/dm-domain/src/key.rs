//! The key codec: every partition and sort key of the single table.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | message | `MSG#{group}` | `{created_at}#{message}` |
//! | conversation row | `GRP#{owner}` | `{last_message_at}#{group}` |
//! | group | `GROUP#{group}` | `META` |
//! | DM pair | `DM#{smaller user}#{larger user}` | `DM` |
//! | user | `USER#{user}` | `PROFILE` |
//! | handle claim | `HANDLE#{lowercased handle}` | `HANDLE` |
//! | cognito claim | `COGNITO#{sub}` | `COGNITO` |
//! | idempotency claim | `IDEMP#{user}#{key}` | `IDEMP` |
//! | live connection | `WS#{user}` | `{connection id}` |
//! | read marker | `READ#{group}` | `{member}` |
//!
//! Decoding is tolerant of the seed's items, whose message and conversation
//! sort keys are a bare timestamp: those decode with `id` / `group` `None`.

use std::fmt;

use crate::{GroupId, MessageId, MessageRef, Timestamp, UserId};

/// The sort key of group items.
pub const GROUP_SK: &str = "META";
/// The sort key of DM pair items.
pub const DM_SK: &str = "DM";
/// The sort key of user items.
pub const USER_SK: &str = "PROFILE";
/// The sort key of handle claims.
pub const HANDLE_SK: &str = "HANDLE";
/// The sort key of cognito claims.
pub const COGNITO_SK: &str = "COGNITO";
/// The sort key of idempotency claims.
pub const IDEMPOTENCY_SK: &str = "IDEMP";

/// A key that is not one of this table's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a key of this table: pk `{pk}`, sk `{sk}`")]
pub struct KeyError {
    /// The partition key, cut to a readable length.
    pub pk: String,
    /// The sort key, cut to a readable length.
    pub sk: String,
}

/// A partition that is read as a list, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// The messages of a conversation (`MSG#{group}`).
    Messages(GroupId),
    /// A user's conversation rows (`GRP#{owner}`).
    Conversations(UserId),
    /// A user's live connections (`WS#{user}`).
    Connections(UserId),
    /// The members' read markers of a conversation (`READ#{group}`).
    ReadMarkers(GroupId),
}

impl Partition {
    /// The partition key.
    pub fn pk(&self) -> String {
        match self {
            Self::Messages(group) => format!("MSG#{group}"),
            Self::Conversations(owner) => format!("GRP#{owner}"),
            Self::Connections(user) => format!("WS#{user}"),
            Self::ReadMarkers(group) => format!("READ#{group}"),
        }
    }
}

/// The key of any item of the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    /// A message; `id` is `None` for the seed's items.
    Message {
        /// Its conversation.
        group: GroupId,
        /// When it was sent.
        at: Timestamp,
        /// Its id, when the key carries it.
        id: Option<MessageId>,
    },
    /// A member's conversation row, by its conversation: where the row is
    /// stored, whatever its last message (written since issue 25).
    Row {
        /// The member whose list it is in.
        owner: UserId,
        /// The conversation.
        group: GroupId,
    },
    /// A conversation row's place in its owner's list, `{last_message_at}#{group}`:
    /// the sort key of the index `conversations-by-recency`, and the key the
    /// seed's rows (a bare timestamp, `group` `None`) and this project's rows
    /// before issue 25 were stored under.
    Conversation {
        /// The member whose list it is in.
        owner: UserId,
        /// When its last message was sent.
        at: Timestamp,
        /// The conversation, when the key carries it.
        group: Option<GroupId>,
    },
    /// A conversation's own item.
    Group(GroupId),
    /// The claim that makes one conversation per pair of users.
    DmPair(UserId, UserId),
    /// A user profile.
    User(UserId),
    /// A handle claim, by lowercased handle.
    Handle(String),
    /// A Cognito subject claim.
    Cognito(String),
    /// An idempotency key a user sent a message with.
    Idempotency(UserId, String),
    /// A live (WebSocket) connection of a user, by its connection id.
    Connection(UserId, String),
    /// A member's read marker in a conversation.
    ReadMarker(GroupId, UserId),
    /// An item's key exactly as stored, when that is not the form this
    /// project writes (the seed's `2023-03-22T22:52:11+00:00`, without a
    /// fraction): what deletes such an item. Never decoded.
    Stored {
        /// The partition key, as stored.
        pk: String,
        /// The sort key, as stored.
        sk: String,
    },
}

impl ItemKey {
    /// The key of a message.
    pub fn message(group: GroupId, at: MessageRef) -> Self {
        Self::Message {
            group,
            at: at.at,
            id: Some(at.id),
        }
    }

    /// The place in `owner`'s list of the row for `group` whose last message is `at`.
    pub fn conversation(owner: UserId, group: GroupId, at: Timestamp) -> Self {
        Self::Conversation {
            owner,
            at,
            group: Some(group),
        }
    }

    /// The key of the DM pair claim of two users, whatever their order.
    pub fn dm_pair(a: UserId, b: UserId) -> Self {
        if a <= b {
            Self::DmPair(a, b)
        } else {
            Self::DmPair(b, a)
        }
    }

    /// The partition key.
    pub fn pk(&self) -> String {
        match self {
            Self::Message { group, .. } => Partition::Messages(*group).pk(),
            Self::Conversation { owner, .. } | Self::Row { owner, .. } => {
                Partition::Conversations(*owner).pk()
            }
            Self::Group(group) => format!("GROUP#{group}"),
            Self::DmPair(a, b) => format!("DM#{a}#{b}"),
            Self::User(user) => format!("USER#{user}"),
            Self::Handle(handle) => format!("HANDLE#{handle}"),
            Self::Cognito(sub) => format!("COGNITO#{sub}"),
            Self::Idempotency(user, key) => format!("IDEMP#{user}#{key}"),
            Self::Connection(user, _) => Partition::Connections(*user).pk(),
            Self::ReadMarker(group, _) => Partition::ReadMarkers(*group).pk(),
            Self::Stored { pk, .. } => pk.clone(),
        }
    }

    /// The sort key.
    pub fn sk(&self) -> String {
        match self {
            Self::Message { at, id, .. } => with_suffix(at, id.as_ref()),
            Self::Conversation { at, group, .. } => with_suffix(at, group.as_ref()),
            Self::Row { group, .. } => group.to_string(),
            Self::Group(_) => GROUP_SK.into(),
            Self::DmPair(..) => DM_SK.into(),
            Self::User(_) => USER_SK.into(),
            Self::Handle(_) => HANDLE_SK.into(),
            Self::Cognito(_) => COGNITO_SK.into(),
            Self::Idempotency(..) => IDEMPOTENCY_SK.into(),
            Self::Connection(_, id) => id.clone(),
            Self::ReadMarker(_, member) => member.to_string(),
            Self::Stored { sk, .. } => sk.clone(),
        }
    }

    /// The partition this key lists in, for the two listed kinds.
    pub fn partition(&self) -> Option<Partition> {
        match self {
            Self::Message { group, .. } => Some(Partition::Messages(*group)),
            Self::Conversation { owner, .. } => Some(Partition::Conversations(*owner)),
            Self::Connection(user, _) => Some(Partition::Connections(*user)),
            Self::ReadMarker(group, _) => Some(Partition::ReadMarkers(*group)),
            _ => None,
        }
    }

    /// Decodes a key read from the table.
    pub fn decode(pk: &str, sk: &str) -> Result<Self, KeyError> {
        let err = || KeyError {
            pk: pk.chars().take(128).collect(),
            sk: sk.chars().take(128).collect(),
        };
        let (prefix, rest) = pk.split_once('#').ok_or_else(err)?;
        let key = match (prefix, sk) {
            ("MSG", _) => {
                let (at, id) = split_suffix(sk).ok_or_else(err)?;
                Self::Message {
                    group: rest.parse().map_err(|_| err())?,
                    at,
                    id,
                }
            }
            ("GRP", _) if sk.parse::<GroupId>().is_ok() => Self::Row {
                owner: rest.parse().map_err(|_| err())?,
                group: sk.parse().map_err(|_| err())?,
            },
            ("GRP", _) => {
                let (at, group) = split_suffix(sk).ok_or_else(err)?;
                Self::Conversation {
                    owner: rest.parse().map_err(|_| err())?,
                    at,
                    group,
                }
            }
            ("GROUP", GROUP_SK) => Self::Group(rest.parse().map_err(|_| err())?),
            ("DM", DM_SK) => {
                let (a, b) = rest.split_once('#').ok_or_else(err)?;
                let (a, b): (UserId, UserId) =
                    (a.parse().map_err(|_| err())?, b.parse().map_err(|_| err())?);
                if a > b {
                    return Err(err());
                }
                Self::DmPair(a, b)
            }
            ("USER", USER_SK) => Self::User(rest.parse().map_err(|_| err())?),
            ("HANDLE", HANDLE_SK) if !rest.is_empty() => Self::Handle(rest.to_owned()),
            ("COGNITO", COGNITO_SK) if !rest.is_empty() => Self::Cognito(rest.to_owned()),
            ("IDEMP", IDEMPOTENCY_SK) => {
                let (user, key) = rest.split_once('#').ok_or_else(err)?;
                if key.is_empty() {
                    return Err(err());
                }
                Self::Idempotency(user.parse().map_err(|_| err())?, key.to_owned())
            }
            ("WS", _) if !sk.is_empty() => {
                Self::Connection(rest.parse().map_err(|_| err())?, sk.to_owned())
            }
            ("READ", _) => Self::ReadMarker(
                rest.parse().map_err(|_| err())?,
                sk.parse().map_err(|_| err())?,
            ),
            _ => return Err(err()),
        };
        Ok(key)
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.pk(), self.sk())
    }
}

fn with_suffix(at: &Timestamp, suffix: Option<&impl fmt::Display>) -> String {
    match suffix {
        Some(suffix) => format!("{at}#{suffix}"),
        None => at.to_string(),
    }
}

/// Splits `{timestamp}#{uuid}` or a bare timestamp (the seed's form).
fn split_suffix<T: std::str::FromStr>(sk: &str) -> Option<(Timestamp, Option<T>)> {
    match sk.split_once('#') {
        Some((at, suffix)) => Some((at.parse().ok()?, Some(suffix.parse().ok()?))),
        None => Some((sk.parse().ok()?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const G: &str = "5ae290ed-55d1-47a0-bc6d-fe2bc2700399";
    const U1: &str = "0a5f8c4b-0000-4000-8000-000000000001";
    const U2: &str = "0a5f8c4b-0000-4000-8000-000000000002";
    const M: &str = "11111111-2222-4333-8444-555555555555";
    const AT: &str = "2023-03-20T22:52:11.123456+00:00";

    fn check(pk: &str, sk: &str, expected: ItemKey) {
        let key = ItemKey::decode(pk, sk).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key, expected);
        assert_eq!((key.pk(), key.sk()), (pk.to_owned(), sk.to_owned()));
    }

    #[test]
    fn every_key_round_trips() {
        let at: Timestamp = AT.parse().unwrap();
        check(
            &format!("MSG#{G}"),
            &format!("{AT}#{M}"),
            ItemKey::Message {
                group: G.parse().unwrap(),
                at,
                id: Some(M.parse().unwrap()),
            },
        );
        check(
            &format!("GRP#{U1}"),
            &format!("{AT}#{G}"),
            ItemKey::conversation(U1.parse().unwrap(), G.parse().unwrap(), at),
        );
        check(
            &format!("GRP#{U1}"),
            G,
            ItemKey::Row {
                owner: U1.parse().unwrap(),
                group: G.parse().unwrap(),
            },
        );
        check(
            &format!("GROUP#{G}"),
            "META",
            ItemKey::Group(G.parse().unwrap()),
        );
        check(
            &format!("DM#{U1}#{U2}"),
            "DM",
            ItemKey::DmPair(U1.parse().unwrap(), U2.parse().unwrap()),
        );
        check(
            &format!("USER#{U1}"),
            "PROFILE",
            ItemKey::User(U1.parse().unwrap()),
        );
        check(
            "HANDLE#andrewbrown",
            "HANDLE",
            ItemKey::Handle("andrewbrown".into()),
        );
        // Subjects keep their case.
        check(
            "COGNITO#Sub-ABC#x",
            "COGNITO",
            ItemKey::Cognito("Sub-ABC#x".into()),
        );
        check(
            &format!("READ#{G}"),
            U1,
            ItemKey::ReadMarker(G.parse().unwrap(), U1.parse().unwrap()),
        );
        assert!(ItemKey::decode(&format!("READ#{G}"), "not-a-user").is_err());
    }

    #[test]
    fn seed_keys_decode() {
        let at: Timestamp = AT.parse().unwrap();
        check(
            &format!("MSG#{G}"),
            AT,
            ItemKey::Message {
                group: G.parse().unwrap(),
                at,
                id: None,
            },
        );
        check(
            &format!("GRP#{U1}"),
            AT,
            ItemKey::Conversation {
                owner: U1.parse().unwrap(),
                at,
                group: None,
            },
        );
        // The seed's isoformat() without a fraction still decodes.
        let key = ItemKey::decode(&format!("MSG#{G}"), "2023-03-20T22:52:11+00:00").unwrap();
        assert!(matches!(key, ItemKey::Message { id: None, .. }));
    }

    #[test]
    fn dm_pair_is_ordered() {
        let (a, b): (UserId, UserId) = (U1.parse().unwrap(), U2.parse().unwrap());
        assert_eq!(ItemKey::dm_pair(b, a), ItemKey::dm_pair(a, b));
        assert!(ItemKey::decode(&format!("DM#{U2}#{U1}"), "DM").is_err());
    }

    #[test]
    fn foreign_keys_are_rejected() {
        for (pk, sk) in [
            ("", ""),
            ("MSG", AT),
            (&format!("MSG#{G}") as &str, "not a time"),
            (&format!("MSG#{G}"), &format!("{AT}#not-a-uuid") as &str),
            ("MSG#nope", AT),
            (&format!("GROUP#{G}"), "DM"),
            ("HANDLE#", "HANDLE"),
            ("USERS#x", "PROFILE"),
        ] {
            assert!(ItemKey::decode(pk, sk).is_err(), "{pk} / {sk} accepted");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(pk in ".{0,80}", sk in ".{0,80}") {
            if let Ok(key) = ItemKey::decode(&pk, &sk) {
                prop_assert_eq!(ItemKey::decode(&key.pk(), &key.sk()).unwrap(), key);
            }
        }

        #[test]
        fn message_keys_sort_like_message_refs(a in any::<(u32, u128)>(), b in any::<(u32, u128)>()) {
            let group = GroupId::new();
            let r = |(secs, id): (u32, u128)| MessageRef {
                at: Timestamp::from_datetime(chrono::DateTime::from_timestamp(i64::from(secs), 0).unwrap()),
                id: MessageId::from_uuid(uuid::Uuid::from_u128(id)),
            };
            let (ra, rb) = (r(a), r(b));
            prop_assert_eq!(ra.cmp(&rb), ItemKey::message(group, ra).sk().cmp(&ItemKey::message(group, rb).sk()));
        }
    }
}
