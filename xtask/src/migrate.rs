//! `cargo xtask migrate`: brings an existing table to the current layout
//! (`dm_store::migrate`), after turning on what the design needs (its
//! stream, time to live, the index `conversations-by-recency`).

use clap::Args;
use dm_store::{MigrationProgress, Repository, schema};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    Target,
    tables::{existing_table, explain},
};

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    target: Target,
    /// Say what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) async fn migrate(args: &MigrateArgs) -> anyhow::Result<()> {
    let target = &args.target;
    let repo = existing_table(target).await?;
    let table = if args.dry_run {
        let table = schema::describe_table(repo.client(), &target.table)
            .await
            .map_err(|e| explain(target, e))?;
        if !table.as_ref().is_some_and(schema::has_recency_index) {
            println!(
                "would create the index {} (the rows are listed through it)",
                schema::RECENCY_INDEX
            );
        }
        table
    } else {
        for done in schema::complete_table(repo.client(), &target.table)
            .await
            .map_err(|e| explain(target, e))?
        {
            println!("turned on {done:?}");
        }
        schema::describe_table(repo.client(), &target.table)
            .await
            .map_err(|e| explain(target, e))?
    };
    // DynamoDB updates a table's item count every six hours or so: the bar's
    // length while reading is an estimate, stretched when passed.
    let estimate = table.and_then(|t| t.item_count).unwrap_or(0).max(0) as u64;
    let bar = ProgressBar::new(estimate).with_style(style("reading   {bar:30} {pos}/~{len} items"));
    let mut converting = false;
    let done = repo
        .migrate_layout(args.dry_run, &mut |progress| match progress {
            MigrationProgress::Reading { items } => {
                let items = items as u64;
                if items > bar.length().unwrap_or(0) {
                    bar.set_length(items);
                }
                bar.set_position(items);
            }
            MigrationProgress::Converting { done, of } => {
                if !converting {
                    converting = true;
                    bar.set_style(style(if args.dry_run {
                        "checking  {bar:30} {pos}/{len} messages and conversations"
                    } else {
                        "migrating {bar:30} {pos}/{len} messages and conversations"
                    }));
                    bar.set_length(of as u64);
                }
                bar.set_position(done as u64);
            }
        })
        .await
        .map_err(|e| explain(target, e))?;
    bar.finish_and_clear();
    if !done.missing_users.is_empty() {
        let mut message = format!(
            "{}: nothing was changed: {} members of its conversations are not users of the table yet. \
             Bring them in with `cargo xtask users import` (from Cruddur's Postgres), or one by one:",
            target.describe(),
            done.missing_users.len()
        );
        for user in &done.missing_users {
            message.push_str(&format!(
                "\n  cargo xtask users add {} '{}' --uuid {}",
                user.handle, user.display_name, user.uuid
            ));
        }
        anyhow::bail!("{message}\nthen run `cargo xtask migrate` again");
    }
    let verb = if args.dry_run { "would make" } else { "made" };
    println!(
        "{}: {} items read, {} conversations",
        target.describe(),
        done.scanned,
        done.conversations
    );
    if done.changed() {
        println!(
            "{verb} {} group items (for conversations Cruddur or the seed wrote) and {} rows; {} {} rows of the older layouts",
            done.groups_made,
            done.rows_made,
            if args.dry_run {
                "would delete"
            } else {
                "deleted"
            },
            done.old_rows_removed
        );
        if done.messages_rekeyed + done.claims_made > 0 {
            println!(
                "{} {} messages to their keys in UTC, and {} pair claims to each pair's newest conversation",
                if args.dry_run { "would move" } else { "moved" },
                done.messages_rekeyed,
                done.claims_made
            );
        }
    } else {
        println!("nothing to do: every conversation is in the current layout");
    }
    if !done.unresolved.is_empty() {
        println!(
            "left as they are: {} conversations of the seed whose rows do not name both members: {:?}",
            done.unresolved.len(),
            done.unresolved
        );
    }
    if done.foreign > 0 {
        println!(
            "left as they are: {} items that are not this project's",
            done.foreign
        );
    }
    Ok(())
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
