//! The README runs as written: its shell blocks, typed as a user would, from
//! the workspace root, on the default ports.
//!
//! - The first block: `cargo xtask up` runs (until Ctrl-C, sent at the end to
//!   the program as a terminal does), and its test command is the one
//!   `.ci/run` runs (running it here would run this test again).
//! - The embedded default, ``cargo run --bin dm-api -- ...`` in the text, serves.
//! - Every other `sh` block runs in bash with `-e -o pipefail` against
//!   `cargo xtask up`, with a user's own AWS credentials and region in the
//!   environment, and its output is checked.
//!
//! - The adoption block (`users import`, `migrate`) runs against a table
//!   where Cruddur's Python (boto3, in Toronto's offset) wrote a
//!   conversation, with `$CONNECTION_URL` naming a PostgreSQL that holds
//!   Cruddur's users and refuses plain connections, as RDS does; the
//!   frontend's `@handle` link then answers the conversation.
//!
//! Slow (it builds and runs the binaries as `cargo` does for a user), so it
//! is ignored unless `--include-ignored`: `cargo xtask test --slow`, as CI.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use dm_local::postgres::Postgres;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The README's ```sh blocks, in order.
fn sh_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A command line without its trailing comment.
fn command(line: &str) -> &str {
    line.split(" #").next().unwrap_or_default().trim()
}

/// `line` in a shell, in a process group of its own as a terminal would run it.
fn spawn(line: &str) -> Child {
    Command::new("bash")
        .args(["-c", line])
        .current_dir(root())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Ctrl-C; its exit status. `bash -c` execs a lone command and `cargo run`
/// execs the binary, so the child's pid is the program's own.
fn interrupt(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

/// Waits for a line of `child`'s standard output that contains `marker`.
fn wait_for_line(child: &mut Child, marker: &'static str, timeout: Duration) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("| {line}");
            if line.contains(marker) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|_| panic!("no line with {marker:?} within {timeout:?}"));
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn answers(url: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(out) = Command::new("curl").args(["-sf", url]).output()
            && out.status.success()
        {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// Runs a block as a bash script with a user's own AWS setup and `env`; its
/// output.
fn run_block(block: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", block])
        .current_dir(root())
        .envs(env.iter().copied())
        // Someone's own credentials and region, not the tools' local ones.
        .env("AWS_ACCESS_KEY_ID", "AKIDREADMEREADER")
        .env("AWS_SECRET_ACCESS_KEY", "their-own-secret")
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_DEFAULT_REGION", "eu-central-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("$ {block}{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the README block failed ({}):\n{block}\n{stderr}",
        out.status
    );
    stdout
}

fn assert_has(output: &str, expected: &[&str]) {
    for e in expected {
        assert!(output.contains(e), "expected {e:?} in:\n{output}");
    }
}

/// Two of Cruddur's users, as its week-4 `users` table holds them.
const CRUDDUR_USERS: &str = r#"
INSERT INTO public.users (uuid, display_name, handle, email, cognito_user_id)
VALUES
  ('5f1c8e2a-7b3d-4c9e-8a1f-0d2e3f4a5b6c', 'Vir Cotto', 'vircotto', 'vir@example.com', '7c2b7e5a-3f0e-4f6a-9f3e-2d6a1c1b9e11'),
  ('6a2d9f3b-8c4e-4daf-9b2a-1e3f4a5b6c7d', 'Na Toth', 'natoth', 'na@example.com', '8d3c8f6b-4a1f-4a7b-8a4f-3e7b2d2cae22');
"#;

/// Cruddur's Postgres: TLS only over TCP, its certificate signed by a CA the
/// test makes; the URL a Cruddur developer keeps in `CONNECTION_URL`.
fn cruddur_postgres(certs: &Path) -> (Postgres, String) {
    common::ca(certs, "cruddur");
    common::server(certs, "cruddur");
    let postgres =
        Postgres::start_tls(&certs.join("server.pem"), &certs.join("server.key")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let users = format!("{}{CRUDDUR_USERS}", common::CRUDDUR_USERS_SCHEMA);
        for (database, sql) in [
            ("postgres", "CREATE DATABASE cruddur"),
            ("cruddur", users.as_str()),
        ] {
            let (client, connection) =
                tokio_postgres::connect(&postgres.socket_config(database), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            let connection = tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = connection.await;
        }
    });
    let url = format!(
        "postgresql://postgres@localhost:{}/cruddur?sslmode=verify-full&sslrootcert={}",
        postgres.port(),
        certs.join("cruddur-ca.pem").display()
    );
    (postgres, url)
}

/// What Cruddur's week-5 Python does to start a conversation and reply
/// (`create_message_group`: both rows and the first message in one
/// `batch_write_item`; `create_message`), with boto3 on a machine in
/// Toronto; no stream Lambda runs, so the rows stay at the first message.
const CRUDDUR_WRITES: &str = r#"
import boto3, uuid
from datetime import datetime, timezone
client = boto3.client("dynamodb", endpoint_url="http://localhost:8000")
table = "cruddur-messages"
vir = ("5f1c8e2a-7b3d-4c9e-8a1f-0d2e3f4a5b6c", "Vir Cotto", "vircotto")
na = ("6a2d9f3b-8c4e-4daf-9b2a-1e3f4a5b6c7d", "Na Toth", "natoth")
def now():
    return datetime.now(timezone.utc).astimezone().isoformat()
def message(group, text, who, at):
    return {"pk": {"S": f"MSG#{group}"}, "sk": {"S": at}, "message": {"S": text},
            "message_uuid": {"S": str(uuid.uuid4())}, "user_uuid": {"S": who[0]},
            "user_display_name": {"S": who[1]}, "user_handle": {"S": who[2]}}
def row(owner, other, group, text, at):
    return {"pk": {"S": f"GRP#{owner[0]}"}, "sk": {"S": at}, "message_group_uuid": {"S": group},
            "message": {"S": text}, "user_uuid": {"S": other[0]},
            "user_display_name": {"S": other[1]}, "user_handle": {"S": other[2]}}
group = str(uuid.uuid4())
at = now()
first = "Ambassador Mollari sends his regards."
client.batch_write_item(RequestItems={table: [
    {"PutRequest": {"Item": row(vir, na, group, first, at)}},
    {"PutRequest": {"Item": row(na, vir, group, first, at)}},
    {"PutRequest": {"Item": message(group, first, vir, at)}},
]})
client.put_item(TableName=table, Item=message(group, "Tell him I said nothing.", na, now()))
client.put_item(TableName=table, Item=message(group, "He will be delighted.", vir, now()))
print(at)
"#;

#[test]
#[ignore = "slow: builds and runs the README's commands; `cargo xtask test --slow` runs it"]
fn the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    for port in [8000, 4567] {
        assert!(
            port_is_free(port),
            "the README's commands use port {port}, which is taken: stop what listens there"
        );
    }

    // The first block: exactly the two commands.
    let first: Vec<&str> = blocks[0]
        .lines()
        .map(command)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        first,
        ["cargo xtask up", "cargo xtask test"],
        "{}",
        blocks[0]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim().starts_with(first[1])),
        ".ci/run runs the README's test command"
    );

    // The embedded default, from the text.
    let start = readme
        .find("`cargo run --bin dm-api -- ")
        .expect("the README names the embedded default")
        + 1;
    let embedded = &readme[start..start + readme[start..].find('`').unwrap()];
    let mut api = spawn(embedded);
    let user = answers(
        "http://127.0.0.1:4567/api/users/@londo/short",
        Duration::from_secs(900),
    );
    let status = interrupt(api);
    assert!(
        status.success(),
        "{embedded} stops cleanly on Ctrl-C: {status}"
    );
    assert_eq!(
        user.as_deref(),
        Some(r#"{"handle":"londo","display_name":"Londo Mollari"}"#),
        "{embedded} serves the seed"
    );

    // `cargo xtask up`, then every other block against it.
    let certs = tempfile::tempdir().unwrap();
    let (_postgres, connection_url) = cruddur_postgres(certs.path());
    let env = [("CONNECTION_URL", connection_url.as_str())];
    let mut up = spawn(first[0]);
    wait_for_line(&mut up, "Ctrl-C stops everything", Duration::from_secs(900));
    let mut ran = 0;
    for block in &blocks[1..] {
        if block.contains("cargo xtask migrate") {
            let written = run_block(
                &format!("TZ=America/Toronto python3 - <<'PY'\n{CRUDDUR_WRITES}PY\n"),
                &[],
            );
            assert!(written.trim_end().ends_with("-05:00"), "{written}");
        }
        let out = run_block(block, &env);
        ran += 1;
        if block.contains("cargo xtask migrate") {
            assert_has(
                &out,
                &[
                    // Over TLS, the chain and the name checked.
                    "2 users read: 2 imported, 0 skipped as already present",
                    "would move 3 messages to their keys in UTC",
                    "moved 3 messages to their keys in UTC",
                    "deleted 2 rows of the older layouts",
                ],
            );
            assert_eq!(
                out.matches("nothing to do").count(),
                0,
                "both runs had work: {out}"
            );
            // The frontend's link to the conversation, as Vir: Cruddur's
            // three messages in order, the row at the newest with Na's one
            // message unread.
            let seen = run_block(
                "TOKEN=$(cargo xtask token @vircotto | tail -n 1)\n\
                 curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:4567/api/messages/@natoth\n\
                 echo\n\
                 curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:4567/api/message_groups\n",
                &[],
            );
            let (messages, groups) = seen.trim().split_once('\n').unwrap();
            let positions: Vec<usize> = ["regards.", "said nothing.", "delighted."]
                .iter()
                .map(|t| {
                    messages
                        .find(t)
                        .unwrap_or_else(|| panic!("{t} in {messages}"))
                })
                .collect();
            assert!(positions.is_sorted(), "in time order: {messages}");
            assert!(!messages.contains("-05:00"), "times in UTC: {messages}");
            assert_has(
                groups,
                &[
                    r#""handle":"natoth""#,
                    r#""message":"He will be delighted.""#,
                    r#""unread_count":1"#,
                ],
            );
        } else if block.contains("/members/@londo") {
            assert_has(
                &out,
                &[
                    r#""message":"Welcome aboard.""#,
                    r#""kind":"group""#,
                    r#""name":"Babylon 5 command""#,
                    "204",
                    r#""role":"owner""#,
                ],
            );
            let members = out.lines().last().unwrap_or_default();
            assert!(
                members.contains(r#""handle":"bayko""#) && !members.contains(r#""handle":"londo""#),
                "Londo is no longer a member: {members}"
            );
        } else if block.contains("cargo xtask list-conversations") {
            assert_has(&out, &["@bayko", "\"pk\""]);
        } else if block.contains("aws dynamodb list-tables") {
            assert_has(&out, &["cruddur-messages", "\"Count\"", "True"]);
        } else if block.contains("-X PATCH") {
            assert_has(
                &out,
                &[
                    r#""message":"Edited: see you at the meetup.""#,
                    r#""edited_at":""#,
                    r#""deleted":true"#,
                ],
            );
        } else if block.contains("curl") {
            assert_has(
                &out,
                &[
                    r#""handle":"bayko""#,
                    r#""unread_count":"#,
                    r#"{"read_through":{"#,
                    "HTTP/1.1 200",
                    "rel=\"next\"",
                    r#""message":"Hello, Londo!""#,
                    r#"{"handle":"londo","display_name":"Londo Mollari"}"#,
                    r#"{"errors":["#,
                ],
            );
        } else {
            panic!("a README block this test does not check:\n{block}");
        }
    }
    assert_eq!(ran, blocks.len() - 1);
    api = up;
    let status = interrupt(api);
    assert!(
        status.success(),
        "`cargo xtask up` exits cleanly on Ctrl-C: {status}"
    );
    assert!(port_is_free(8000), "DynamoDB Local stopped with `up`");
}
