//! Reading conversations: `get-conversation` (a conversation's messages,
//! and a named group's members) and `list-conversations` (a user's rows).

use anyhow::bail;
use chrono::Local;
use clap::Args;
use dm_domain::{Conversation, GroupId, ItemKey, Message, UserId};
use dm_store::{DynamoRepository, PageRequest, Record, Repository, StoreError, table::Table as _};

use crate::{
    Target,
    tables::{existing_table, explain, user_by_handle},
};

#[derive(Debug, Args)]
pub(crate) struct GetConversationArgs {
    #[command(flatten)]
    target: Target,
    /// A conversation's uuid, or the two members' handles (`@andrewbrown @bayko`).
    #[arg(required = true, num_args = 1..=2, value_name = "UUID | @A @B")]
    who: Vec<String>,
    /// Print one JSON object per message and line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListConversationsArgs {
    #[command(flatten)]
    target: Target,
    /// The user's handle (`@andrewbrown`).
    handle: String,
    /// Print one JSON object per conversation and line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn get_conversation(args: &GetConversationArgs) -> anyhow::Result<()> {
    let target = &args.target;
    let repo = existing_table(target).await?;
    // The conversation, a member to read it as, and a named group's item.
    let (group, member, named) = match args.who.as_slice() {
        [a, b] => {
            let (a, b) = (
                user_by_handle(&repo, target, a).await?,
                user_by_handle(&repo, target, b).await?,
            );
            match repo
                .conversation_between(a.uuid, b.uuid)
                .await
                .map_err(|e| explain(target, e))?
            {
                Some(group) => (group, a.uuid, None),
                None => bail!("@{} and @{} have no conversation", a.handle, b.handle),
            }
        }
        [id] => {
            let group: GroupId = id
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}; give a uuid or two @handles"))?;
            match repo
                .get(&ItemKey::Group(group))
                .await
                .map_err(|e| explain(target, e))?
            {
                Some(Record::Group(g)) => (group, g.members[0].user.uuid, Some(g)),
                _ => bail!("no conversation {group} in {}", target.describe()),
            }
        }
        _ => bail!("give a conversation uuid or two @handles"),
    };
    let messages = all_messages(&repo, group, member)
        .await
        .map_err(|e| explain(target, e))?;
    if let (Some(g), false) = (named.filter(|g| g.owner().is_some()), args.json) {
        println!("{}", members_line(&g));
    }
    for m in &messages {
        if args.json {
            println!("{}", message_json(m));
        } else {
            println!(
                "{}  @{:<12} {}",
                local_time(m.created_at),
                m.sender.handle,
                m.text
            );
        }
    }
    if !args.json {
        println!("{} messages in conversation {group}", messages.len());
    }
    Ok(())
}

/// A named group's name and members, its owner first:
/// `"crew": 3 members: @ana (owner), @bo, @cy`.
fn members_line(group: &dm_domain::Group) -> String {
    let owner = group.owner();
    let mut members: Vec<String> = group
        .members
        .iter()
        .map(|m| {
            if Some(m.user.uuid) == owner {
                format!("@{} (owner)", m.user.handle)
            } else {
                format!("@{}", m.user.handle)
            }
        })
        .collect();
    members.sort_by_key(|m| !m.ends_with("(owner)"));
    let name = group
        .topic()
        .map(|t| t.name.to_string())
        .unwrap_or_default();
    format!(
        "\"{name}\": {} members: {}",
        group.members.len(),
        members.join(", ")
    )
}

/// Every message of a conversation, oldest first.
async fn all_messages(
    repo: &DynamoRepository,
    group: GroupId,
    member: UserId,
) -> Result<Vec<Message>, StoreError> {
    let mut pages = Vec::new();
    let mut request = PageRequest::first(dm_store::PAGE_MAX);
    loop {
        let page = repo.messages(group, member, &request).await?;
        pages.push(page.items);
        match page.next {
            Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
            None => break,
        }
    }
    Ok(pages.into_iter().rev().flatten().collect())
}

pub(crate) async fn list_conversations(args: &ListConversationsArgs) -> anyhow::Result<()> {
    let target = &args.target;
    let repo = existing_table(target).await?;
    let user = user_by_handle(&repo, target, &args.handle).await?;
    let mut request = PageRequest::first(dm_store::PAGE_MAX);
    let mut count = 0;
    loop {
        let page = repo
            .conversations(user.uuid, &request)
            .await
            .map_err(|e| explain(target, e))?;
        for c in &page.items {
            count += 1;
            if args.json {
                println!("{}", conversation_json(c));
            } else if let Some(topic) = &c.topic {
                // A named group: its name and size, and who wrote what it shows.
                let name = format!("\"{}\" ({} members)", topic.name, topic.members_count);
                println!(
                    "{}  {:<34} @{}: {}  ({})",
                    local_time(c.last_message_at),
                    name,
                    c.other.handle,
                    c.preview,
                    c.group
                );
            } else {
                println!(
                    "{}  @{:<12} {:<20} {}  ({})",
                    local_time(c.last_message_at),
                    c.other.handle,
                    c.other.display_name,
                    c.preview,
                    c.group
                );
            }
        }
        match page.next {
            Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
            None => break,
        }
    }
    if !args.json {
        println!("{count} conversations of @{}", user.handle);
    }
    Ok(())
}

fn local_time(at: dm_domain::Timestamp) -> String {
    at.as_datetime()
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn message_json(m: &Message) -> serde_json::Value {
    serde_json::json!({
        "uuid": m.id,
        "message_group_uuid": m.group,
        "handle": m.sender.handle,
        "display_name": m.sender.display_name,
        "message": m.text,
        "created_at": m.created_at,
    })
}

/// A row as `GET /api/message_groups` shows it: a named group's has its
/// name for a display name, and its size; its handle is the sender shown.
fn conversation_json(c: &Conversation) -> serde_json::Value {
    let mut row = serde_json::json!({
        "uuid": c.group,
        "kind": if c.topic.is_some() { "group" } else { "direct" },
        "handle": c.other.handle,
        "display_name": c.other.display_name,
        "message": c.preview,
        "created_at": c.last_message_at,
    });
    if let Some(topic) = &c.topic {
        row["name"] = topic.name.to_string().into();
        row["display_name"] = topic.name.to_string().into();
        row["members_count"] = topic.members_count.into();
    }
    row
}
