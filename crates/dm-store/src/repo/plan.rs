//! The read-state arithmetic of the row update: what one member's row
//! becomes with a batch's changes ([`plan`]): where it stands, what it shows,
//! and the member's unread count, recounted from the messages
//! ([`count_unread`]) only when the arithmetic cannot tell.

use dm_domain::{
    Conversation, Group, GroupId, Message, MessageRef, Partition, ReadMarker, UNREAD_CAP, UserId,
};

use super::{messages::scan, paging::PAGE_MAX};
use crate::{
    Record, StoreError, StoreResult,
    table::{Order, Read, Table},
};

/// A conversation's changes as a stream batch carries them, for
/// [`crate::Repository::apply_changes`].
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
    /// Its group item as a record carries it (a named group made or
    /// changed): each member's row is made if missing. The newer of it and
    /// the item as last read is the one applied.
    pub group: Option<Group>,
}

/// Whose unread count is counted: a member, who counts the others'
/// messages not deleted that reached them (accepted once they had joined).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader {
    /// The member.
    pub(super) member: UserId,
    /// The group's version when they joined.
    pub(super) since: u64,
}

impl Reader {
    /// `member` of `group`; `None` if they are not one.
    pub(super) fn of(group: &Group, member: UserId) -> Option<Self> {
        Some(Self {
            member,
            since: group.joined_version(member)?,
        })
    }

    /// Whether `m` is another's message that reached them (deleted or not).
    fn reached(self, m: &Message) -> bool {
        m.sender.uuid != self.member && m.members_version >= self.since
    }

    /// Whether `m` counts as unread for them (their marker aside).
    fn counts(self, m: &Message) -> bool {
        self.reached(m) && !m.deleted
    }
}

/// What the members' plans of one batch share: the newest messages up to a
/// place, read once (one page, newest first) for all the rows that need the
/// newest one not deleted, and for the recounts it covers.
#[derive(Debug, Default)]
pub(super) struct Shared {
    newest: Option<Newest>,
}

/// One page of a conversation's newest messages up to `upto`.
#[derive(Debug)]
struct Newest {
    upto: MessageRef,
    /// Newest first, as stored (strongly consistent).
    page: Vec<Message>,
    /// Whether the page holds every message up to `upto`.
    whole: bool,
}

impl Shared {
    /// The newest message of `group` up to `last` that is not deleted.
    async fn newest_live<T: Table + ?Sized>(
        &mut self,
        table: &T,
        group: GroupId,
        last: MessageRef,
    ) -> StoreResult<Option<Message>> {
        let newest = self.newest(table, group, last).await?;
        if let Some(m) = newest.page.iter().find(|m| !m.deleted) {
            return Ok(Some(m.clone()));
        }
        if newest.whole {
            return Ok(None);
        }
        // All tombstones: read on from past the page, not the page again.
        let start = newest.page.last().map(|m| m.reference().sort_key());
        newest_live_after(table, group, start.unwrap_or_else(|| just_past(last)), last).await
    }

    /// `member`'s unread count after `through` up to `last`, from the page of
    /// newest messages when it reaches back to `through`, else read.
    async fn count_unread<T: Table + ?Sized>(
        &mut self,
        table: &T,
        group: GroupId,
        member: Reader,
        through: Option<MessageRef>,
        last: MessageRef,
    ) -> StoreResult<u32> {
        if let Some(newest) = &self.newest
            && newest.upto == last
        {
            let after = |m: &&Message| through.is_none_or(|t| m.reference() > t);
            let covers = newest.whole || newest.page.last().is_some_and(|m| !after(&m));
            if covers {
                let count = newest
                    .page
                    .iter()
                    .filter(after)
                    .filter(|m| member.counts(m))
                    .count();
                return Ok(u32::try_from(count).unwrap_or(u32::MAX).min(UNREAD_CAP + 1));
            }
        }
        count_unread(table, group, member, through, last).await
    }

    /// The page of newest messages up to `last`, read once.
    async fn newest<T: Table + ?Sized>(
        &mut self,
        table: &T,
        group: GroupId,
        last: MessageRef,
    ) -> StoreResult<&Newest> {
        if self.newest.as_ref().is_none_or(|n| n.upto != last) {
            let found = table
                .query(
                    Partition::Messages(group),
                    Some(&just_past(last)),
                    LIVE_PAGE,
                    Order::NewestFirst,
                    Read::Consistent,
                )
                .await?;
            let whole = found.len() < LIVE_PAGE;
            let page = found
                .into_iter()
                .filter_map(|(_, record)| match record {
                    Record::Message(m) if m.reference() <= last => Some(m),
                    _ => None,
                })
                .collect();
            self.newest = Some(Newest {
                upto: last,
                page,
                whole,
            });
        }
        Ok(self
            .newest
            .as_ref()
            .unwrap_or_else(|| unreachable!("just read")))
    }
}

/// What `row` becomes with a batch's changes, or `None` when it already
/// reflects them.
///
/// The place: the row stands at the newest message ever applied, deleted or
/// not; only a newer message moves it.
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
/// The unread count stays exact without reading messages in the common case:
/// a message newer than the row's last one was never applied to it, so it
/// adds one if it is unread for the owner (unless deleted). The count is read
/// again from the messages (up to the cap) when the owner's marker moved, or
/// when a record comes of an older message that is unread for them (a
/// replay, a late one, an edit or a delete). A recount covers only messages
/// up to the row's new last one: a newer message is counted once, when it is
/// applied.
pub(super) async fn plan<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    row: &Conversation,
    changes: &Changes,
    shared: &mut Shared,
) -> StoreResult<Option<Conversation>> {
    // A named group's row stands at its creation until its first message.
    if row.is_seed_form() {
        return Err(StoreError::Backend(format!(
            "the row of {} in {} names no last message",
            row.owner, row.group
        )));
    }
    let last: Option<MessageRef> = row.last();
    let owner = row.owner;
    // The latest state of each message of the batch.
    let messages =
        Message::latest_states(changes.messages.iter().filter(|m| group.reaches(owner, m)));
    let Some(reader) = Reader::of(group, owner) else {
        return Err(StoreError::NotFound(crate::Missing::Conversation));
    };
    let removed = &changes.removed;
    let mut next = row.clone();
    if let Some(topic) = group.topic()
        && next.topic.as_ref() != Some(&topic)
    {
        next.topic = Some(topic);
    }
    // A message removed outright does not move the row: it is gone.
    let mut next_last = last;
    if let Some(newest) = messages.iter().map(|m| m.reference()).max()
        && Some(newest) > last
    {
        next_last = Some(newest);
        next.last_message_at = newest.at;
        next.last_message_id = Some(newest.id);
    }
    let shown_gone = row.shown.is_some_and(|shown| {
        removed.contains(&shown) || messages.iter().any(|m| m.reference() == shown && m.deleted)
    });
    let between = messages.iter().any(|m| {
        let at = m.reference();
        Some(at) <= last && row.shown.is_none_or(|shown| at > shown)
    });
    if shown_gone || between {
        let live = match next_last {
            Some(upto) => shared.newest_live(table, group.id, upto).await?,
            None => None,
        };
        match live {
            Some(m) => show(&mut next, group, &m),
            None => {
                next.shown = None;
                next.shown_edited_at = None;
                next.preview = String::new();
            }
        }
    } else if let Some(fresh) = messages
        .iter()
        .filter(|m| Some(m.reference()) > last && !m.deleted)
        .max_by_key(|m| m.reference())
    {
        show(&mut next, group, fresh);
    } else if let Some(edit) = messages.iter().find(|m| {
        Some(m.reference()) == row.shown && !m.deleted && m.edited_at > row.shown_edited_at
    }) {
        show(&mut next, group, edit);
    }
    let was = row.read_through;
    let through = changes
        .marks
        .iter()
        .filter(|r| r.group == group.id && r.member == owner)
        .map(|r| r.through)
        .chain(was)
        .max();
    let after_marker = |at: MessageRef| through.is_none_or(|t| at > t);
    let unread_for = |m: &Message| reader.reached(m) && after_marker(m.reference());
    // Of the records of older messages, a message's own record and its
    // tombstone change counts; an edit of one does not (its message's own
    // record, earlier on the stream, counted it or recounts when it comes).
    let late = changes
        .messages
        .iter()
        .filter(|m| group.reaches(owner, m))
        .any(|m| m.edited_at.is_none() && Some(m.reference()) <= last && unread_for(m))
        || removed
            .iter()
            .any(|&at| Some(at) <= next_last && after_marker(at));
    next.unread = if through == was && !late {
        let fresh = messages
            .iter()
            .filter(|m| Some(m.reference()) > last && !m.deleted && unread_for(m))
            .count();
        row.unread
            .saturating_add(u32::try_from(fresh).unwrap_or(u32::MAX))
            .min(UNREAD_CAP + 1)
    } else {
        match next_last {
            Some(upto) => {
                shared
                    .count_unread(table, group.id, reader, through, upto)
                    .await?
            }
            None => 0,
        }
    };
    next.read_through = through;
    if next == *row {
        return Ok(None);
    }
    next.version = row.version + 1;
    Ok(Some(next))
}

/// Makes `message` (not deleted) the row's preview; a named group's row
/// names its sender.
fn show(row: &mut Conversation, group: &Group, message: &Message) {
    if group.topic().is_some()
        && let Some(sender) = group.shown_as(row.owner, Some(&message.sender))
    {
        row.other = sender;
    }
    row.shown = Some(message.reference());
    row.shown_edited_at = message.edited_at;
    row.preview.clone_from(&message.text);
}

/// The newest message of `group` up to `last` that is not deleted, as stored
/// now (strongly consistent).
pub(super) async fn newest_live<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    last: MessageRef,
) -> StoreResult<Option<Message>> {
    newest_live_after(table, group, just_past(last), last).await
}

/// The newest message of `group` up to `last` that is not deleted, read
/// newest first from after the sort key `start`, a few at a time: tombstones
/// are rarely many in a row.
async fn newest_live_after<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    start: String,
    last: MessageRef,
) -> StoreResult<Option<Message>> {
    let found = scan(
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

/// The sort key just past `last`'s, where a newest-first read up to `last`
/// starts: the sort keys of `last`'s time and id order before it.
fn just_past(last: MessageRef) -> String {
    format!("{}~", last.sort_key())
}

/// Messages read per query when looking for the newest one not deleted.
const LIVE_PAGE: usize = 10;

/// The messages of `group` after `through`, up to `last`, that others sent,
/// counted up to the cap (`UNREAD_CAP + 1` stands for more). Strongly
/// consistent, so every message the stream has delivered is seen.
pub(super) async fn count_unread<T: Table + ?Sized>(
    table: &T,
    group: GroupId,
    member: Reader,
    through: Option<MessageRef>,
    last: MessageRef,
) -> StoreResult<u32> {
    let mut count = 0;
    let start = through.map(|t| t.sort_key());
    scan(table, group, start, PAGE_MAX, Order::OldestFirst, |m| {
        if m.reference() > last {
            return true;
        }
        if member.counts(m) {
            count += 1;
        }
        count > UNREAD_CAP
    })
    .await?;
    Ok(count)
}
