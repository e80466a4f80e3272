//! `cargo xtask users`: bringing people in by hand (`add`), seeing who is
//! there (`list`), and importing Cruddur's existing users from its Postgres
//! `users` table (`import`), each with the uuid Cruddur already gave them.
//!
//! All three go through [`dm_store::users::provision`], so they are safe to
//! re-run: a user already present is skipped, and a handle or Cognito
//! subject held by someone else is reported as a conflict and left alone.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use dm_domain::{DisplayName, Handle, NewUser, User, UserId};
use dm_store::{
    Record,
    users::{ProvisionError, Provisioned, provision},
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    Target,
    tables::{existing_table, explain},
};

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user (nothing happens if they are already there).
    Add(AddArgs),
    /// Print every user.
    List(ListArgs),
    /// Import Cruddur's users from its Postgres `users` table, keeping their uuids; safe to re-run.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    #[command(flatten)]
    target: Target,
    /// The handle (`@vir`).
    handle: String,
    /// The display name.
    display_name: String,
    /// The user's Cognito subject (`sub`), so their access tokens name them.
    #[arg(long)]
    cognito_sub: Option<String>,
    /// The uuid to give them (the one Cruddur's Postgres has); a new one by default.
    #[arg(long)]
    uuid: Option<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object per user and line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    target: Target,
    /// Cruddur's database, as `postgresql://user:password@host:5432/cruddur`;
    /// `?sslmode=verify-full&sslrootcert=global-bundle.pem` for RDS (libpq's
    /// `sslmode`: disable, prefer (the default), require, verify-ca, verify-full).
    #[arg(long, env = "CONNECTION_URL")]
    postgres_url: String,
}

pub(crate) async fn users(args: UsersArgs) -> anyhow::Result<()> {
    match args.command {
        UsersCommand::Add(args) => add(args).await,
        UsersCommand::List(args) => list(&args).await,
        UsersCommand::Import(args) => import(&args).await,
    }
}

/// A user from text, with every problem named.
fn new_user(
    uuid: Option<&str>,
    handle: &str,
    display_name: &str,
    sub: Option<&str>,
) -> Result<NewUser, String> {
    let mut problems = Vec::new();
    let uuid = match uuid {
        Some(u) => u
            .parse::<UserId>()
            .map_err(|_| problems.push(format!("uuid {u:?} is not a uuid")))
            .ok(),
        None => Some(UserId::new()),
    };
    let handle = Handle::parse(handle)
        .map_err(|e| problems.push(format!("handle {handle:?}: {e}")))
        .ok();
    let display_name = DisplayName::parse(display_name)
        .map_err(|e| problems.push(format!("display name {display_name:?}: {e}")))
        .ok();
    match (uuid, handle, display_name) {
        (Some(uuid), Some(handle), Some(display_name)) if problems.is_empty() => Ok(NewUser {
            uuid,
            handle,
            display_name,
            cognito_user_id: sub.filter(|s| !s.is_empty()).map(str::to_owned),
        }),
        _ => Err(problems.join("; ")),
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let new = new_user(
        args.uuid.as_deref(),
        &args.handle,
        &args.display_name,
        args.cognito_sub.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let repo = existing_table(&args.target).await?;
    match provision(&repo, new).await {
        Ok(Provisioned::Created(user)) => println!("created {}", describe(&user)),
        Ok(Provisioned::Present(user)) => println!("already present: {}", describe(&user)),
        Err(ProvisionError::Conflict(conflict)) => bail!("{conflict}; nothing written"),
        Err(ProvisionError::Store(e)) => return Err(explain(&args.target, e)),
    }
    Ok(())
}

fn describe(user: &User) -> String {
    format!(
        "@{} ({}, uuid {}{})",
        user.handle,
        user.display_name,
        user.uuid,
        user.cognito_user_id
            .as_deref()
            .map(|s| format!(", Cognito {s}"))
            .unwrap_or_default()
    )
}

async fn list(args: &ListArgs) -> anyhow::Result<()> {
    let repo = existing_table(&args.target).await?;
    let mut pages = repo
        .client()
        .scan()
        .table_name(repo.table())
        .filter_expression("begins_with(pk, :user)")
        .expression_attribute_values(
            ":user",
            aws_sdk_dynamodb::types::AttributeValue::S("USER#".into()),
        )
        .into_paginator()
        .items()
        .send();
    let mut users = Vec::new();
    while let Some(item) = pages.next().await {
        let item =
            item.map_err(|e| explain(&args.target, dm_store::sdk_error::map_sdk_error(e)))?;
        if let Ok(Record::User(user)) = Record::from_item(item) {
            users.push(user);
        }
    }
    users.sort_by_key(|u| u.handle.key());
    if args.json {
        for u in &users {
            println!(
                "{}",
                serde_json::json!({
                    "uuid": u.uuid.to_string(),
                    "handle": u.handle.as_str(),
                    "display_name": u.display_name.as_str(),
                    "cognito_user_id": u.cognito_user_id,
                })
            );
        }
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "handle",
        "display name",
        "uuid",
        "Cognito sub",
    ]);
    for u in &users {
        table.add_row([
            format!("@{}", u.handle),
            u.display_name.to_string(),
            u.uuid.to_string(),
            u.cognito_user_id.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    println!("{} users in {}", users.len(), args.target.describe());
    Ok(())
}

/// What an import did, user by user.
#[derive(Debug, Default)]
struct ImportReport {
    imported: usize,
    present: usize,
    conflicts: Vec<String>,
    invalid: Vec<String>,
    unlinked: Vec<String>,
}

async fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let (client, connection) = crate::postgres::connect(&args.postgres_url)
        .await
        .context("connecting to Cruddur's Postgres (--postgres-url)")?;
    let rows = client
        .query(
            "SELECT uuid::text, handle, display_name, cognito_user_id \
             FROM public.users ORDER BY created_at, uuid",
            &[],
        )
        .await
        .context("reading Cruddur's users table (week 4's db/schema.sql)")?;
    drop(client);
    let _ = connection.await;
    let repo = existing_table(&args.target).await?;
    let bar = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} users {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Cruddur's own seed gives several users the placeholder subject `MOCK`:
    // a subject shared by several rows names nobody, so it is left out.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for row in &rows {
        if let Some(sub) = row.get::<_, Option<String>>(3) {
            *seen.entry(sub).or_default() += 1;
        }
    }
    let mut report = ImportReport::default();
    for row in &rows {
        let uuid: Option<String> = row.get(0);
        let handle: Option<String> = row.get(1);
        let display_name: Option<String> = row.get(2);
        let who = format!("@{}", handle.as_deref().unwrap_or("?"));
        let sub: Option<String> = row.get::<_, Option<String>>(3).filter(|sub| {
            let shared = seen.get(sub).copied().unwrap_or(0) > 1;
            if shared {
                report.unlinked.push(format!(
                    "{who}: Cognito subject {sub:?} is shared by several users; imported without it"
                ));
            }
            !shared
        });
        let new = match new_user(
            Some(uuid.as_deref().unwrap_or_default()),
            handle.as_deref().unwrap_or_default(),
            display_name.as_deref().unwrap_or_default(),
            sub.as_deref(),
        ) {
            Ok(new) => new,
            Err(problem) => {
                report.invalid.push(format!("{who}: {problem}"));
                bar.inc(1);
                continue;
            }
        };
        match provision(&repo, new).await {
            Ok(Provisioned::Created(_)) => report.imported += 1,
            Ok(Provisioned::Present(_)) => report.present += 1,
            Err(ProvisionError::Conflict(conflict)) => {
                report.conflicts.push(format!("{who}: {conflict}"));
            }
            Err(ProvisionError::Store(e)) => {
                bar.abandon();
                return Err(explain(&args.target, e));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    for line in report
        .unlinked
        .iter()
        .chain(&report.conflicts)
        .chain(&report.invalid)
    {
        eprintln!("  {line}");
    }
    println!(
        "{} users read: {} imported, {} skipped as already present, {} in conflict, {} invalid",
        rows.len(),
        report.imported,
        report.present,
        report.conflicts.len(),
        report.invalid.len()
    );
    Ok(())
}
