//! Running the xtask binary as a user does, against a table on an endpoint.

#![allow(dead_code, reason = "each test binary uses the helpers it needs")]

use std::{
    path::Path,
    process::{Command, Output},
};

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

/// Cruddur's `backend-flask/db/schema.sql` (week 4), the users table.
pub(crate) const CRUDDUR_USERS_SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
DROP TABLE IF EXISTS public.users;
CREATE TABLE public.users (
  uuid UUID DEFAULT uuid_generate_v4() PRIMARY KEY,
  display_name text NOT NULL,
  handle text NOT NULL,
  email text NOT NULL,
  cognito_user_id text NOT NULL,
  created_at TIMESTAMP default current_timestamp NOT NULL
);
"#;

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

// Test certificates, made with `openssl`.

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed to make the test's certificates");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A certificate authority: `{name}-ca.pem` and its key.
pub(crate) fn ca(dir: &Path, name: &str) {
    let (key, pem) = (format!("{name}-ca.key"), format!("{name}-ca.pem"));
    let subject = format!("/CN={name} test CA");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
            "-keyout", &key, "-out", &pem,
        ],
    );
}

/// A server certificate for `localhost` only (`server.pem`, `server.key`),
/// signed by CA `name`.
pub(crate) fn server(dir: &Path, name: &str) {
    let (ca_key, ca_pem) = (format!("{name}-ca.key"), format!("{name}-ca.pem"));
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}
