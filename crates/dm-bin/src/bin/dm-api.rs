//! `dm-api`: serves the Cruddur direct-messaging API until Ctrl-C or SIGTERM.

use clap::Parser;
use dm_bin::api::{Config, serve};
use dm_bin::telemetry::{self, Format};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(Format::Console, "info");
    serve(Config::parse(), shutdown_signal()).await
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
