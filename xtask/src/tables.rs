//! The table tools: the seed's utility scripts, done properly.

use std::io::{IsTerminal, Write as _};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use dm_domain::Handle;
use dm_store::{
    DynamoRepository, Record, Repository, StoreError,
    schema::{self, Billing, Created, TableSpec},
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Target;

#[derive(Debug, Args)]
pub(crate) struct SchemaLoadArgs {
    #[command(flatten)]
    target: Target,
    /// Bill per request instead of provisioning 5 reads and 5 writes.
    #[arg(long)]
    on_demand: bool,
}

impl SchemaLoadArgs {
    /// Loading the default (provisioned) schema into `target`.
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            on_demand: false,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ConfirmArgs {
    #[command(flatten)]
    target: Target,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    target: Target,
    /// Print one JSON object per item and line instead of a table.
    #[arg(long)]
    json: bool,
    /// Stop after this many items.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    target: Target,
    /// The user's handle (`@andrewbrown`).
    handle: String,
    /// The local key file, shared with `dm-api --auth local`; created if missing.
    #[arg(long, env = "DM_LOCAL_KEY_FILE", default_value = dm_api::auth::LOCAL_KEY_FILE)]
    key_file: std::path::PathBuf,
}

/// A local token for the user the table holds under the handle (an
/// imported user's own Cognito subject); when the table cannot tell (it is
/// not there, or not reachable: `dm-api --store memory --seed`), a seeded
/// user's fixed subject.
pub(crate) async fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let handle =
        Handle::parse(&args.handle).map_err(|e| anyhow::anyhow!("`{}`: {e}", args.handle))?;
    let seeded = dm_store::seed::USERS
        .iter()
        .find(|u| handle.same_as(&Handle::parse(u.handle).unwrap_or_else(|_| handle.clone())));
    let in_table = match existing_table(&args.target).await {
        Ok(repo) => Some(user_by_handle(&repo, &args.target, &args.handle).await),
        Err(e) => {
            if seeded.is_none() {
                return Err(e);
            }
            None
        }
    };
    let sub = match (in_table, seeded) {
        (Some(Ok(user)), _) => user.cognito_user_id.ok_or_else(|| {
            anyhow::anyhow!(
                "@{} has no Cognito subject, so no token can name them",
                user.handle
            )
        })?,
        (Some(Err(e)), None) => return Err(e),
        (_, Some(user)) => {
            eprintln!(
                "@{handle} is not in {}: signing for the seeded user's subject",
                args.target.describe()
            );
            user.sub.to_owned()
        }
        (None, None) => unreachable!("without a table only a seeded handle gets here"),
    };
    let verifier = dm_api::auth::LocalVerifier::from_file(&args.key_file)
        .with_context(|| format!("reading the key {}", args.key_file.display()))?;
    let token = verifier.mint(&sub)?;
    eprintln!(
        "a local access token for @{handle}, valid {} hours, for `dm-api --auth local` with key {}:",
        dm_api::auth::LOCAL_TOKEN_TTL.as_secs() / 3600,
        args.key_file.display()
    );
    println!("{token}");
    Ok(())
}

async fn client(target: &Target) -> Client {
    dm_store::client::connect(target.endpoint().as_deref()).await
}

/// Turns a store error into a message that says what to do.
pub(crate) fn explain(target: &Target, e: StoreError) -> anyhow::Error {
    match (&e, target.endpoint()) {
        (StoreError::Unavailable(_), Some(url)) => anyhow::anyhow!(
            "cannot reach DynamoDB at {url}: start DynamoDB Local with `cargo xtask dynamodb-local` \
             (or run everything with `cargo xtask up`), or point --endpoint-url elsewhere\n  cause: {e}"
        ),
        _ => anyhow::Error::new(e).context(target.describe()),
    }
}

/// The repository on the target table, once the table is known to exist.
pub(crate) async fn existing_table(target: &Target) -> anyhow::Result<DynamoRepository> {
    let config = dm_store::client::sdk_config(target.endpoint().as_deref()).await;
    let repo = DynamoRepository::new(&config, &target.table)?;
    match schema::describe_table(repo.client(), &target.table).await {
        Ok(Some(_)) => Ok(repo),
        Ok(None) => bail!(
            "{} does not exist; create it with `cargo xtask schema-load` (or `cargo xtask setup`)",
            target.describe()
        ),
        Err(e) => Err(explain(target, e)),
    }
}

pub(crate) async fn schema_load(args: &SchemaLoadArgs) -> anyhow::Result<()> {
    let client = client(&args.target).await;
    let spec = TableSpec {
        name: args.target.table.clone(),
        billing: if args.on_demand {
            Billing::OnDemand
        } else {
            Billing::default()
        },
    };
    match schema::create_table(&client, &spec)
        .await
        .map_err(|e| explain(&args.target, e))?
    {
        Created::Created => println!("created {} (active)", args.target.describe()),
        Created::AlreadyExists => {
            // Cruddur's own schema-load makes no stream and no time to live:
            // turn them on, and leave every item as it is.
            let done = schema::complete_table(&client, &args.target.table)
                .await
                .map_err(|e| explain(&args.target, e))?;
            let turned_on: Vec<&str> = done
                .iter()
                .map(|c| match c {
                    schema::Completed::Stream => "its stream (new images)",
                    schema::Completed::TimeToLive => "time to live on expires_at",
                    schema::Completed::RecencyIndex => {
                        "the index conversations-by-recency (run `cargo xtask migrate` next)"
                    }
                })
                .collect();
            if turned_on.is_empty() {
                println!(
                    "{} already exists, with all this project needs; left as it is",
                    args.target.describe()
                );
            } else {
                println!(
                    "{} already exists: turned on {}; its items are left as they are",
                    args.target.describe(),
                    turned_on.join(" and ")
                );
            }
        }
    }
    Ok(())
}

pub(crate) async fn drop(args: &ConfirmArgs) -> anyhow::Result<()> {
    if !args.yes {
        confirm(&args.target)?;
    }
    let client = client(&args.target).await;
    if schema::delete_table(&client, &args.target.table)
        .await
        .map_err(|e| explain(&args.target, e))?
    {
        println!("dropped {}", args.target.describe());
    } else {
        println!("{} does not exist; nothing to drop", args.target.describe());
    }
    Ok(())
}

fn confirm(target: &Target) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to drop {} without --yes (no terminal to confirm on)",
            target.describe()
        );
    }
    print!(
        "Drop {}? Type the table name to confirm: ",
        target.describe()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != target.table {
        bail!("not confirmed; nothing dropped");
    }
    Ok(())
}

pub(crate) async fn list_tables(args: &JsonArgs) -> anyhow::Result<()> {
    let client = client(&args.target).await;
    let names = schema::list_tables(&client)
        .await
        .map_err(|e| explain(&args.target, e))?;
    if args.json {
        println!("{}", serde_json::json!({ "TableNames": names }));
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["TableNames"]);
    for name in names {
        table.add_row([name]);
    }
    println!("{table}");
    Ok(())
}

pub(crate) async fn scan(args: &ScanArgs) -> anyhow::Result<()> {
    let repo = existing_table(&args.target).await?;
    let mut pages = repo
        .client()
        .scan()
        .table_name(repo.table())
        .into_paginator()
        .items()
        .send();
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["pk", "sk", "entity", "summary"]);
    let mut count = 0;
    while let Some(item) = pages.next().await {
        if args.limit.is_some_and(|limit| count >= limit) {
            break;
        }
        let item =
            item.map_err(|e| explain(&args.target, dm_store::sdk_error::map_sdk_error(e)))?;
        count += 1;
        if args.json {
            let value: serde_json::Value =
                serde_dynamo::from_item(item).context("converting an item to JSON")?;
            println!("{value}");
            continue;
        }
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let summary = match Record::from_item(item.clone()) {
            Ok(record) => summarize(&record),
            Err(e) => format!("(undecodable: {e})"),
        };
        table.add_row([text("pk"), text("sk"), text("entity"), summary]);
    }
    if !args.json {
        println!("{table}");
        println!("{count} items in {}", args.target.describe());
    }
    Ok(())
}

fn summarize(record: &Record) -> String {
    let cut = |s: &str| {
        let mut out: String = s.chars().take(60).collect();
        if s.chars().count() > 60 {
            out.push('…');
        }
        out
    };
    match record {
        Record::Message(m) => format!("@{}: {}", m.sender.handle, cut(&m.text)),
        Record::Conversation(c) if c.left => format!("row of user {}, who left", c.owner),
        Record::Conversation(c) if c.topic.is_some() => format!(
            "in \"{}\", @{}: {} ({} unread)",
            c.topic
                .as_ref()
                .map(|t| t.name.to_string())
                .unwrap_or_default(),
            c.other.handle,
            cut(&c.preview),
            c.unread
        ),
        Record::Conversation(c) if c.unread > 0 => format!(
            "with @{}: {} ({} unread)",
            c.other.handle,
            cut(&c.preview),
            c.unread
        ),
        Record::Conversation(c) => format!("with @{}: {}", c.other.handle, cut(&c.preview)),
        Record::Group(g) => {
            let handles: Vec<String> = g
                .members
                .iter()
                .map(|m| format!("@{}", m.user.handle))
                .collect();
            match &g.kind {
                dm_domain::GroupKind::Direct => {
                    format!("{}, since {}", handles.join(" and "), g.created_at)
                }
                dm_domain::GroupKind::Named { name, .. } => format!(
                    "\"{name}\": {} members ({}), since {}",
                    handles.len(),
                    cut(&handles.join(" ")),
                    g.created_at
                ),
            }
        }
        Record::DmPair { group, .. } => format!("conversation {group}"),
        Record::User(u) => format!("@{} ({})", u.handle, u.display_name),
        Record::Idempotency(c) => {
            format!("key {} of user {}: message {}", c.key, c.user, c.message)
        }
        Record::Connection(c) => format!("live connection of user {}", c.user),
        Record::ReadMarker(r) => format!("user {} read through {}", r.member, r.through.at),
        Record::HandleClaim { user, .. } | Record::CognitoClaim { user, .. } => {
            format!("user {user}")
        }
    }
}

pub(crate) async fn seed(target: &Target) -> anyhow::Result<()> {
    let repo = existing_table(target).await?;
    let bar = ProgressBar::new(dm_store::seed::MESSAGES as u64).with_style(
        ProgressStyle::with_template("seeding {bar:40} {pos}/{len} messages")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let seeded = dm_store::seed::seed(&repo, |done, _| bar.set_position(done as u64))
        .await
        .map_err(|e| explain(target, e))?;
    bar.finish_and_clear();
    if seeded.messages_written == 0 && seeded.users_created == 0 {
        println!("{} was seeded already; nothing changed", target.describe());
    } else {
        println!(
            "seeded {}: {} users, conversation {} with {} messages",
            target.describe(),
            seeded.users_created,
            seeded.group,
            seeded.messages_written
        );
    }
    Ok(())
}

pub(crate) async fn setup(args: &SchemaLoadArgs) -> anyhow::Result<()> {
    schema_load(args).await?;
    seed(&args.target).await
}

pub(crate) async fn user_by_handle(
    repo: &DynamoRepository,
    target: &Target,
    text: &str,
) -> anyhow::Result<dm_domain::User> {
    let handle = Handle::parse(text).map_err(|e| anyhow::anyhow!("`{text}`: {e}"))?;
    match repo.user_by_handle(&handle).await {
        Err(StoreError::NotFound(_)) => bail!("no user @{handle} in {}", target.describe()),
        other => other.map_err(|e| explain(target, e)),
    }
}
