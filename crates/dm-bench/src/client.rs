//! How the workload's operations reach the store: the repository directly,
//! or the HTTP API with a keep-alive client, as each user.

use std::{collections::HashMap, sync::Arc};

use anyhow::{Context, bail};
use dm_domain::{GroupId, MessageId, MessageText, User, UserId};
use dm_store::{NewMessage, PageRequest, Repository};

/// How one operation reaches the store.
#[derive(Clone)]
pub(crate) enum Client {
    Direct(Arc<dyn Repository>),
    Api {
        http: reqwest::Client,
        base: String,
        tokens: Arc<HashMap<UserId, String>>,
    },
}

impl Client {
    pub(crate) async fn send(
        &self,
        group: GroupId,
        sender: &User,
        text: &str,
    ) -> anyhow::Result<MessageId> {
        match self {
            Self::Direct(repo) => {
                let message = NewMessage::now(MessageText::parse(text)?);
                Ok(repo
                    .send_message(group, &sender.summary(), message)
                    .await?
                    .id)
            }
            Self::Api { http, base, tokens } => {
                let body = serde_json::json!({"message": text, "message_group_uuid": group});
                let reply: serde_json::Value = http
                    .post(format!("{base}/api/messages"))
                    .bearer_auth(&tokens[&sender.uuid])
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                Ok(reply["uuid"]
                    .as_str()
                    .context("no uuid in the reply")?
                    .parse()?)
            }
        }
    }

    /// Marks `group` read for `reader` up to `through`.
    pub(crate) async fn mark_read(
        &self,
        group: GroupId,
        reader: UserId,
        through: dm_domain::MessageRef,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                repo.mark_read(group, reader, through).await?;
            }
            Self::Api { http, base, tokens } => {
                let body =
                    serde_json::json!({"uuid": through.id, "created_at": through.at.to_string()});
                http.post(format!("{base}/api/message_groups/{group}/read"))
                    .bearer_auth(&tokens[&reader])
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// `author` edits their message `at` of `group` to `text`.
    pub(crate) async fn edit(
        &self,
        group: GroupId,
        author: UserId,
        at: dm_domain::MessageRef,
        text: &str,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                let text = MessageText::parse(text)?;
                let now = dm_domain::Timestamp::now();
                repo.edit_message(group, author, lookup(at), text, now)
                    .await?;
            }
            Self::Api { http, base, tokens } => {
                http.patch(message_url(base, group, at))
                    .query(&[("created_at", at.at.to_string())])
                    .bearer_auth(&tokens[&author])
                    .json(&serde_json::json!({"message": text}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// `author` deletes their message `at` of `group`.
    pub(crate) async fn delete(
        &self,
        group: GroupId,
        author: UserId,
        at: dm_domain::MessageRef,
    ) -> anyhow::Result<()> {
        match self {
            Self::Direct(repo) => {
                repo.delete_message(group, author, lookup(at)).await?;
            }
            Self::Api { http, base, tokens } => {
                http.delete(message_url(base, group, at))
                    .query(&[("created_at", at.at.to_string())])
                    .bearer_auth(&tokens[&author])
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        Ok(())
    }

    /// The API's client, its address and the users' tokens; group changes
    /// are measured through the API only.
    fn api(&self) -> anyhow::Result<(&reqwest::Client, &str, &HashMap<UserId, String>)> {
        match self {
            Self::Api { http, base, tokens } => Ok((http, base, tokens)),
            Self::Direct(_) => bail!("not an API client"),
        }
    }

    /// `creator` makes a group named `name` with the users of `handles`.
    pub(crate) async fn create_group(
        &self,
        creator: UserId,
        name: &str,
        handles: &[String],
    ) -> anyhow::Result<GroupId> {
        let (http, base, tokens) = self.api()?;
        let reply: serde_json::Value = http
            .post(format!("{base}/api/message_groups"))
            .bearer_auth(&tokens[&creator])
            .json(&serde_json::json!({"name": name, "handles": handles}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(reply["uuid"]
            .as_str()
            .context("no uuid in the reply")?
            .parse()?)
    }

    /// `owner` adds the users of `handles` to `group`.
    pub(crate) async fn add_members(
        &self,
        group: GroupId,
        owner: UserId,
        handles: &[String],
    ) -> anyhow::Result<()> {
        let (http, base, tokens) = self.api()?;
        http.post(format!("{base}/api/message_groups/{group}/members"))
            .bearer_auth(&tokens[&owner])
            .json(&serde_json::json!({"handles": handles}))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// `owner` removes the member of `handle` from `group`.
    pub(crate) async fn remove_member(
        &self,
        group: GroupId,
        owner: UserId,
        handle: &str,
    ) -> anyhow::Result<()> {
        let (http, base, tokens) = self.api()?;
        http.delete(format!(
            "{base}/api/message_groups/{group}/members/@{handle}"
        ))
        .bearer_auth(&tokens[&owner])
        .send()
        .await?
        .error_for_status()?;
        Ok(())
    }

    /// GETs a page through the API as `user`; the number of items in it.
    async fn api_page(&self, path: &str, user: UserId) -> anyhow::Result<usize> {
        let (http, base, tokens) = self.api()?;
        let reply: Vec<serde_json::Value> = http
            .get(format!("{base}{path}"))
            .bearer_auth(&tokens[&user])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(reply.len())
    }

    pub(crate) async fn list_groups(&self, user: UserId) -> anyhow::Result<usize> {
        match self {
            Self::Direct(repo) => Ok(repo
                .conversations(user, &PageRequest::first(20))
                .await?
                .items
                .len()),
            Self::Api { .. } => self.api_page("/api/message_groups?limit=20", user).await,
        }
    }

    pub(crate) async fn list_messages(
        &self,
        group: GroupId,
        member: UserId,
    ) -> anyhow::Result<usize> {
        match self {
            Self::Direct(repo) => Ok(repo
                .messages(group, member, &PageRequest::first(20))
                .await?
                .items
                .len()),
            Self::Api { .. } => {
                self.api_page(&format!("/api/messages/{group}?limit=20"), member)
                    .await
            }
        }
    }
}

/// How an edit or a delete names its message: with its time, as the page does.
fn lookup(at: dm_domain::MessageRef) -> dm_store::MessageLookup {
    dm_store::MessageLookup {
        id: at.id,
        sent_at: Some(at.at),
    }
}

/// The API's URL of a message.
fn message_url(base: &str, group: GroupId, at: dm_domain::MessageRef) -> String {
    format!("{base}/api/messages/{group}/{}", at.id)
}
