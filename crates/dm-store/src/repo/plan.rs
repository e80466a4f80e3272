//! The read-state arithmetic of the row update: what a group item becomes
//! with a batch's changes ([`plan`]): where its rows stand, what they show,
//! and each member's unread count, recounted from the messages
//! ([`count_unread`]) only when the arithmetic cannot tell.

use dm_domain::{Group, GroupId, Message, MessageRef, ReadMarker, ReadState, UNREAD_CAP, UserId};

use super::{messages::scan, paging::PAGE_MAX};
use crate::{
    StoreResult,
    table::{Order, Table},
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
pub(super) async fn plan<T: Table + ?Sized>(
    table: &T,
    group: &Group,
    changes: &Changes,
) -> StoreResult<Option<Group>> {
    // The latest state of each message of the batch.
    let messages = Message::latest_states(
        changes
            .messages
            .iter()
            .filter(|m| m.group == group.id && group.has_member(m.sender.uuid)),
    );
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
                next.preview = String::new();
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
    group.preview.clone_from(&message.text);
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

/// Messages read per query when looking for the newest one not deleted.
const LIVE_PAGE: usize = 10;

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
    scan(table, group, start, PAGE_MAX, Order::OldestFirst, |m| {
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
