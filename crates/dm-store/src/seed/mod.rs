//! The seed: three users and one conversation of one hundred messages.
//!
//! Used by `cargo xtask seed` (DynamoDB) and `dm-api --store memory --seed`.
//! Ids and Cognito subjects are fixed, so a token minted for a seeded user
//! works against any seeded store, and seeding twice changes nothing.

use chrono::{DurationRound, TimeDelta, Utc};
use dm_domain::{
    DisplayName, GroupId, Handle, Message, MessageId, MessageText, NewUser, Timestamp, UserId,
};
use uuid::Uuid;

use crate::{Clash, NewMessage, Repository, StoreError, StoreResult};

mod conversation;

/// A seeded user: handle, display name, uuid, Cognito subject.
#[derive(Debug, Clone, Copy)]
pub struct SeedUser {
    /// Handle, without `@`.
    pub handle: &'static str,
    /// Display name.
    pub display_name: &'static str,
    /// Fixed uuid.
    pub uuid: Uuid,
    /// Fixed Cognito subject, which local tokens carry.
    pub sub: &'static str,
}

/// The seeded users.
pub const USERS: [SeedUser; 3] = [
    SeedUser {
        handle: "andrewbrown",
        display_name: "Andrew Brown",
        uuid: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001),
        sub: "5eed0000-0000-4000-8000-00000000a001",
    },
    SeedUser {
        handle: "bayko",
        display_name: "Andrew Bayko",
        uuid: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0002),
        sub: "5eed0000-0000-4000-8000-00000000a002",
    },
    SeedUser {
        handle: "londo",
        display_name: "Londo Mollari",
        uuid: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0003),
        sub: "5eed0000-0000-4000-8000-00000000a003",
    },
];

/// How many messages the seeded conversation has.
pub const MESSAGES: usize = conversation::LINES.len();

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Users created (0 when they existed).
    pub users_created: usize,
    /// Messages written (0 when the conversation existed).
    pub messages_written: usize,
    /// The seeded conversation.
    pub group: GroupId,
}

fn message_id(i: usize) -> MessageId {
    MessageId::from_uuid(Uuid::from_u128(
        0x5eed_0000_0000_4000_8000_1000_0000_0000 + i as u128,
    ))
}

/// Seeds `repo`, calling `progress(done, total)` as messages are written.
/// Seeding a seeded store changes nothing.
pub async fn seed(
    repo: &dyn Repository,
    mut progress: impl FnMut(usize, usize) + Send,
) -> StoreResult<Seeded> {
    let mut users = Vec::new();
    let mut users_created = 0;
    for u in USERS {
        let new = NewUser {
            uuid: UserId::from_uuid(u.uuid),
            handle: Handle::parse(u.handle).map_err(|_| StoreError::Invalid("seed handle"))?,
            display_name: DisplayName::parse(u.display_name)
                .map_err(|_| StoreError::Invalid("seed name"))?,
            cognito_user_id: Some(u.sub.to_owned()),
        };
        match repo.create_user(new).await {
            Ok(user) => {
                users_created += 1;
                users.push(user);
            }
            Err(StoreError::Conflict(Clash::UserExists)) => {
                users.push(repo.user(UserId::from_uuid(u.uuid)).await?)
            }
            Err(e) => return Err(e),
        }
    }
    let (a, b) = (users[0].summary(), users[1].summary());
    if let Some(group) = repo.conversation_between(a.uuid, b.uuid).await? {
        return Ok(Seeded {
            users_created,
            messages_written: 0,
            group,
        });
    }
    // The conversation ends a day ago, a message every seven minutes.
    let step = TimeDelta::minutes(7);
    let now = Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or_else(|_| Utc::now());
    let start = Timestamp::from_datetime(now - TimeDelta::days(1) - step * MESSAGES as i32);
    let at = |i: usize| start.plus(step * i as i32);
    let text = |i: usize| {
        MessageText::parse(conversation::LINES[i]).map_err(|_| StoreError::Invalid("seed text"))
    };
    let first = NewMessage {
        id: message_id(0),
        created_at: at(0),
        text: text(0)?,
    };
    let group = repo.start_conversation(&a, &b, first).await?.message.group;
    progress(1, MESSAGES);
    let rest: Vec<Message> = (1..MESSAGES)
        .map(|i| {
            Ok(Message {
                id: message_id(i),
                group,
                created_at: at(i),
                text: text(i)?.into_string(),
                sender: if i % 2 == 0 { a.clone() } else { b.clone() },
                edited_at: None,
                deleted: false,
                members_version: 0,
            })
        })
        .collect::<StoreResult<_>>()?;
    let mut written = 1;
    for chunk in rest.chunks(25) {
        repo.import_messages(group, chunk.to_vec()).await?;
        written += chunk.len();
        progress(written, MESSAGES);
    }
    Ok(Seeded {
        users_created,
        messages_written: written,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryRepository, PageRequest};

    #[tokio::test]
    async fn seeds_once_and_only_once() {
        let repo = MemoryRepository::new();
        let mut calls = 0;
        let first = seed(&repo, |_, _| calls += 1).await.unwrap();
        assert_eq!((first.users_created, first.messages_written), (3, MESSAGES));
        assert!(calls >= 2);
        let again = seed(&repo, |_, _| {}).await.unwrap();
        assert_eq!(
            (again.users_created, again.messages_written, again.group),
            (0, 0, first.group)
        );

        let andrew = UserId::from_uuid(USERS[0].uuid);
        let rows = repo
            .conversations(andrew, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.items[0].other.handle, "bayko");
        assert_eq!(rows.items[0].preview, conversation::LINES[MESSAGES - 1]);
        let page = repo
            .messages(first.group, andrew, &PageRequest::first(100))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 100);
        assert!(
            page.items.iter().all(|m| m.created_at < Timestamp::now()),
            "all in the past"
        );
        assert_eq!(page.items[0].sender.handle, "andrewbrown");
        assert_eq!(page.items[1].sender.handle, "bayko");
        let sub = repo.user_by_cognito_sub(USERS[2].sub).await.unwrap();
        assert_eq!(sub.handle.as_str(), "londo");
    }
}
