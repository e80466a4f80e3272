//! The one tracing setup of every binary.
//!
//! Logs go to standard error, filtered by `RUST_LOG` (the given default level
//! when it is unset or invalid). On Lambda they are JSON lines without a
//! timestamp, which CloudWatch adds.

use tracing_subscriber::EnvFilter;

/// Where the binary runs, which decides the log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A terminal or a log file: human-readable lines.
    Console,
    /// AWS Lambda: JSON lines, no timestamp.
    Lambda,
}

/// Installs the global subscriber; `default_level` applies when `RUST_LOG`
/// says nothing usable (`"info"`, `"warn"`).
pub fn init(format: Format, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        Format::Console => builder.init(),
        Format::Lambda => builder.json().without_time().init(),
    }
}
