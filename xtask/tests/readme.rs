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
//! Slow (it builds and runs the binaries as `cargo` does for a user), so it
//! is ignored unless `--include-ignored`: `cargo xtask test --slow`, as CI.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

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

/// Runs a block as a bash script with a user's own AWS setup; its output.
fn run_block(block: &str) -> String {
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", block])
        .current_dir(root())
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
    let mut up = spawn(first[0]);
    wait_for_line(&mut up, "Ctrl-C stops everything", Duration::from_secs(900));
    let mut ran = 0;
    for block in &blocks[1..] {
        let out = run_block(block);
        ran += 1;
        if block.contains("cargo xtask migrate") {
            // `up`'s table is in the current layout: both say so.
            assert_eq!(
                out.matches("nothing to do: every conversation is in the current layout")
                    .count(),
                2,
                "{out}"
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
