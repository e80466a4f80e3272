//! The access patterns, written once over [`Table`].
//!
//! Each method is one access pattern of `docs/access-patterns.md`; the letter
//! in its doc comment is the pattern's.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use dm_domain::{
    Connection, Conversation, Cursor, Group, GroupId, Handle, IdempotencyClaim, ItemKey, Message,
    MessageId, MessageRef, MessageText, NewUser, Page, Partition, ReadMarker, ReadState, Timestamp,
    UNREAD_CAP, User, UserId, UserSummary,
};

use crate::{
    Clash, Missing, Record, StoreError, StoreResult,
    retry::RACE_ATTEMPTS,
    table::{Condition, Order, Read, Table, Write, WriteError},
};

/// Most items a page may hold; larger requests are clamped.
pub const PAGE_MAX: usize = 100;
/// Items a page holds when the request does not say.
pub const PAGE_DEFAULT: usize = 20;

/// Which page of a listing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page, 1 to [`PAGE_MAX`] (clamped).
    pub limit: usize,
    /// Where to continue; `None` for the first (newest) page.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// The first page, of `limit` items.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The page after `cursor`, of `limit` items.
    pub fn after(limit: usize, cursor: Cursor) -> Self {
        Self {
            limit,
            cursor: Some(cursor),
        }
    }

    fn clamped_limit(&self) -> usize {
        self.limit.clamp(1, PAGE_MAX)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(PAGE_DEFAULT)
    }
}

/// A message about to be sent. Its id and time are chosen by the caller, so
/// that a retried request can send the very same message again (and be told
/// it exists) and imports can keep their original times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The new message's id.
    pub id: MessageId,
    /// When it is sent.
    pub created_at: Timestamp,
    /// Its text, validated.
    pub text: MessageText,
}

impl NewMessage {
    /// A message with a new id, sent now.
    pub fn now(text: MessageText) -> Self {
        Self {
            id: MessageId::new(),
            created_at: Timestamp::now(),
            text,
        }
    }

    /// Where the message will sit in its conversation.
    pub fn reference(&self) -> MessageRef {
        MessageRef {
            at: self.created_at,
            id: self.id,
        }
    }

    fn into_message(self, group: GroupId, sender: &UserSummary) -> Message {
        Message {
            id: self.id,
            group,
            created_at: self.created_at,
            text: self.text.into_string(),
            sender: sender.clone(),
            edited_at: None,
            deleted: false,
        }
    }
}

/// Which message an edit or a delete is of: its id, and when it was sent if
/// the caller knows (as `GET /api/messages` shows it), which makes finding it
/// one read instead of a search of the conversation, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLookup {
    /// The message.
    pub id: MessageId,
    /// When it was sent, if known.
    pub sent_at: Option<Timestamp>,
}

/// A conversation's changes as a stream batch carries them, for
/// [`Repository::apply_changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Its message records: new, replayed, edited or deleted (tombstones),
    /// in any order, repeats included.
    pub messages: Vec<Message>,
    /// Messages whose items were removed outright (not by the table's TTL):
    /// by hand, as with the AWS CLI. They count as deleted.
    pub removed: Vec<MessageRef>,
    /// Its read markers.
    pub marks: Vec<ReadMarker>,
}

/// Where a catch-up read starts: after a message, or after a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageBound {
    /// The last message the client has was sent then.
    pub at: Timestamp,
    /// That message; without it, every message sent at `at` counts as had.
    pub id: Option<MessageId>,
}

impl MessageBound {
    /// The sort key the read starts after.
    fn sort_key(&self) -> String {
        match self.id {
            // As a message's sort key, `{created_at}#{uuid}`.
            Some(id) => format!("{}#{id}", self.at),
            // Past every id of that time (ids are lowercase hex and dashes).
            None => format!("{}#~", self.at),
        }
    }
}

/// The result of [`Repository::start_conversation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message, as stored.
    pub message: Message,
    /// Whether the conversation was created by this call (rather than reused).
    pub started: bool,
}

/// What [`Repository::apply_changes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The members' rows now show the newest of the messages (and their
    /// read state is current).
    Moved,
    /// The rows kept their place; their preview (an edit or a delete),
    /// read markers or unread counts changed.
    Counted,
    /// Everything already reflected the changes; nothing was written.
    AlreadyCurrent,
}

/// The repository of direct messaging: every access pattern of the design.
///
/// Implemented by [`crate::DynamoRepository`] and [`crate::MemoryRepository`]
/// (and by anything that implements [`Table`]). Both keep the same
/// invariants; services can test against the memory one.
#[async_trait]
pub trait Repository: Send + Sync + std::fmt::Debug {
    /// Creates a user, claiming its handle (case-insensitively) and Cognito
    /// subject in the same transaction. (F)
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;

    /// A user by uuid. (F)
    async fn user(&self, id: UserId) -> StoreResult<User>;

    /// A user by handle, in any case. (F)
    async fn user_by_handle(&self, handle: &Handle) -> StoreResult<User>;

    /// A user by Cognito subject. (F)
    async fn user_by_cognito_sub(&self, sub: &str) -> StoreResult<User>;

    /// A conversation, if `member` is one of its members; otherwise it does
    /// not exist for them (`NotFound`).
    async fn group(&self, id: GroupId, member: UserId) -> StoreResult<Group>;

    /// The conversation of a pair of users, if they have one.
    async fn conversation_between(&self, a: UserId, b: UserId) -> StoreResult<Option<GroupId>>;

    /// Whether `member` belongs to the conversation; `false` for one that
    /// does not exist. Also answers for conversations the seed wrote, which
    /// have rows but no group item.
    async fn is_member(&self, id: GroupId, member: UserId) -> StoreResult<bool>;

    /// `owner`'s conversations, most recent first. (B)
    async fn conversations(
        &self,
        owner: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>>;

    /// The messages of a conversation `member` belongs to: the newest page
    /// first, each page oldest to newest; the next page goes back in time. (A)
    async fn messages(
        &self,
        group: GroupId,
        member: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// The messages of a conversation `member` belongs to that come after
    /// `after`, oldest first, up to `limit` (clamped as a page's); the page
    /// has a cursor when more follow. What a client that was offline missed.
    async fn messages_after(
        &self,
        group: GroupId,
        member: UserId,
        after: MessageBound,
        limit: usize,
    ) -> StoreResult<Page<Message>>;

    /// Sends a message to a conversation the sender belongs to. The members'
    /// rows follow through the stream handler ([`Repository::apply_message`]).
    /// Sending a message id that exists is `Conflict(ItemExists)`. (C)
    async fn send_message(
        &self,
        group: GroupId,
        sender: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Message>;

    /// Sends a message to a user: into the pair's conversation, which is
    /// created (pair claim, group, both rows and the message, in one
    /// transaction) if the pair has none. Concurrent starts by the same pair
    /// end in one conversation. (E)
    async fn start_conversation(
        &self,
        sender: &UserSummary,
        recipient: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Sent>;

    /// Applies a conversation's changes, as the stream carries them: moves the
    /// members' rows to the newest message if it is newer than where they
    /// stand, keeps their preview the current text of the newest message not
    /// deleted (an edit or a delete changes the preview, never the place),
    /// applies the read markers, and keeps each member's unread count exact
    /// (the other members' messages newer than their marker and not deleted,
    /// up to the cap). Idempotent, order-independent, safe to run
    /// concurrently. Used by the stream handler. (D)
    async fn apply_changes(&self, group: GroupId, changes: &Changes) -> StoreResult<Applied>;

    /// [`Repository::apply_changes`] of one message record.
    async fn apply_message(&self, message: &Message) -> StoreResult<Applied> {
        let changes = Changes {
            messages: vec![message.clone()],
            ..Changes::default()
        };
        self.apply_changes(message.group, &changes).await
    }

    /// A message of a conversation `member` belongs to, as stored now
    /// (tombstones included). (I)
    async fn find_message(
        &self,
        group: GroupId,
        member: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message>;

    /// Edits one of `author`'s messages: its text becomes `text` and its
    /// `edited_at` the later of `at` and just after its previous edit. Edits
    /// apply in the order of their stamps: one stamped before the edit in
    /// force changes nothing. Editing to the text it has changes nothing.
    /// Returns the message as it now is. Another member's message, like a
    /// missing one, is `NotFound(Message)`; a deleted one is
    /// `Conflict(MessageDeleted)`. (I)
    async fn edit_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
        text: MessageText,
        at: Timestamp,
    ) -> StoreResult<Message>;

    /// Deletes one of `author`'s messages: it becomes a tombstone in its
    /// place. Deleting a tombstone changes nothing and returns it, as the
    /// first delete did. Another member's message, like a missing one, is
    /// `NotFound(Message)`. (I)
    async fn delete_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message>;

    /// Records that `member` has seen the conversation up to `through`, one
    /// of its messages. The marker only moves forward: marking an older or
    /// the same message changes nothing. Returns the marker in force. The
    /// stream handler applies it to the unread counts. (H)
    async fn mark_read(
        &self,
        group: GroupId,
        member: UserId,
        through: MessageRef,
    ) -> StoreResult<MessageRef>;

    /// The members' read markers of a conversation `member` belongs to, as
    /// recorded (members who never marked have none). (H)
    async fn read_markers(&self, group: GroupId, member: UserId) -> StoreResult<Vec<ReadMarker>>;

    /// The sum of `owner`'s unread counts over all their conversations. (H)
    async fn unread_total(&self, owner: UserId) -> StoreResult<u32>;

    /// A conversation's group item, as this process last saw it (or read).
    async fn current_group(&self, group: GroupId) -> StoreResult<Option<Group>>;

    /// Stores many messages of one conversation in batches (no conditions:
    /// ids are unique) and moves the rows to the newest. For seeds and
    /// imports; senders must be members.
    async fn import_messages(&self, group: GroupId, messages: Vec<Message>) -> StoreResult<()>;

    /// Claims an idempotency key for a message about to be sent; returns the
    /// claim in force: this one, or an unexpired one made before (whose
    /// message must then be sent, or was). Expired claims count as absent.
    async fn claim_idempotency(
        &self,
        claim: IdempotencyClaim,
        now: i64,
    ) -> StoreResult<IdempotencyClaim>;

    /// One message by its place in a conversation.
    async fn message(&self, group: GroupId, at: MessageRef) -> StoreResult<Option<Message>>;

    /// The members of a conversation, as its group item (or, for a seed
    /// conversation, its rows) names them; read once per process and minute.
    /// For the stream's notifier.
    async fn members(&self, group: GroupId) -> StoreResult<Vec<UserSummary>>;

    /// Records a live connection of a user, replacing one with the same id. (G)
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()>;

    /// Forgets a live connection; one already gone is not an error. (G)
    async fn remove_connection(&self, user: UserId, id: &str) -> StoreResult<()>;

    /// A user's live connections unexpired at `now` (epoch seconds): the
    /// table's TTL deletes expired ones only eventually. (G)
    async fn connections(&self, user: UserId, now: i64) -> StoreResult<Vec<Connection>>;

    /// Checks that the store can be reached.
    async fn ping(&self) -> StoreResult<()>;
}

#[async_trait]
impl<T: Table> Repository for T {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let created = User {
            uuid: user.uuid,
            handle: user.handle,
            display_name: user.display_name,
            cognito_user_id: user.cognito_user_id,
        };
        let mut writes = vec![
            Write::create(Record::User(created.clone())),
            Write::create(Record::HandleClaim {
                handle: created.handle.key(),
                user: created.uuid,
            }),
        ];
        if let Some(sub) = &created.cognito_user_id {
            writes.push(Write::create(Record::CognitoClaim {
                sub: sub.clone(),
                user: created.uuid,
            }));
        }
        match self.write(writes).await {
            Ok(()) => Ok(created),
            Err(WriteError::ConditionFailed { index }) => Err(StoreError::Conflict(match index {
                0 => Clash::UserExists,
                1 => Clash::HandleTaken,
                _ => Clash::CognitoSubTaken,
            })),
            Err(WriteError::Store(e)) => Err(e),
        }
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        match self.get(&ItemKey::User(id)).await? {
            Some(Record::User(user)) => Ok(user),
            Some(other) => Err(unexpected(&other)),
            None => Err(StoreError::NotFound(Missing::User)),
        }
    }

    async fn user_by_handle(&self, handle: &Handle) -> StoreResult<User> {
        match self.get(&ItemKey::Handle(handle.key())).await? {
            Some(Record::HandleClaim { user, .. }) => self.user(user).await,
            Some(other) => Err(unexpected(&other)),
            None => Err(StoreError::NotFound(Missing::User)),
        }
    }

    async fn user_by_cognito_sub(&self, sub: &str) -> StoreResult<User> {
        if sub.is_empty() {
            return Err(StoreError::NotFound(Missing::User));
        }
        match self.get(&ItemKey::Cognito(sub.to_owned())).await? {
            Some(Record::CognitoClaim { user, .. }) => self.user(user).await,
            Some(other) => Err(unexpected(&other)),
            None => Err(StoreError::NotFound(Missing::User)),
        }
    }

    async fn group(&self, id: GroupId, member: UserId) -> StoreResult<Group> {
        match load_group(self, id).await? {
            Some(group) if group.has_member(member) => Ok(group),
            _ => Err(StoreError::NotFound(Missing::Conversation)),
        }
    }

    async fn conversation_between(&self, a: UserId, b: UserId) -> StoreResult<Option<GroupId>> {
        match self.get(&ItemKey::dm_pair(a, b)).await? {
            Some(Record::DmPair { group, .. }) => Ok(Some(group)),
            Some(other) => Err(unexpected(&other)),
            None => Ok(None),
        }
    }

    async fn is_member(&self, id: GroupId, member: UserId) -> StoreResult<bool> {
        // Members never change, so a conversation's members once read are
        // good for the life of the process.
        if let Some(members) = self.group_cache().and_then(|cache| cache.members(id)) {
            return Ok(members.contains(&member));
        }
        if let Some(group) = load_group(self, id).await? {
            return Ok(group.has_member(member));
        }
        // A conversation the seed wrote has no group item, only its rows.
        let rows = self.group_rows(id).await?;
        Ok(rows
            .iter()
            .any(|row| matches!(row, Record::Conversation(c) if c.owner == member)))
    }

    async fn conversations(
        &self,
        owner: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let partition = Partition::Conversations(owner);
        let after = start_after(partition, page)?;
        list(
            self,
            partition,
            after,
            page,
            Order::NewestFirst,
            |record| match record {
                Record::Conversation(c) => Ok(c),
                other => Err(unexpected(&other)),
            },
        )
        .await
    }

    async fn messages(
        &self,
        group: GroupId,
        member: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let partition = Partition::Messages(group);
        // The cursor is checked before the membership read: a bad one costs nothing.
        let after = start_after(partition, page)?;
        if !Repository::is_member(self, group, member).await? {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        let mut page = list(
            self,
            partition,
            after,
            page,
            Order::NewestFirst,
            |record| match record {
                Record::Message(m) => Ok(m),
                other => Err(unexpected(&other)),
            },
        )
        .await?;
        page.items.reverse();
        Ok(page)
    }

    async fn messages_after(
        &self,
        group: GroupId,
        member: UserId,
        after: MessageBound,
        limit: usize,
    ) -> StoreResult<Page<Message>> {
        if !Repository::is_member(self, group, member).await? {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        let page = PageRequest {
            limit,
            cursor: None,
        };
        let partition = Partition::Messages(group);
        list(
            self,
            partition,
            Some(after.sort_key()),
            &page,
            Order::OldestFirst,
            |record| match record {
                Record::Message(m) => Ok(m),
                other => Err(unexpected(&other)),
            },
        )
        .await
    }

    async fn send_message(
        &self,
        group: GroupId,
        sender: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Message> {
        if !Repository::is_member(self, group, sender.uuid).await? {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        put_message(self, message.into_message(group, sender)).await
    }

    async fn start_conversation(
        &self,
        sender: &UserSummary,
        recipient: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Sent> {
        if sender.uuid == recipient.uuid {
            return Err(StoreError::Invalid("self_conversation"));
        }
        let pair = ItemKey::dm_pair(sender.uuid, recipient.uuid);
        let mut races = race_backoff();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(group) =
                Repository::conversation_between(self, sender.uuid, recipient.uuid).await?
            {
                let message = Repository::send_message(self, group, sender, message).await?;
                return Ok(Sent {
                    message,
                    started: false,
                });
            }
            let ItemKey::DmPair(low, high) = pair else {
                unreachable!("dm_pair builds a DmPair key")
            };
            let group_id = GroupId::new();
            let stored = message.clone().into_message(group_id, sender);
            let group = Group {
                id: group_id,
                members: [sender.clone(), recipient.clone()],
                created_at: stored.created_at,
                last: stored.reference(),
                shown: Some(stored.reference()),
                shown_edited_at: None,
                last_message: stored.text.clone(),
                // The recipient has the first message to read.
                reads: [
                    ReadState {
                        through: None,
                        unread: Some(0),
                    },
                    ReadState {
                        through: None,
                        unread: Some(1),
                    },
                ],
                version: 0,
            };
            let [row_a, row_b] = group.rows();
            let writes = vec![
                Write::create(Record::DmPair {
                    low,
                    high,
                    group: group_id,
                }),
                Write::create(Record::Group(group)),
                Write::put(Record::Conversation(row_a)),
                Write::put(Record::Conversation(row_b)),
                Write::create(Record::Message(stored.clone())),
            ];
            match self.write(writes).await {
                Ok(()) => {
                    return Ok(Sent {
                        message: stored,
                        started: true,
                    });
                }
                // Someone started this pair's conversation first: use theirs.
                Err(WriteError::ConditionFailed { index: 0 }) if attempt < RACE_ATTEMPTS => {}
                // A concurrent transaction touched the same items: a race too.
                // Throttling and outages are not retried here: the SDK did.
                Err(WriteError::Store(StoreError::TransactionCancelled { .. }))
                    if attempt < RACE_ATTEMPTS =>
                {
                    if let Some(delay) = races.next() {
                        tokio::time::sleep(delay).await;
                    }
                }
                Err(WriteError::ConditionFailed { .. }) => {
                    return Err(StoreError::Conflict(Clash::ItemExists));
                }
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
    }

    async fn apply_changes(&self, group_id: GroupId, changes: &Changes) -> StoreResult<Applied> {
        let cache = self.group_cache();
        // The group as last seen is a guess the transaction's condition (its
        // version) checks.
        let mut guess = cache.and_then(|c| c.get(group_id));
        let mut races = race_backoff();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let group = match guess.take() {
                Some(group) => group,
                None => match load_group(self, group_id).await? {
                    Some(group) => group,
                    None => return Err(StoreError::NotFound(Missing::Conversation)),
                },
            };
            if !changes.messages.is_empty()
                && changes
                    .messages
                    .iter()
                    .all(|m| m.group != group.id || !group.has_member(m.sender.uuid))
                && changes.marks.is_empty()
                && changes.removed.is_empty()
            {
                return Err(StoreError::Invalid("sender_not_member"));
            }
            let Some(next) = plan(self, &group, changes).await? else {
                return Ok(Applied::AlreadyCurrent);
            };
            let moved = next.last != group.last;
            let mut writes = vec![Write::Put {
                record: Record::Group(next.clone()),
                condition: Condition::GroupVersionIs(group.version),
            }];
            for (old, new) in group.rows().into_iter().zip(next.rows()) {
                if old == new {
                    continue;
                }
                let old_key = Record::Conversation(old).key();
                let new = Record::Conversation(new);
                // Two messages of the same microsecond give the row the same key.
                if old_key != new.key() {
                    writes.push(Write::Delete { key: old_key });
                }
                writes.push(Write::put(new));
            }
            let result = self.write(writes).await;
            if let Some(cache) = cache {
                match result {
                    Ok(()) => cache.insert(next),
                    // The group may have changed (or a lost response may hide
                    // that it did): read it next time.
                    Err(_) => cache.forget(group_id),
                }
            }
            match result {
                Ok(()) if moved => return Ok(Applied::Moved),
                Ok(()) => return Ok(Applied::Counted),
                // Another handler changed the group since we read it (or the
                // guess was out of date): look again, at once the first time
                // (a stale guess), after a jittered pause from then on
                // (contenders). Other failures go back to the stream handler,
                // whose retry policy decides.
                Err(WriteError::ConditionFailed { .. }) if attempt < RACE_ATTEMPTS => {
                    if attempt > 1
                        && let Some(delay) = races.next()
                    {
                        tokio::time::sleep(delay).await;
                    }
                }
                Err(WriteError::ConditionFailed { .. }) => {
                    return Err(StoreError::TransactionCancelled {
                        reasons: vec!["ConditionalCheckFailed".into()],
                    });
                }
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
    }

    async fn mark_read(
        &self,
        group: GroupId,
        member: UserId,
        through: MessageRef,
    ) -> StoreResult<MessageRef> {
        if !Repository::is_member(self, group, member).await? {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        if Repository::message(self, group, through).await?.is_none() {
            return Err(StoreError::NotFound(Missing::Message));
        }
        let write = Write::Put {
            record: Record::ReadMarker(ReadMarker {
                group,
                member,
                through,
            }),
            condition: Condition::MarkerBefore(through),
        };
        match self.write(vec![write]).await {
            Ok(()) => Ok(through),
            // Already at this message or a newer one: that one stands.
            Err(WriteError::ConditionFailed { .. }) => {
                match self.get(&ItemKey::ReadMarker(group, member)).await? {
                    Some(Record::ReadMarker(current)) => Ok(current.through),
                    Some(other) => Err(unexpected(&other)),
                    // Markers are never deleted.
                    None => Err(StoreError::Backend("a read marker vanished".into())),
                }
            }
            Err(WriteError::Store(e)) => Err(e),
        }
    }

    async fn find_message(
        &self,
        group: GroupId,
        member: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message> {
        member_message(self, group, member, lookup)
            .await
            .map(|(_, message)| message)
    }

    async fn edit_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
        text: MessageText,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let current = own_message(self, group, author, lookup).await?;
        if current.deleted {
            return Err(StoreError::Conflict(Clash::MessageDeleted));
        }
        if current.text == text.as_str() {
            return Ok(current);
        }
        // Later than the edit it replaces, even if this clock is behind the
        // one that stamped that edit: the author's later request wins.
        let stamp = current.edited_at.map_or(at, |before| {
            at.max(before.plus(chrono::TimeDelta::microseconds(1)))
        });
        let edited = Message {
            text: text.into_string(),
            edited_at: Some(stamp),
            ..current
        };
        let write = Write::Put {
            record: Record::Message(edited.clone()),
            condition: Condition::EditableBefore(stamp),
        };
        match self.write(vec![write]).await {
            Ok(()) => Ok(edited),
            // Deleted, or edited with a later stamp, since it was read.
            Err(WriteError::ConditionFailed { .. }) => {
                match Repository::message(self, group, edited.reference()).await? {
                    Some(m) if m.deleted => Err(StoreError::Conflict(Clash::MessageDeleted)),
                    Some(m) => Ok(m),
                    None => Err(StoreError::NotFound(Missing::Message)),
                }
            }
            Err(WriteError::Store(e)) => Err(e),
        }
    }

    async fn delete_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message> {
        let current = own_message(self, group, author, lookup).await?;
        if current.deleted {
            return Ok(current);
        }
        let tombstone = current.tombstone();
        let write = Write::Put {
            record: Record::Message(tombstone.clone()),
            condition: Condition::NotDeleted,
        };
        match self.write(vec![write]).await {
            // Deleted by a concurrent request of the same author: the same tombstone.
            Ok(()) | Err(WriteError::ConditionFailed { .. }) => Ok(tombstone),
            Err(WriteError::Store(e)) => Err(e),
        }
    }

    async fn read_markers(&self, group: GroupId, member: UserId) -> StoreResult<Vec<ReadMarker>> {
        if !Repository::is_member(self, group, member).await? {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        // One per member who ever marked.
        self.query(
            Partition::ReadMarkers(group),
            None,
            PAGE_MAX,
            Order::OldestFirst,
            Read::Eventual,
        )
        .await?
        .into_iter()
        .map(|(_, record)| match record {
            Record::ReadMarker(r) => Ok(r),
            other => Err(unexpected(&other)),
        })
        .collect()
    }

    async fn unread_total(&self, owner: UserId) -> StoreResult<u32> {
        let mut total = 0u32;
        let mut page = PageRequest::first(PAGE_MAX);
        loop {
            let rows = Repository::conversations(self, owner, &page).await?;
            total = rows
                .items
                .iter()
                .fold(total, |sum, row| sum.saturating_add(row.unread));
            match rows.next {
                Some(next) => page = PageRequest::after(PAGE_MAX, next),
                None => return Ok(total),
            }
        }
    }

    async fn current_group(&self, group: GroupId) -> StoreResult<Option<Group>> {
        if let Some(found) = self.group_cache().and_then(|cache| cache.get(group)) {
            return Ok(Some(found));
        }
        load_group(self, group).await
    }

    async fn import_messages(&self, group: GroupId, messages: Vec<Message>) -> StoreResult<()> {
        let Some(found) = load_group(self, group).await? else {
            return Err(StoreError::NotFound(Missing::Conversation));
        };
        if messages
            .iter()
            .any(|m| m.group != group || !found.has_member(m.sender.uuid))
        {
            return Err(StoreError::Invalid("sender_not_member"));
        }
        self.put_batch(messages.iter().cloned().map(Record::Message).collect())
            .await?;
        let changes = Changes {
            messages,
            ..Changes::default()
        };
        Repository::apply_changes(self, group, &changes).await?;
        Ok(())
    }

    async fn claim_idempotency(
        &self,
        claim: IdempotencyClaim,
        now: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let key = ItemKey::Idempotency(claim.user, claim.key.clone());
        let write = Write::Put {
            record: Record::Idempotency(claim.clone()),
            condition: Condition::NotExistsOrExpired(now),
        };
        match self.write(vec![write]).await {
            Ok(()) => Ok(claim),
            Err(WriteError::ConditionFailed { .. }) => match self.get(&key).await? {
                Some(Record::Idempotency(existing)) => Ok(existing),
                Some(other) => Err(unexpected(&other)),
                // Gone since (it expired and was deleted): claim again.
                None => match self
                    .write(vec![Write::create(Record::Idempotency(claim.clone()))])
                    .await
                {
                    Ok(()) => Ok(claim),
                    Err(WriteError::ConditionFailed { .. }) => {
                        Err(StoreError::Conflict(Clash::ItemExists))
                    }
                    Err(WriteError::Store(e)) => Err(e),
                },
            },
            Err(WriteError::Store(e)) => Err(e),
        }
    }

    async fn message(&self, group: GroupId, at: MessageRef) -> StoreResult<Option<Message>> {
        match self.get(&ItemKey::message(group, at)).await? {
            Some(Record::Message(m)) => Ok(Some(m)),
            Some(other) => Err(unexpected(&other)),
            None => Ok(None),
        }
    }

    async fn members(&self, group: GroupId) -> StoreResult<Vec<UserSummary>> {
        if let Some(group) = self.group_cache().and_then(|cache| cache.get(group)) {
            return Ok(group.members.to_vec());
        }
        if let Some(group) = load_group(self, group).await? {
            return Ok(group.members.to_vec());
        }
        // A conversation the seed wrote: each row names the other member.
        let members: Vec<UserSummary> = self
            .group_rows(group)
            .await?
            .into_iter()
            .filter_map(|row| match row {
                Record::Conversation(c) => Some(c.other),
                _ => None,
            })
            .collect();
        if members.is_empty() {
            return Err(StoreError::NotFound(Missing::Conversation));
        }
        Ok(members)
    }

    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        self.write(vec![Write::put(Record::Connection(connection.clone()))])
            .await
            .map_err(WriteError::into_store)
    }

    async fn remove_connection(&self, user: UserId, id: &str) -> StoreResult<()> {
        self.write(vec![Write::Delete {
            key: ItemKey::Connection(user, id.to_owned()),
        }])
        .await
        .map_err(WriteError::into_store)
    }

    async fn connections(&self, user: UserId, now: i64) -> StoreResult<Vec<Connection>> {
        // A user has a few: one per open tab or device.
        let found = self
            .query(
                Partition::Connections(user),
                None,
                CONNECTIONS_MAX,
                Order::NewestFirst,
                Read::Eventual,
            )
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(_, record)| match record {
                Record::Connection(c) if c.expires_at > now => Some(c),
                _ => None,
            })
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        Table::ping(self).await
    }
}

/// The most live connections of one user that are notified.
const CONNECTIONS_MAX: usize = 100;

async fn load_group<T: Table + ?Sized>(table: &T, id: GroupId) -> StoreResult<Option<Group>> {
    match table.get(&ItemKey::Group(id)).await? {
        Some(Record::Group(group)) => {
            if let Some(cache) = table.group_cache() {
                cache.insert(group.clone());
            }
            Ok(Some(group))
        }
        Some(other) => Err(unexpected(&other)),
        None => Ok(None),
    }
}

/// What a group becomes with a batch's changes, or `None` when it already
/// reflects them.
///
/// The place: the rows stand at the newest message ever applied, deleted or
/// not; only a newer message moves them.
///
/// The preview: the newest message up to the place that is not deleted. Of
/// several records of one message, the latest state counts (sent, then each
/// edit by its stamp, then deleted), so replays and reordering cannot bring
/// back an older text. A newer message's record is shown as it is (a later
/// state of it, if any, follows on the stream); an edit of the shown message
/// replaces the text if its stamp is later. When the shown message is
/// deleted, or a record comes of a message between it and the place (a late
/// one, or a replay of one since deleted), the preview is read again from the
/// table.
///
/// Unread counts stay exact without reading messages in the common case: a
/// message newer than the group's last one was never applied, so it adds one
/// for each member it is unread for (unless deleted). A member's count is
/// read again from the messages (up to the cap) when their marker moved, when
/// a record comes of an older message that is unread for them (a replay, a
/// late one, an edit or a delete), and in a group never counted. A recount
/// covers only messages up to the group's new last one, which the rows then
/// show: a newer message is counted once, when it is applied.
async fn plan<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    changes: &Changes,
) -> StoreResult<Option<Group>> {
    // The latest state of each message of the batch.
    let mut latest: HashMap<MessageId, &Message> = HashMap::new();
    for m in changes
        .messages
        .iter()
        .filter(|m| m.group == group.id && group.has_member(m.sender.uuid))
    {
        let entry = latest.entry(m.id).or_insert(m);
        if m.revision() > entry.revision() {
            *entry = m;
        }
    }
    let messages: Vec<&Message> = latest.into_values().collect();
    let removed = &changes.removed;
    let mut next = group.clone();
    // A message removed outright does not move the rows: it is gone.
    if let Some(newest) = messages.iter().map(|m| m.reference()).max()
        && newest > group.last
    {
        next.last = newest;
    }
    let shown_gone = group.shown.is_some_and(|shown| {
        removed.contains(&shown) || messages.iter().any(|m| m.reference() == shown && m.deleted)
    });
    let between = messages.iter().any(|m| {
        let at = m.reference();
        at <= group.last && group.shown.is_none_or(|shown| at > shown)
    });
    if shown_gone || between {
        match newest_live(table, group.id, next.last).await? {
            Some(m) => show(&mut next, &m),
            None => {
                next.shown = None;
                next.shown_edited_at = None;
                next.last_message = String::new();
            }
        }
    } else if let Some(fresh) = messages
        .iter()
        .filter(|m| m.reference() > group.last && !m.deleted)
        .max_by_key(|m| m.reference())
    {
        show(&mut next, fresh);
    } else if let Some(edit) = messages.iter().find(|m| {
        Some(m.reference()) == group.shown && !m.deleted && m.edited_at > group.shown_edited_at
    }) {
        show(&mut next, edit);
    }
    for (index, member) in group.members.iter().enumerate() {
        let was = group.reads[index];
        let through = changes
            .marks
            .iter()
            .filter(|r| r.group == group.id && r.member == member.uuid)
            .map(|r| r.through)
            .chain(was.through)
            .max();
        let after_marker = |at: MessageRef| through.is_none_or(|t| at > t);
        let unread_for = |m: &Message| m.sender.uuid != member.uuid && after_marker(m.reference());
        let late = messages
            .iter()
            .any(|m| m.reference() <= group.last && unread_for(m))
            || removed
                .iter()
                .any(|&at| at <= next.last && after_marker(at));
        let unread = match was.unread {
            Some(count) if through == was.through && !late => {
                let fresh = messages
                    .iter()
                    .filter(|m| m.reference() > group.last && !m.deleted && unread_for(m))
                    .count();
                count
                    .saturating_add(u32::try_from(fresh).unwrap_or(u32::MAX))
                    .min(UNREAD_CAP + 1)
            }
            _ => count_unread(table, group.id, member.uuid, through, next.last).await?,
        };
        next.reads[index] = ReadState {
            through,
            unread: Some(unread),
        };
    }
    if next == *group {
        return Ok(None);
    }
    next.version = group.version + 1;
    Ok(Some(next))
}

/// Makes `message` (not deleted) the group's preview.
fn show(group: &mut Group, message: &Message) {
    group.shown = Some(message.reference());
    group.shown_edited_at = message.edited_at;
    group.last_message.clone_from(&message.text);
}

/// The newest message of `group` up to `last` that is not deleted, as stored
/// now (strongly consistent).
async fn newest_live<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    last: MessageRef,
) -> StoreResult<Option<Message>> {
    // From just past `last` (sort keys of `last`'s time and id order first),
    // a few at a time: tombstones are rarely many in a row.
    let start = format!("{}~", last.sort_key());
    let found = scan_messages(
        table,
        group,
        Some(start),
        LIVE_PAGE,
        Order::NewestFirst,
        |m| !m.deleted && m.reference() <= last,
    )
    .await?;
    Ok(found.map(|(_, m)| m))
}

/// Messages read per query when looking for the newest one not deleted.
const LIVE_PAGE: usize = 10;

/// A message of `group` by id, with the key it is stored under: one read
/// when its time is known, otherwise (or when that read misses) a search of
/// the conversation, newest first. Strongly consistent.
async fn locate<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    lookup: MessageLookup,
) -> StoreResult<Option<(ItemKey, Message)>> {
    if let Some(at) = lookup.sent_at {
        let key = ItemKey::message(group, MessageRef { at, id: lookup.id });
        match table.get(&key).await? {
            Some(Record::Message(m)) if m.id == lookup.id => return Ok(Some((key, m))),
            Some(Record::Message(_)) | None => {}
            Some(other) => return Err(unexpected(&other)),
        }
    }
    scan_messages(table, group, None, PAGE_MAX, Order::NewestFirst, |m| {
        m.id == lookup.id
    })
    .await
}

/// The first message of `group`, read in `order` from after the sort key
/// `start` (or from the partition's first), at which `stop` says to stop,
/// with its key; read `page` at a time, strongly consistent.
async fn scan_messages<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    start: Option<String>,
    page: usize,
    order: Order,
    mut stop: impl FnMut(&Message) -> bool,
) -> StoreResult<Option<(ItemKey, Message)>> {
    let mut after = start;
    loop {
        let found = table
            .query(
                Partition::Messages(group),
                after.as_deref(),
                page,
                order,
                Read::Consistent,
            )
            .await?;
        let full = found.len() == page;
        for (key, record) in found {
            if let Record::Message(m) = record
                && stop(&m)
            {
                return Ok(Some((key, m)));
            }
            after = Some(key.sk());
        }
        if !full {
            return Ok(None);
        }
    }
}

/// A message of a conversation `member` belongs to, with the key it is
/// stored under: not found for a non-member, as for a missing message.
async fn member_message<T: Table>(
    table: &T,
    group: GroupId,
    member: UserId,
    lookup: MessageLookup,
) -> StoreResult<(ItemKey, Message)> {
    if !Repository::is_member(table, group, member).await? {
        return Err(StoreError::NotFound(Missing::Conversation));
    }
    locate(table, group, lookup)
        .await?
        .ok_or(StoreError::NotFound(Missing::Message))
}

/// One of `author`'s messages in `group`, for an edit or a delete: anyone
/// else's, like a missing one, is not found; so is a message of a
/// conversation `author` is not in.
async fn own_message<T: Table>(
    table: &T,
    group: GroupId,
    author: UserId,
    lookup: MessageLookup,
) -> StoreResult<Message> {
    let (key, m) = member_message(table, group, author, lookup).await?;
    if m.sender.uuid != author {
        return Err(StoreError::NotFound(Missing::Message));
    }
    // The seed's messages are stored under keys without their id: an edit
    // would write a second item, so they stay as they are.
    if key != Record::Message(m.clone()).key() {
        return Err(StoreError::Invalid("message_not_editable"));
    }
    Ok(m)
}

/// The messages of `group` after `through`, up to `last`, that others sent,
/// counted up to the cap (`UNREAD_CAP + 1` stands for more). Strongly
/// consistent, so every message the stream has delivered is seen.
async fn count_unread<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    through: Option<MessageRef>,
    last: MessageRef,
) -> StoreResult<u32> {
    let mut count = 0;
    let start = through.map(|t| t.sort_key());
    scan_messages(table, group, start, PAGE_MAX, Order::OldestFirst, |m| {
        if m.reference() > last {
            return true;
        }
        if m.sender.uuid != member && !m.deleted {
            count += 1;
        }
        count > UNREAD_CAP
    })
    .await?;
    Ok(count)
}

async fn put_message<T: Table + ?Sized>(table: &T, message: Message) -> StoreResult<Message> {
    match table
        .write(vec![Write::create(Record::Message(message.clone()))])
        .await
    {
        Ok(()) => Ok(message),
        Err(WriteError::ConditionFailed { .. }) => Err(StoreError::Conflict(Clash::ItemExists)),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// The sort key a page starts after, from its cursor.
fn start_after(partition: Partition, page: &PageRequest) -> StoreResult<Option<String>> {
    Ok(page
        .cursor
        .as_ref()
        .map(|cursor| cursor.sort_key_in(partition))
        .transpose()?)
}

/// One page of a partition in `order`, with a cursor when more follow.
async fn list<T: Table + ?Sized, I>(
    table: &T,
    partition: Partition,
    after: Option<String>,
    page: &PageRequest,
    order: Order,
    decode: impl Fn(Record) -> StoreResult<I>,
) -> StoreResult<Page<I>> {
    let limit = page.clamped_limit();
    // One item more than asked tells whether another page follows, so the
    // last page never carries a cursor to an empty one.
    let mut records = table
        .query(
            partition,
            after.as_deref(),
            limit + 1,
            order,
            Read::Eventual,
        )
        .await?;
    let more = records.len() > limit;
    records.truncate(limit);
    let next = match records.last() {
        Some((key, _)) if more => Some(Cursor::after(&key.pk(), &key.sk())),
        _ => None,
    };
    let items = records
        .into_iter()
        .map(|(_, record)| decode(record))
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, next })
}

fn unexpected(record: &Record) -> StoreError {
    StoreError::Decode(format!(
        "unexpected {} item at {}",
        record.entity(),
        record.key()
    ))
}

/// The backoff between the repository's race attempts.
fn race_backoff() -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    crate::retry::backoff(
        Duration::from_millis(20),
        Duration::from_millis(500),
        RACE_ATTEMPTS as usize,
    )
    .build()
}
