//! The local stream poller: keeps conversation rows current from the table's
//! DynamoDB Stream, without Lambda. Ctrl-C stops it cleanly; it resumes from
//! its checkpoint.

use clap::Parser;
use dm_stream::cli::PollArgs;

/// mimalloc: about 15% less CPU per request than the system allocator (`cargo xtask bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "dm-stream-poll",
    about = "Keeps conversation rows current from the table's DynamoDB Stream"
)]
struct Cli {
    #[command(flatten)]
    poll: PollArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let poller = cli.poll.poller().await?;
    tracing::info!(table = %cli.poll.target.table, "polling the stream; Ctrl-C stops");
    poller
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    tracing::info!("stopped");
    Ok(())
}
