//! Correctness at the end of a run: every message stored, and one row per
//! member per conversation, showing the newest message's preview and an
//! exact unread count.

use std::collections::HashMap;

use dm_domain::{GroupId, User, UserId};
use dm_store::{PageRequest, Repository};

use crate::{report::Correctness, seed::Conversation};

/// Messages stored against expected, and one row per member per
/// conversation, showing its newest message.
pub(crate) async fn check(
    repo: &dyn Repository,
    conversations: &[Conversation],
    users: &[User],
    expected: usize,
) -> anyhow::Result<Correctness> {
    let mut stored = 0;
    let mut newest = HashMap::new();
    // The text each row must show: the newest message not deleted.
    let mut previews: HashMap<GroupId, String> = HashMap::new();
    // What each member's count must be: the other's messages past their marker.
    let mut unread: HashMap<(UserId, GroupId), u32> = HashMap::new();
    for c in conversations {
        let markers = repo.read_markers(c.group, c.members[0].uuid).await?;
        let marker = |member: UserId| {
            markers
                .iter()
                .find(|r| r.member == member)
                .map(|r| r.through)
        };
        let mut request = PageRequest::first(dm_store::PAGE_MAX);
        loop {
            let page = repo.messages(c.group, c.members[0].uuid, &request).await?;
            if request.cursor.is_none() {
                newest.insert(c.group, page.items.last().map(|m| m.id));
            }
            if let Some(live) = page.items.iter().rev().find(|m| !m.deleted) {
                previews.entry(c.group).or_insert_with(|| live.text.clone());
            }
            for member in &c.members {
                let past = page
                    .items
                    .iter()
                    .filter(|m| m.sender.uuid != member.uuid && !m.deleted)
                    .filter(|m| marker(member.uuid).is_none_or(|t| m.reference() > t))
                    .count();
                *unread.entry((member.uuid, c.group)).or_default() += past as u32;
            }
            stored += page.items.len();
            match page.next {
                Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
                None => break,
            }
        }
    }
    let mut rows: HashMap<(UserId, GroupId), usize> = HashMap::new();
    let mut stale = 0;
    let mut wrong_unread = 0;
    for user in users {
        let mut request = PageRequest::first(dm_store::PAGE_MAX);
        loop {
            let page = repo.conversations(user.uuid, &request).await?;
            for row in &page.items {
                *rows.entry((user.uuid, row.group)).or_default() += 1;
                let preview = previews.get(&row.group).map_or("", String::as_str);
                if newest.get(&row.group).copied().flatten() != row.last_message_id
                    || row.preview != preview
                {
                    stale += 1;
                }
                let expected = unread
                    .get(&(user.uuid, row.group))
                    .copied()
                    .unwrap_or(0)
                    .min(dm_domain::UNREAD_CAP + 1);
                if row.unread != expected {
                    wrong_unread += 1;
                }
            }
            match page.next {
                Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
                None => break,
            }
        }
    }
    let extra = rows.values().map(|n| n.saturating_sub(1)).sum();
    let missing = conversations
        .iter()
        .flat_map(|c| c.members.iter().map(move |m| (m.uuid, c.group)))
        .filter(|key| !rows.contains_key(key))
        .count();
    Ok(Correctness {
        messages_expected: expected,
        messages_stored: stored,
        extra_conversation_rows: extra,
        missing_conversation_rows: missing,
        stale_conversation_rows: stale,
        wrong_unread_counts: Some(wrong_unread),
    })
}
