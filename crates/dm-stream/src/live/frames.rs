//! The JSON a client sees: one set of types for the REST answers (`dm-api`'s
//! routes) and the live frames ([`Frame`]), so a message or a row reads the
//! same whichever way it arrives.

use dm_domain::{Conversation, Group, GroupId, GroupKind, Message, MessageRef, ReadMarker};
use serde::{Deserialize, Serialize};

/// A message of a conversation, with its sender: as `GET /api/messages`
/// shows it and as a frame carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageJson {
    /// The message's uuid.
    pub uuid: String,
    /// The sender's display name.
    pub display_name: String,
    /// The sender's handle.
    pub handle: String,
    /// The text.
    pub message: String,
    /// When it was sent.
    pub created_at: String,
    /// On the caller's own messages in `GET /api/messages`: whether every
    /// other member (of those it reached) has read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<bool>,
    /// On the caller's own messages in a group's `GET /api/messages`: how
    /// many other members have read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_by: Option<u32>,
    /// On an edited message: when its author last edited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// On a deleted message (a tombstone, whose `message` is empty): `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

impl From<&Message> for MessageJson {
    fn from(m: &Message) -> Self {
        Self {
            uuid: m.id.to_string(),
            display_name: m.sender.display_name.clone(),
            handle: m.sender.handle.clone(),
            message: m.text.clone(),
            created_at: m.created_at.to_string(),
            seen: None,
            read_by: None,
            edited_at: m.edited_at.map(|at| at.to_string()),
            deleted: m.deleted.then_some(true),
        }
    }
}

/// What kind of conversation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// One-to-one, for good.
    Direct,
    /// A named group of up to 100 members.
    Group,
}

/// A member's conversation row: as `GET /api/message_groups` shows it to
/// that member, and as a frame carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationJson {
    /// The conversation's uuid.
    pub uuid: String,
    /// `direct` (one-to-one) or `group` (named, up to 100 members).
    pub kind: ConversationKind,
    /// One-to-one: the other member's display name; a group: its name.
    pub display_name: String,
    /// One-to-one: the other member's handle; a group: the handle of the
    /// sender of the message it shows (its owner's before the first).
    pub handle: String,
    /// A group's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A group's number of members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_count: Option<u32>,
    /// The preview: the current text of the newest message not deleted, or
    /// empty when none remains.
    pub message: String,
    /// When the last message was sent: where the conversation stands in the
    /// list (an edit or a delete does not move it).
    pub created_at: String,
    /// The other member's messages the member has not read (newer than
    /// their read marker), exact up to 99; 100 stands for more (shown `99+`).
    pub unread_count: u32,
}

impl From<&Conversation> for ConversationJson {
    fn from(row: &Conversation) -> Self {
        let name = row.topic.as_ref().map(|t| t.name.to_string());
        Self {
            uuid: row.group.to_string(),
            kind: if row.topic.is_some() {
                ConversationKind::Group
            } else {
                ConversationKind::Direct
            },
            display_name: name
                .clone()
                .unwrap_or_else(|| row.other.display_name.clone()),
            handle: row.other.handle.clone(),
            name,
            members_count: row.topic.as_ref().map(|t| t.members_count),
            message: row.preview.clone(),
            created_at: row.last_message_at.to_string(),
            unread_count: row.unread,
        }
    }
}

/// A conversation itself: its kind, name and members, as
/// `GET /api/message_groups/{uuid}` shows it and as a `members` frame
/// carries its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupJson {
    /// The conversation's uuid.
    pub uuid: String,
    /// `direct` (one-to-one) or `group`.
    pub kind: ConversationKind,
    /// A group's name; absent for a one-to-one conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it was started.
    pub created_at: String,
    /// Its members, in the order they joined.
    pub members: Vec<MemberJson>,
}

/// A member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberJson {
    /// Their uuid.
    pub uuid: String,
    /// Their handle.
    pub handle: String,
    /// Their display name.
    pub display_name: String,
    /// `owner` (who names and fills a group) or `member`.
    pub role: Role,
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Renames the group, adds and removes members.
    Owner,
    /// Sends, reads, and may leave.
    Member,
}

impl From<&Group> for GroupJson {
    fn from(group: &Group) -> Self {
        let owner = group.owner();
        Self {
            uuid: group.id.to_string(),
            kind: match group.kind {
                GroupKind::Direct => ConversationKind::Direct,
                GroupKind::Named { .. } => ConversationKind::Group,
            },
            name: match &group.kind {
                GroupKind::Direct => None,
                GroupKind::Named { name, .. } => Some(name.to_string()),
            },
            created_at: group.created_at.to_string(),
            members: group
                .members
                .iter()
                .map(|m| MemberJson {
                    uuid: m.user.uuid.to_string(),
                    handle: m.user.handle.clone(),
                    display_name: m.user.display_name.clone(),
                    role: if Some(m.user.uuid) == owner {
                        Role::Owner
                    } else {
                        Role::Member
                    },
                })
                .collect(),
        }
    }
}

/// Where a read marker stands: the newest message its member has seen. Also
/// the body of `POST /api/message_groups/{uuid}/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadThrough {
    /// That message's uuid.
    pub uuid: String,
    /// When it was sent.
    pub created_at: String,
}

impl From<MessageRef> for ReadThrough {
    fn from(at: MessageRef) -> Self {
        Self {
            uuid: at.id.to_string(),
            created_at: at.at.to_string(),
        }
    }
}

/// What a live connection receives, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// A new message in one of the user's conversations.
    Message {
        /// The conversation.
        message_group_uuid: String,
        /// The message.
        message: MessageJson,
    },
    /// Its author edited a message: its new text. Of several frames of one
    /// message, the one with the latest `edited_at` is its text.
    MessageEdited {
        /// The conversation.
        message_group_uuid: String,
        /// The message, as edited.
        message: MessageJson,
    },
    /// Its author deleted a message: it stays in its place without text.
    /// Final: no frame of that message after this one changes it.
    MessageDeleted {
        /// The conversation.
        message_group_uuid: String,
        /// The message's uuid.
        uuid: String,
        /// When it was sent.
        created_at: String,
    },
    /// The user's row of a conversation, as it now is: moved to its newest
    /// message, with a new preview (an edit or a delete), or with a new
    /// unread count.
    Conversation {
        /// The row.
        conversation: ConversationJson,
    },
    /// A member of one of the user's conversations (the user, on another
    /// tab, or the other member) has read it up to a message.
    Read {
        /// The conversation.
        message_group_uuid: String,
        /// The reader's uuid.
        member: String,
        /// The newest message they have seen.
        read_through: ReadThrough,
    },
    /// A group's members or name changed: who is in it now.
    Members {
        /// The conversation.
        message_group_uuid: String,
        /// Its name.
        name: Option<String>,
        /// Its members, in the order they joined.
        members: Vec<MemberJson>,
    },
    /// The user was removed from a group, or left it: nothing of it follows.
    Removed {
        /// The conversation.
        message_group_uuid: String,
    },
}

impl Frame {
    /// The frame of a new message.
    pub fn message(message: &Message) -> Self {
        Self::Message {
            message_group_uuid: message.group.to_string(),
            message: message.into(),
        }
    }

    /// The frame of an edited message.
    pub fn edited(message: &Message) -> Self {
        Self::MessageEdited {
            message_group_uuid: message.group.to_string(),
            message: message.into(),
        }
    }

    /// The frame of a deleted message of `group`.
    pub fn deleted(group: GroupId, at: MessageRef) -> Self {
        Self::MessageDeleted {
            message_group_uuid: group.to_string(),
            uuid: at.id.to_string(),
            created_at: at.at.to_string(),
        }
    }

    /// The frame of a group's members and name.
    pub fn members(group: &Group) -> Self {
        let json = GroupJson::from(group);
        Self::Members {
            message_group_uuid: json.uuid,
            name: json.name,
            members: json.members,
        }
    }

    /// The frame telling a user they are no longer in `group`.
    pub fn removed(group: GroupId) -> Self {
        Self::Removed {
            message_group_uuid: group.to_string(),
        }
    }

    /// The frame of a member's row.
    pub fn conversation(row: &Conversation) -> Self {
        Self::Conversation {
            conversation: row.into(),
        }
    }

    /// The frame of a read marker.
    pub fn read(marker: &ReadMarker) -> Self {
        Self::Read {
            message_group_uuid: marker.group.to_string(),
            member: marker.member.to_string(),
            read_through: marker.through.into(),
        }
    }

    /// The frame as the JSON text a connection receives.
    pub fn to_json(&self) -> String {
        // A frame is strings in maps: serializing it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
