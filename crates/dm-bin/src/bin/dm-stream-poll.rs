//! The local stream poller: keeps conversation rows current from the table's
//! DynamoDB Stream, without Lambda. Ctrl-C stops it cleanly; it resumes from
//! its checkpoint.

use clap::Parser;
use dm_bin::poll::PollArgs;
use dm_bin::telemetry::{self, Format};

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
    telemetry::init(Format::Console, "info");
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
