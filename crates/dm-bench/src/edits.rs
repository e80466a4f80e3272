//! The edit and delete phases: authors edit their newest message (fixing a
//! typo just sent, the common edit), then delete it (each delete a different
//! message: the newest one left of theirs), as the API receives them. The
//! stream handler then keeps the rows' previews true: an edit of the shown
//! message replaces its text; a delete of it reads the newest message left.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use dm_domain::{GroupId, MessageRef, UserId};
use rand::Rng;

use crate::{client::Client, seed::Conversation};

/// Each conversation's messages by author, oldest first.
pub(crate) type Authored = HashMap<(GroupId, UserId), Vec<MessageRef>>;

/// What a phase does to the message it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Edits the author's newest message.
    Edit,
    /// Deletes the author's newest message not deleted yet.
    Delete,
}

/// Runs `ops` edits or deletes at `concurrency`; their latencies in milliseconds.
pub(crate) async fn run(
    client: &Client,
    conversations: &Arc<Vec<Conversation>>,
    authored: Arc<Mutex<Authored>>,
    change: Change,
    ops: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<f64>> {
    let (client, conversations) = (client.clone(), conversations.clone());
    let seed = if change == Change::Edit {
        7919
    } else {
        104_729
    };
    crate::phases::spread(ops, concurrency, (seed, 5), move |rng| {
        // A random author's, or the next one's with a message left.
        let start = rng.gen_range(0..conversations.len() * 2);
        let picked = {
            let mut authored = authored.lock().unwrap_or_else(|p| p.into_inner());
            (0..conversations.len() * 2).find_map(|step| {
                let at = (start + step) % (conversations.len() * 2);
                let c = &conversations[at / 2];
                let author = c.members[at % 2].uuid;
                let mine = authored.entry((c.group, author)).or_default();
                let target = match change {
                    Change::Edit => mine.last().copied(),
                    Change::Delete => mine.pop(),
                }?;
                Some((c.group, author, target))
            })
        };
        let client = client.clone();
        let text = format!("edited {}", rng.r#gen::<u32>());
        async move {
            let Some((group, author, target)) = picked else {
                anyhow::bail!("no author has a message left to change");
            };
            let started = Instant::now();
            match change {
                Change::Edit => client.edit(group, author, target, &text).await?,
                Change::Delete => client.delete(group, author, target).await?,
            }
            Ok(started.elapsed().as_secs_f64() * 1e3)
        }
    })
    .await
}
