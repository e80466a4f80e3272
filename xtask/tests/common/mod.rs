//! Running the xtask binary as a user does, against a table on an endpoint.

#![allow(dead_code, reason = "each test binary uses the helpers it needs")]

use std::process::{Command, Output};

/// `cargo xtask ARGS --endpoint-url ENDPOINT --table TABLE`, with what it
/// printed echoed for the test's log; the environment's endpoint and table
/// left out, so the flags decide.
pub(crate) fn xtask(endpoint: &str, table: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .args(["--endpoint-url", endpoint, "--table", table])
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env_remove("DM_TABLE")
        .output()
        .expect("running xtask");
    eprintln!(
        "$ cargo xtask {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What a run that succeeded printed.
pub(crate) fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The last line a run that succeeded printed: its summary.
pub(crate) fn last_line(out: &Output) -> String {
    ok(out).lines().last().unwrap_or_default().to_owned()
}
