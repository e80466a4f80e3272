//! The entities of direct messaging, as the rest of the system sees them.
//!
//! Read models (`Message`, `Conversation`) carry plain strings for handles and
//! names, because they may come from items the seed wrote before any of our
//! validation existed; inputs (`NewUser`, `MessageText`) are validated types.

use serde::{Deserialize, Serialize};

use crate::{DisplayName, GroupId, GroupName, Handle, MessageId, Timestamp, UserId};

/// Who someone is, as shown next to a message or a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserSummary {
    /// The user.
    pub uuid: UserId,
    /// Their handle, without `@`.
    pub handle: String,
    /// Their display name.
    pub display_name: String,
}

/// A user profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user.
    pub uuid: UserId,
    /// Unique, case-insensitively.
    pub handle: Handle,
    /// Shown next to their messages.
    pub display_name: DisplayName,
    /// The Cognito `sub` of the user, if they sign in through Cognito or local tokens.
    pub cognito_user_id: Option<String>,
}

impl User {
    /// The summary shown next to this user's messages.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            uuid: self.uuid,
            handle: self.handle.to_string(),
            display_name: self.display_name.to_string(),
        }
    }
}

/// What it takes to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The id to give them; fixed ids make seeds reproducible.
    pub uuid: UserId,
    /// Their handle; creation fails if it is taken, in any case.
    pub handle: Handle,
    /// Their display name.
    pub display_name: DisplayName,
    /// Their Cognito `sub`; creation fails if another user has it.
    pub cognito_user_id: Option<String>,
}

/// Where a message stands in time: its creation time, then its id.
///
/// This is the order of messages everywhere (a conversation's messages, the
/// newest message a conversation row shows), and the order of their sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// When it was created.
    pub at: Timestamp,
    /// Its id, which breaks ties between messages of the same microsecond.
    pub id: MessageId,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub group: GroupId,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Its text; empty once deleted.
    pub text: String,
    /// Who sent it.
    pub sender: UserSummary,
    /// When its author last edited it, if they did. Stamped by the API when
    /// it receives the edit; the store keeps the edit with the latest stamp.
    pub edited_at: Option<Timestamp>,
    /// Whether its author deleted it: a tombstone, which keeps its place in
    /// the conversation and has no text. Final: a deleted message is never
    /// edited.
    pub deleted: bool,
    /// The group's version its sender's membership was checked at (0 in a
    /// one-to-one conversation): it reaches the members who had joined by
    /// then, and only them.
    pub members_version: u64,
}

impl MessageRef {
    /// Its message's sort key, `{created_at}#{id}`: strings in this form
    /// order as the references do.
    pub fn sort_key(&self) -> String {
        format!("{}#{}", self.at, self.id)
    }
}

impl Message {
    /// Its place in time.
    pub fn reference(&self) -> MessageRef {
        MessageRef {
            at: self.created_at,
            id: self.id,
        }
    }

    /// How far along its life this state of the message is: sent, then each
    /// edit by its stamp, then deleted. Of two states of one message, the
    /// later one is the greater, whatever order they are seen in.
    pub fn revision(&self) -> Revision {
        if self.deleted {
            Revision::Deleted
        } else {
            Revision::Text(self.edited_at)
        }
    }

    /// The message as its author deleted it: in its place, without text.
    pub fn tombstone(mut self) -> Self {
        self.text = String::new();
        self.edited_at = None;
        self.deleted = true;
        self
    }

    /// The latest state of each message among `records` (several records of
    /// one message, in any order, repeats included), by [`Message::revision`],
    /// oldest message first. The one rule the row update and the live frames
    /// share, so a replay or a reordering cannot bring back an older text.
    pub fn latest_states<'a>(records: impl IntoIterator<Item = &'a Message>) -> Vec<&'a Message> {
        let mut latest: Vec<&Message> = records.into_iter().collect();
        // Each message's states together, the latest first.
        latest.sort_by(|a, b| (a.reference(), b.revision()).cmp(&(b.reference(), a.revision())));
        latest.dedup_by_key(|m| m.id);
        latest
    }
}

/// A state of a message, ordered as they follow each other (see
/// [`Message::revision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    /// Its text: as sent (`None`), or as edited then.
    Text(Option<Timestamp>),
    /// Deleted: no state follows.
    Deleted,
}

/// One member's view of a conversation: the row of their conversation list,
/// and that member's own state in it. Each member's row is theirs alone: what
/// a message changes is written to each row on its own, so nothing written on
/// every message is shared by all members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The conversation.
    pub group: GroupId,
    /// The member whose list this row is in.
    pub owner: UserId,
    /// In a one-to-one conversation, the other member; in a named group, the
    /// sender of the message the preview shows (the group's owner until
    /// there is one).
    pub other: UserSummary,
    /// A named group's name and size, as its owner's list shows them;
    /// `None` in a one-to-one conversation.
    pub topic: Option<Topic>,
    /// The preview: the current text of the newest message not deleted, or
    /// empty when none remains.
    pub preview: String,
    /// The last message's id; `None` on rows the seed wrote.
    pub last_message_id: Option<MessageId>,
    /// When the last message was sent: with its id, where the row stands in
    /// its owner's list. Only a newer message moves it, never an edit or a
    /// delete.
    pub last_message_at: Timestamp,
    /// The other members' messages newer than the owner's read marker, up to
    /// [`UNREAD_CAP`] + 1 (which stands for "more than [`UNREAD_CAP`]").
    pub unread: u32,
    /// The message the preview shows: the newest one up to the last that is
    /// not deleted; `None` when none remains.
    pub shown: Option<MessageRef>,
    /// When the shown message was last edited, if it was: which of its texts
    /// the preview has.
    pub shown_edited_at: Option<Timestamp>,
    /// The newest message the owner marked read, as applied to `unread`.
    pub read_through: Option<MessageRef>,
    /// Bumped by every write of the row: the stream handler's writes are
    /// conditioned on the version they read.
    pub version: u64,
    /// In a named group, the group's version of the owner's last join or
    /// leave the row reflects (0 otherwise): an older join or leave, replayed,
    /// changes nothing.
    pub membership_version: u64,
    /// Whether the owner has left the group (or was removed): the row is
    /// kept, out of their list, so that nothing older brings it back.
    pub left: bool,
}

/// What a member's row shows of a named group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The group's name.
    pub name: GroupName,
    /// How many members it has.
    pub members_count: u32,
}

impl Conversation {
    /// Whether the row is in the form the seed (and Cruddur) wrote: keyed by
    /// its time, naming no last message, and no named group's.
    pub fn is_seed_form(&self) -> bool {
        self.last_message_id.is_none() && self.topic.is_none()
    }

    /// The last message's place, when the row names it (not on the seed's
    /// rows, nor on a named group's before its first message).
    pub fn last(&self) -> Option<MessageRef> {
        self.last_message_id.map(|id| MessageRef {
            at: self.last_message_at,
            id,
        })
    }
}

/// Most members a conversation may have.
pub const MAX_MEMBERS: usize = 100;
/// Fewest members a named group starts with: a conversation of two is
/// one-to-one.
pub const GROUP_MIN_MEMBERS: usize = 3;

/// What kind of conversation a group is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupKind {
    /// Two members, for good; unnamed.
    Direct,
    /// A named group of up to [`MAX_MEMBERS`] members, which its owner names
    /// and fills.
    Named {
        /// Its name.
        name: GroupName,
        /// The member who manages it.
        owner: UserId,
    },
}

/// A conversation itself: who is in it. Written when it starts and when its
/// members or name change; messages do not change it (each member's row
/// keeps their own state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The conversation.
    pub id: GroupId,
    /// One-to-one, or a named group.
    pub kind: GroupKind,
    /// Its members, in the order they joined: two in a one-to-one
    /// conversation, up to [`MAX_MEMBERS`] in a named group.
    pub members: Vec<Member>,
    /// When it was started.
    pub created_at: Timestamp,
    /// Bumped by every change of its members or name; its writes are
    /// conditioned on it, and each message carries the version its sender's
    /// membership was checked at. Always 0 for a one-to-one conversation.
    pub version: u64,
    /// The members the change that made this version removed (or who left):
    /// the stream handler takes their rows away.
    pub removed: Vec<UserId>,
}

/// A member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Who.
    pub user: UserSummary,
    /// The group's version when they joined (0 for its first members): the
    /// messages accepted at an earlier version are history to them, never
    /// unread, never delivered.
    pub joined_version: u64,
}

impl Member {
    /// A member since the start.
    pub fn founding(user: UserSummary) -> Self {
        Self {
            user,
            joined_version: 0,
        }
    }
}

/// Unread counts are exact up to this; a count above it is stored and shown
/// as `UNREAD_CAP + 1` ("99+").
pub const UNREAD_CAP: u32 = 99;

/// A member's read marker as the API records it: the newest message they have
/// seen. It only moves forward; the stream handler applies it to the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    /// The conversation.
    pub group: GroupId,
    /// Whose marker it is.
    pub member: UserId,
    /// The newest message they have seen.
    pub through: MessageRef,
}

impl Group {
    /// A one-to-one conversation between `a` and `b`.
    pub fn direct(id: GroupId, a: UserSummary, b: UserSummary, created_at: Timestamp) -> Self {
        Self {
            id,
            kind: GroupKind::Direct,
            members: vec![Member::founding(a), Member::founding(b)],
            created_at,
            version: 0,
            removed: Vec::new(),
        }
    }

    /// Whether `user` is a member.
    pub fn has_member(&self, user: UserId) -> bool {
        self.member(user).is_some()
    }

    /// `user` as a member, if they are one.
    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.members.iter().find(|m| m.user.uuid == user)
    }

    /// Whether `message` reaches `member`: in a one-to-one conversation,
    /// every message of its members; in a named group, the messages accepted
    /// once `member` had joined (at their version or later), whoever sent
    /// them and whether or not the sender is still a member.
    pub fn reaches(&self, member: UserId, message: &Message) -> bool {
        if message.group != self.id {
            return false;
        }
        match &self.kind {
            GroupKind::Direct => self.has_member(member) && self.has_member(message.sender.uuid),
            GroupKind::Named { .. } => self
                .member(member)
                .is_some_and(|m| message.members_version >= m.joined_version),
        }
    }

    /// The version since which `member` is a member (0 for a one-to-one
    /// conversation's, and for a group's founders).
    pub fn joined_version(&self, member: UserId) -> Option<u64> {
        self.member(member).map(|m| m.joined_version)
    }

    /// The members' uuids, in the order they joined.
    pub fn member_ids(&self) -> impl Iterator<Item = UserId> + '_ {
        self.members.iter().map(|m| m.user.uuid)
    }

    /// The member other than `user` in a one-to-one conversation, if `user`
    /// is a member of it.
    pub fn other_member(&self, user: UserId) -> Option<&UserSummary> {
        match (&self.kind, self.members.as_slice()) {
            (GroupKind::Direct, [a, b]) if a.user.uuid == user => Some(&b.user),
            (GroupKind::Direct, [a, b]) if b.user.uuid == user => Some(&a.user),
            _ => None,
        }
    }

    /// The owner of a named group; `None` for a one-to-one conversation.
    pub fn owner(&self) -> Option<UserId> {
        match &self.kind {
            GroupKind::Direct => None,
            GroupKind::Named { owner, .. } => Some(*owner),
        }
    }

    /// What a member's row of a named group shows of it.
    pub fn topic(&self) -> Option<Topic> {
        match &self.kind {
            GroupKind::Direct => None,
            GroupKind::Named { name, .. } => Some(Topic {
                name: name.clone(),
                members_count: u32::try_from(self.members.len()).unwrap_or(u32::MAX),
            }),
        }
    }

    /// Whom `owner`'s row names when it shows a message from `sender`: in a
    /// one-to-one conversation, always the other member; in a named group,
    /// the sender (its owner when nothing is shown). `None` when `owner` is
    /// not a member.
    pub fn shown_as(&self, owner: UserId, sender: Option<&UserSummary>) -> Option<UserSummary> {
        match &self.kind {
            GroupKind::Direct => self.other_member(owner).cloned(),
            GroupKind::Named { owner: manager, .. } => {
                if !self.has_member(owner) {
                    return None;
                }
                sender
                    .cloned()
                    .or_else(|| self.member(*manager).map(|m| m.user.clone()))
                    .or_else(|| self.members.first().map(|m| m.user.clone()))
            }
        }
    }

    /// The rows of a conversation started with `first`: one per member,
    /// showing it, unread for everyone but its sender.
    pub fn first_rows(&self, first: &Message) -> Vec<Conversation> {
        self.members
            .iter()
            .filter_map(|member| {
                let owner = &member.user;
                Some(Conversation {
                    group: self.id,
                    owner: owner.uuid,
                    other: self.shown_as(owner.uuid, Some(&first.sender))?,
                    topic: self.topic(),
                    preview: first.text.clone(),
                    last_message_id: Some(first.id),
                    last_message_at: first.created_at,
                    unread: u32::from(owner.uuid != first.sender.uuid),
                    shown: Some(first.reference()),
                    shown_edited_at: None,
                    read_through: None,
                    version: 0,
                    membership_version: 0,
                    left: false,
                })
            })
            .collect()
    }
}

/// An idempotency key's claim: the message a user's request with that key
/// sends, whenever it is retried, until the claim expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose key it is.
    pub user: UserId,
    /// The key, as the client sent it.
    pub key: String,
    /// The message the key sends.
    pub message: MessageId,
    /// When that message is sent.
    pub at: Timestamp,
    /// What was asked, so a reused key with another request can be refused.
    pub request: String,
    /// When the claim expires, in epoch seconds (the table's TTL attribute).
    pub expires_at: i64,
}

/// A live (WebSocket) connection of a user: where new messages are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Whose connection it is.
    pub user: UserId,
    /// The connection id (API Gateway's, or `dm-api`'s own locally).
    pub id: String,
    /// When it stops being used, in epoch seconds: its token's expiry (the
    /// table's TTL attribute deletes it after that).
    pub expires_at: i64,
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<crate::Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(handle: &str) -> UserSummary {
        UserSummary {
            uuid: UserId::new(),
            handle: handle.into(),
            display_name: handle.to_uppercase(),
        }
    }

    #[test]
    fn each_member_row_shows_the_other_member() {
        let (a, b) = (summary("a"), summary("b"));
        let group = Group::direct(GroupId::new(), a.clone(), b.clone(), Timestamp::now());
        let first = Message {
            id: MessageId::new(),
            group: group.id,
            created_at: Timestamp::now(),
            text: "hi".into(),
            sender: a.clone(),
            edited_at: None,
            deleted: false,
            members_version: 0,
        };
        let [ra, rb] = <[Conversation; 2]>::try_from(group.first_rows(&first)).unwrap();
        assert_eq!(
            (ra.unread, rb.unread),
            (0, 1),
            "unread for the recipient only"
        );
        assert_eq!((ra.owner, &ra.other), (a.uuid, &b));
        assert_eq!((rb.owner, &rb.other), (b.uuid, &a));
        assert_eq!(ra.last(), Some(first.reference()));
        assert_eq!(rb.shown, Some(first.reference()));
        assert_eq!(group.other_member(a.uuid), Some(&b));
        assert_eq!(group.other_member(UserId::new()), None);
        assert!(!group.has_member(UserId::new()));
    }

    #[test]
    fn the_latest_state_of_each_message_wins_in_any_order() {
        let sender = summary("a");
        let start = Timestamp::now();
        let at = |micros: i64| start.plus(chrono::TimeDelta::microseconds(micros));
        let sent = |micros: i64| Message {
            id: MessageId::new(),
            group: GroupId::new(),
            created_at: at(micros),
            text: "sent".into(),
            sender: sender.clone(),
            edited_at: None,
            deleted: false,
            members_version: 0,
        };
        let (one, two) = (sent(1_000), sent(2_000));
        let edit = |m: &Message, micros: i64, text: &str| Message {
            text: text.into(),
            edited_at: Some(at(micros)),
            ..m.clone()
        };
        let (early, late) = (edit(&one, 5_000, "early"), edit(&one, 6_000, "late"));
        let gone = two.clone().tombstone();
        let records = [
            late.clone(),
            two.clone(),
            one.clone(),
            gone.clone(),
            early,
            two,
        ];
        let latest = Message::latest_states(&records);
        assert_eq!(
            latest,
            vec![&late, &gone],
            "oldest message first, each at its latest"
        );
        assert!(Message::latest_states(&[]).is_empty());
    }
}
