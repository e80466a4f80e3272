//! Messages: reading a conversation (pattern A) and catching up, sending
//! (pattern C), finding one, and its later states, edits and tombstones
//! (pattern I). Every call here is on behalf of a member and checks it.

use dm_domain::{
    GroupId, ItemKey, Message, MessageId, MessageRef, MessageText, Page, Partition, Timestamp,
    UserId, UserSummary,
};

use super::{
    membership::require_member,
    paging::{PAGE_MAX, PageRequest, list, start_after},
    unchecked,
};
use crate::{
    Clash, Missing, Record, StoreError, StoreResult,
    table::{Condition, Order, Read, Table, Write, WriteError},
};

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

    pub(super) fn into_message(self, group: GroupId, sender: &UserSummary) -> Message {
        Message {
            id: self.id,
            group,
            created_at: self.created_at,
            text: self.text.into_string(),
            sender: sender.clone(),
            edited_at: None,
            deleted: false,
            members_version: 0,
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

/// A page of the messages of a conversation `member` belongs to, newest page
/// first, each page oldest to newest.
pub(super) async fn page<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    page: &PageRequest,
) -> StoreResult<Page<Message>> {
    let partition = Partition::Messages(group);
    // The cursor is checked before the membership read: a bad one costs nothing.
    let after = start_after(partition, page)?;
    require_member(table, group, member).await?;
    let mut page = list(
        table,
        partition,
        after,
        page,
        Order::NewestFirst,
        decode_message,
    )
    .await?;
    page.items.reverse();
    Ok(page)
}

/// The messages after `after`, oldest first, up to `limit`.
pub(super) async fn after<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    after: MessageBound,
    limit: usize,
) -> StoreResult<Page<Message>> {
    require_member(table, group, member).await?;
    let page = PageRequest {
        limit,
        cursor: None,
    };
    list(
        table,
        Partition::Messages(group),
        Some(after.sort_key()),
        &page,
        Order::OldestFirst,
        decode_message,
    )
    .await
}

fn decode_message(record: Record) -> StoreResult<Message> {
    match record {
        Record::Message(m) => Ok(m),
        other => Err(other.unexpected()),
    }
}

/// Sends a message to a conversation the sender belongs to.
pub(super) async fn send<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    sender: &UserSummary,
    message: NewMessage,
) -> StoreResult<Message> {
    let checked_at = require_member(table, group, sender.uuid).await?;
    let message = Message {
        members_version: checked_at,
        ..message.into_message(group, sender)
    };
    put(table, message).await
}

/// Creates a message item; one that exists is `Conflict(ItemExists)`.
async fn put<T: Table + ?Sized>(table: &T, message: Message) -> StoreResult<Message> {
    match table
        .write(vec![Write::create(Record::Message(message.clone()))])
        .await
    {
        Ok(()) => Ok(message),
        Err(WriteError::ConditionFailed { .. }) => Err(StoreError::Conflict(Clash::ItemExists)),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// A message of a conversation `member` belongs to, as stored now.
pub(super) async fn find<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    lookup: MessageLookup,
) -> StoreResult<Message> {
    member_message(table, group, member, lookup)
        .await
        .map(|(_, message)| message)
}

/// Edits one of `author`'s messages, ordered by the edits' stamps.
pub(super) async fn edit<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    author: UserId,
    lookup: MessageLookup,
    text: MessageText,
    at: Timestamp,
) -> StoreResult<Message> {
    let current = own_message(table, group, author, lookup).await?;
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
    let write = Write::put_if(
        Record::Message(edited.clone()),
        Condition::EditableBefore(stamp),
    );
    match table.write(vec![write]).await {
        Ok(()) => Ok(edited),
        // Deleted, or edited with a later stamp, since it was read.
        Err(WriteError::ConditionFailed { .. }) => {
            match unchecked::message(table, group, edited.reference()).await? {
                Some(m) if m.deleted => Err(StoreError::Conflict(Clash::MessageDeleted)),
                Some(m) => Ok(m),
                None => Err(StoreError::NotFound(Missing::Message)),
            }
        }
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// Deletes one of `author`'s messages: a tombstone in its place.
pub(super) async fn delete<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    author: UserId,
    lookup: MessageLookup,
) -> StoreResult<Message> {
    let current = own_message(table, group, author, lookup).await?;
    if current.deleted {
        return Ok(current);
    }
    let tombstone = current.tombstone();
    let write = Write::put_if(Record::Message(tombstone.clone()), Condition::NotDeleted);
    match table.write(vec![write]).await {
        // Deleted by a concurrent request of the same author: the same tombstone.
        Ok(()) | Err(WriteError::ConditionFailed { .. }) => Ok(tombstone),
        Err(WriteError::Store(e)) => Err(e),
    }
}

/// A message of a conversation `member` belongs to, with the key it is
/// stored under: not found for a non-member, as for a missing message.
async fn member_message<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: UserId,
    lookup: MessageLookup,
) -> StoreResult<(ItemKey, Message)> {
    require_member(table, group, member).await?;
    locate(table, group, lookup)
        .await?
        .ok_or(StoreError::NotFound(Missing::Message))
}

/// One of `author`'s messages in `group`, for an edit or a delete: anyone
/// else's, like a missing one, is not found; so is a message of a
/// conversation `author` is not in.
async fn own_message<T: Table + ?Sized>(
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
            Some(other) => return Err(other.unexpected()),
        }
    }
    scan(table, group, None, PAGE_MAX, Order::NewestFirst, |m| {
        m.id == lookup.id
    })
    .await
}

/// The newest message of `group`, strongly consistent.
pub(super) async fn newest<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
) -> StoreResult<Option<Message>> {
    let found = scan(table, group, None, 1, Order::NewestFirst, |_| true).await?;
    Ok(found.map(|(_, m)| m))
}

/// The first message of `group`, read in `order` from after the sort key
/// `start` (or from the partition's first), at which `stop` says to stop,
/// with its key; read `page` at a time, strongly consistent. The one scan
/// behind the lookup, the preview's re-read and the unread recount.
pub(super) async fn scan<T: Table + ?Sized>(
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
