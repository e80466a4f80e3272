//! What every contract case shares: the repository under test ([`Store`]),
//! users, conversations and messages to test with.

pub(crate) use std::{collections::HashSet, sync::Arc};

pub(crate) use chrono::TimeDelta;
pub(crate) use dm_domain::{
    Cursor, CursorError, DisplayName, GroupId, Handle, Message, MessageId, MessageText, NewUser,
    Timestamp, User, UserId,
};
pub(crate) use dm_store::{
    Applied, Clash, IdempotencyClaim, IdempotencyKey, MessageBound, Missing, NewMessage,
    PageRequest, Recipient, Repository, SendOnce, StoreError, testing::Backend,
};

pub(crate) type Repo = Arc<dyn Repository>;

/// The repository under test, and a way to write items behind its back.
#[derive(Clone)]
pub(crate) enum Store {
    Memory(dm_store::MemoryRepository),
    Dynamo(dm_store::DynamoRepository),
}

impl Store {
    /// A fresh, empty store on `backend`.
    pub(crate) async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Memory => Self::Memory(dm_store::MemoryRepository::new()),
            Backend::DynamoDbLocal => Self::Dynamo(dm_store::testing::fresh_table().await),
        }
    }

    pub(crate) fn repo(&self) -> Repo {
        match self {
            Self::Memory(m) => Arc::new(m.clone()),
            Self::Dynamo(d) => Arc::new(d.clone()),
        }
    }

    /// The same table, through a repository with caches of its own, as
    /// another process would use it.
    pub(crate) async fn another_process(&self) -> Repo {
        match self {
            Self::Memory(m) => Arc::new(m.with_own_cache()),
            Self::Dynamo(d) => {
                let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
                let config = dm_store::client::sdk_config(Some(endpoint)).await;
                Arc::new(dm_store::DynamoRepository::new(&config, d.table()).unwrap())
            }
        }
    }

    /// Writes an item as another tool would have, bypassing the repository.
    pub(crate) async fn put_raw(&self, item: serde_dynamo::Item) {
        match self {
            Self::Memory(m) => m.put_item(item).unwrap(),
            Self::Dynamo(d) => {
                d.client()
                    .put_item()
                    .table_name(d.table())
                    .set_item(Some(item.into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

pub(crate) fn new_user(handle: &str) -> NewUser {
    NewUser {
        uuid: UserId::new(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse(&format!("{handle} name")).unwrap(),
        cognito_user_id: Some(format!("sub-{}", UserId::new())),
    }
}

pub(crate) async fn user(repo: &Repo, handle: &str) -> User {
    repo.create_user(new_user(handle)).await.unwrap()
}

pub(crate) fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

pub(crate) fn base_time() -> Timestamp {
    "2024-01-01T00:00:00.000000+00:00".parse().unwrap()
}

pub(crate) fn message_at(s: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        created_at: at,
        text: text(s),
    }
}

/// Starts a conversation between two new users; returns them and its id.
pub(crate) async fn pair(repo: &Repo) -> (User, User, GroupId) {
    let a = user(repo, &format!("a{}", short())).await;
    let b = user(repo, &format!("b{}", short())).await;
    let sent = repo
        .start_conversation(&a.summary(), &b.summary(), message_at("first", base_time()))
        .await
        .unwrap();
    (a, b, sent.message.group)
}

pub(crate) fn short() -> String {
    UserId::new().to_string()[..8].to_owned()
}

pub(crate) async fn all_messages(
    repo: &Repo,
    group: GroupId,
    member: UserId,
    limit: usize,
) -> (Vec<Message>, usize) {
    let mut request = PageRequest::first(limit);
    let mut newest_first = Vec::new();
    let mut pages = 0;
    loop {
        let page = repo.messages(group, member, &request).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= limit);
        assert!(
            page.items
                .windows(2)
                .all(|w| w[0].reference() < w[1].reference()),
            "a page is oldest to newest"
        );
        if let Some(next) = page.next {
            assert_eq!(
                page.items.len(),
                limit,
                "only a full page has a next cursor"
            );
            newest_first.extend(page.items.into_iter().rev());
            request = PageRequest::after(limit, next);
        } else {
            newest_first.extend(page.items.into_iter().rev());
            return (newest_first, pages);
        }
    }
}
