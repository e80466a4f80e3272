//! The read-state phase: members mark their conversations read as a reader
//! scrolling through them does. Each mark moves one member's marker
//! [`STEP`] messages further through their conversation's messages (oldest
//! first, as sent so far), so every mark moves a marker and the stream
//! handler recounts that member's unread messages; a member whose marker
//! reached the newest message marks it again (which changes nothing).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use dm_domain::{GroupId, MessageRef, UserId};
use dm_store::{PAGE_MAX, PageRequest, Repository};
use rand::Rng;

use crate::{client::Client, seed::Conversation};

/// Messages a marker moves per mark.
pub const STEP: usize = 2;

/// Each conversation's messages, oldest first, with their senders, read
/// before the phase.
pub(crate) async fn messages_of(
    repo: &dyn Repository,
    conversations: &[Conversation],
) -> anyhow::Result<HashMap<GroupId, Vec<(MessageRef, UserId)>>> {
    let mut out = HashMap::new();
    for c in conversations {
        let mut refs = Vec::new();
        let mut page = PageRequest::first(PAGE_MAX);
        loop {
            let found = repo.messages(c.group, c.members[0].uuid, &page).await?;
            refs.extend(found.items.iter().map(|m| (m.reference(), m.sender.uuid)));
            match found.next {
                Some(next) => page = PageRequest::after(PAGE_MAX, next),
                None => break,
            }
        }
        refs.sort();
        out.insert(c.group, refs);
    }
    Ok(out)
}

/// Runs `ops` marks at `concurrency`; their latencies in milliseconds.
pub(crate) async fn run(
    client: &Client,
    conversations: &Arc<Vec<Conversation>>,
    messages: Arc<HashMap<GroupId, Vec<(MessageRef, UserId)>>>,
    ops: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<f64>> {
    let positions: Arc<Mutex<HashMap<(GroupId, UserId), usize>>> = Arc::default();
    let (client, conversations) = (client.clone(), conversations.clone());
    crate::phases::spread(ops, concurrency, (6151, 5), move |rng| {
        let c = &conversations[rng.gen_range(0..conversations.len())];
        let reader = c.members[rng.gen_range(0..2)].uuid;
        let refs = &messages[&c.group];
        let through = {
            let mut positions = positions.lock().unwrap_or_else(|p| p.into_inner());
            let at = positions.entry((c.group, reader)).or_insert(0);
            *at = (*at + STEP).min(refs.len() - 1);
            refs[*at].0
        };
        let (client, group) = (client.clone(), c.group);
        async move {
            let started = Instant::now();
            client.mark_read(group, reader, through).await?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        }
    })
    .await
}
