//! The workload's seed: users, then conversations between distinct pairs,
//! each with its history of messages, a day old as in the reference.

use std::collections::HashSet;

use anyhow::bail;
use dm_domain::{
    DisplayName, GroupId, Handle, Message, MessageId, MessageText, NewUser, User, UserId,
};
use dm_store::{NewMessage, Repository};
use rand::{rngs::SmallRng, seq::SliceRandom};

use crate::Workload;

/// A conversation of the workload, and its two members.
pub(crate) struct Conversation {
    pub(crate) group: GroupId,
    pub(crate) members: [User; 2],
}

/// What was seeded.
pub(crate) struct Seeded {
    pub(crate) users: Vec<User>,
    pub(crate) conversations: Vec<Conversation>,
    /// The ids of the history's messages, for the stream side to handle.
    pub(crate) messages: Vec<MessageId>,
}

/// Seeded messages are a day old, as in the reference.
fn base_time() -> dm_domain::Timestamp {
    dm_domain::Timestamp::now().plus(chrono::TimeDelta::days(-1))
}

/// Seeds `workload`'s users and conversations, picking pairs with `rng`.
pub(crate) async fn seed(
    repo: &dyn Repository,
    workload: &Workload,
    rng: &mut SmallRng,
) -> anyhow::Result<Seeded> {
    let mut users = Vec::with_capacity(workload.users);
    for i in 0..workload.users {
        let user = repo
            .create_user(NewUser {
                uuid: UserId::new(),
                handle: Handle::parse(&format!("user{i}"))?,
                display_name: DisplayName::parse(&format!("User {i}"))?,
                cognito_user_id: Some(format!("bench-{i}-{}", UserId::new())),
            })
            .await?;
        users.push(user);
    }
    if workload.users < 2 || workload.groups > workload.users * (workload.users - 1) / 2 {
        bail!(
            "{} users cannot have {} distinct conversations",
            workload.users,
            workload.groups
        );
    }
    let base = base_time();
    let mut pairs = HashSet::new();
    let mut conversations = Vec::with_capacity(workload.groups);
    let mut seeded_ids = Vec::new();
    while conversations.len() < workload.groups {
        let picked: Vec<&User> = users.choose_multiple(rng, 2).collect();
        let (a, b) = (picked[0].clone(), picked[1].clone());
        if !pairs.insert((a.uuid.min(b.uuid), a.uuid.max(b.uuid))) {
            continue;
        }
        let at = base.plus(chrono::TimeDelta::seconds(conversations.len() as i64));
        let first = NewMessage {
            id: MessageId::new(),
            created_at: at,
            text: MessageText::parse("hello")?,
        };
        let group = repo
            .start_conversation(&a.summary(), &b.summary(), first)
            .await?
            .message
            .group;
        let history: Vec<Message> = (1..workload.seed_messages)
            .map(|m| Message {
                id: MessageId::new(),
                group,
                created_at: at.plus(chrono::TimeDelta::microseconds(m as i64)),
                text: format!("seed message {m}"),
                sender: if m % 2 == 0 { a.summary() } else { b.summary() },
                edited_at: None,
                deleted: false,
                members_version: 0,
            })
            .collect();
        seeded_ids.extend(history.iter().map(|m| m.id));
        repo.import_messages(group, history).await?;
        conversations.push(Conversation {
            group,
            members: [a, b],
        });
    }

    Ok(Seeded {
        users,
        conversations,
        messages: seeded_ids,
    })
}
