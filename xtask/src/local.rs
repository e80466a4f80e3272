//! Running things locally: DynamoDB Local, the whole system (`up`), the tests.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};
use clap::{Args, Parser};
use dm_local::{DynamoDbLocal, Install, Options};

use crate::Target;

#[derive(Debug, Args)]
pub(crate) struct DynamoDbLocalArgs {
    /// The port to listen on (loopback only).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Keep the data in this folder instead of in memory.
    #[arg(long, value_name = "DIR")]
    persist: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    local: DynamoDbLocalArgs,
    /// Where the API listens.
    #[arg(long, default_value = "127.0.0.1:4567")]
    listen: std::net::SocketAddr,
    /// The table.
    #[arg(long, env = "DM_TABLE", default_value = dm_store::schema::DEFAULT_TABLE)]
    table: String,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Also run the slow tests (ignored by a plain `cargo test`).
    #[arg(long)]
    slow: bool,
    /// Arguments passed on to `cargo test` (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Installs (once) and starts DynamoDB Local.
async fn start(port: Option<u16>, persist: Option<PathBuf>) -> anyhow::Result<DynamoDbLocal> {
    tokio::task::spawn_blocking(move || {
        let dir = dm_local::default_dir();
        let install = Install::ensure(&dir)?;
        install.start(&Options { port, persist })
    })
    .await
    .context("the DynamoDB Local launcher failed")?
    .map_err(anyhow::Error::from)
}

/// Waits for Ctrl-C (or for DynamoDB Local to exit by itself).
async fn until_stopped(local: &mut DynamoDbLocal) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                signal.context("listening for Ctrl-C")?;
                eprintln!("\nstopping");
                return Ok(());
            }
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                if let Some(status) = local.try_wait()? {
                    bail!("DynamoDB Local exited by itself ({status}); see {}", local.log().display());
                }
            }
        }
    }
}

pub(crate) async fn dynamodb_local(args: DynamoDbLocalArgs) -> anyhow::Result<()> {
    let mut local = start(Some(args.port), args.persist.clone()).await?;
    println!("DynamoDB Local is listening on {}", local.endpoint());
    match &args.persist {
        Some(dir) => println!("data is kept in {}", dir.display()),
        None => println!("data is kept in memory and lost when it stops"),
    }
    println!("log: {}\nCtrl-C to stop", local.log().display());
    until_stopped(&mut local).await
}

pub(crate) async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut local = start(Some(args.local.port), args.local.persist.clone()).await?;
    let target = Target::local(local.endpoint(), args.table);
    crate::tables::setup(&crate::tables::SchemaLoadArgs::new(target.clone())).await?;
    let poll = dm_bin::poll::PollArgs {
        target: Target::local(local.endpoint(), &target.table),
        checkpoint: None,
        live_endpoint: Some(format!("http://{}", args.listen)),
        interval_ms: 100,
        concurrency: dm_stream::DEFAULT_CONCURRENCY,
    };
    let poller = poll.poller().await?;
    let (stop_poller, poller_stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = tokio::spawn(poller.run(async {
        let _ = poller_stopped.await;
    }));
    let api = dm_bin::api::Config::parse_from([
        "dm-api",
        "--store",
        "dynamodb",
        "--endpoint-url",
        &local.endpoint(),
        "--table",
        &target.table,
        "--listen",
        &args.listen.to_string(),
        "--auth",
        "local",
    ]);
    let key = dm_api::auth::LocalVerifier::from_file(&api.local_key_file)?;
    let token = key.mint(dm_store::seed::USERS[0].sub)?;
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut api = tokio::spawn(dm_bin::api::serve(api, async {
        let _ = api_stopped.await;
    }));
    // The API is up once it answers.
    let url = format!("http://{}", args.listen);
    wait_for_api(&url, &mut api).await?;
    println!();
    println!("API:            {url}   (OpenAPI: {url}/api/openapi.json)");
    println!("DynamoDB Local: {}", local.endpoint());
    println!("Table:          {}", target.table);
    println!("Stream poller:  running (conversation rows follow new messages)");
    println!("Token for @andrewbrown (12 h; `cargo xtask token @bayko` makes others):");
    println!("  {token}");
    println!("Try:");
    println!("  curl -s -H \"Authorization: Bearer {token}\" {url}/api/message_groups");
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer {token}\" -H 'Content-Type: application/json' \\\n       -d '{{\"handle\": \"londo\", \"message\": \"Hello, Londo!\"}}' {url}/api/messages"
    );
    println!("Ctrl-C stops everything.");
    let result = until_stopped(&mut local).await;
    let _ = stop_api.send(());
    let _ = stop_poller.send(());
    let _ = api.await;
    let _ = poller.await;
    result
}

/// Waits until the API accepts connections, or fails if it stopped.
async fn wait_for_api(
    url: &str,
    api: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let address = url.trim_start_matches("http://");
    for _ in 0..100 {
        if api.is_finished() {
            return match api.await {
                Ok(Err(e)) => Err(e.context("the API stopped")),
                _ => bail!("the API stopped"),
            };
        }
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bail!("the API did not start listening on {url}")
}

pub(crate) async fn stream(args: dm_bin::poll::PollArgs) -> anyhow::Result<()> {
    let poller = args.poller().await?;
    println!(
        "polling the stream of table {}; Ctrl-C stops",
        args.target.table
    );
    poller
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    println!("stopped");
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Arguments of `dm-bench` (see `cargo xtask bench -- --help`): --store, --via, --ops, --concurrency, --json, --markdown, --compare, ...
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Builds `dm-bench` and `dm-api` (whose idle sockets it measures) in
/// release and runs `dm-bench` from the workspace root.
pub(crate) fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = crate::workspace_root()?;
    let built = Command::new(cargo)
        .args(["build", "--release", "--bin", "dm-bench", "--bin", "dm-api"])
        .current_dir(&root)
        .status()
        .context("building dm-bench")?;
    if !built.success() {
        bail!("building dm-bench failed ({built})");
    }
    let status = Command::new(root.join("target/release/dm-bench"))
        .args(&args.args)
        .current_dir(&root)
        .status()
        .context("running dm-bench")?;
    if !status.success() {
        bail!("dm-bench failed ({status})");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The targets; all of them when none is named.
    targets: Vec<String>,
}

/// The fuzz targets of `fuzz/`.
const FUZZ_TARGETS: [&str; 3] = ["key_codec", "cursor", "request"];

/// Runs each fuzz target for a bounded time; a crash fails the run and
/// leaves its input in `fuzz/artifacts/`, to become a regression test.
pub(crate) fn fuzz(args: &FuzzArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root()?;
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        let nightly = Command::new("cargo")
            .args(["+nightly", "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !nightly {
            bail!("fuzzing needs a nightly toolchain (`rustup toolchain install nightly`)");
        }
        println!("installing cargo-fuzz");
        let status = Command::new("cargo")
            .args(["+nightly", "install", "cargo-fuzz", "--locked"])
            .status()?;
        if !status.success() {
            bail!("`cargo +nightly install cargo-fuzz` failed");
        }
    }
    let targets: Vec<&str> = if args.targets.is_empty() {
        FUZZ_TARGETS.to_vec()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    for target in targets {
        println!("== fuzzing {target} for {} s", args.seconds);
        let status = Command::new("cargo")
            .args([
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                target,
                "--",
            ])
            .arg(format!("-max_total_time={}", args.seconds))
            .current_dir(&root)
            .status()
            .context("running cargo fuzz")?;
        if !status.success() {
            bail!("fuzzing {target} found a failure; its input is in fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}

/// Runs `crates/dm-api/web/e2e` (node's test runner, playwright-core, the
/// machine's Chromium) against a freshly built `dm-api`.
pub(crate) fn web_test() -> anyhow::Result<()> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).is_file() {
        bail!(
            "the web test needs Chromium at {chromium}: install it (`apt-get install chromium` on Debian) \
             or point $CHROMIUM at one"
        );
    }
    let root = crate::workspace_root()?;
    let e2e = root.join("crates/dm-api/web/e2e");
    if !e2e.join("node_modules/playwright-core").is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&e2e)
            .status()
            .context("running npm (install Node.js and npm)")?;
        if !status.success() {
            bail!("`npm ci` in {} failed", e2e.display());
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--package", "dm-bin", "--bin", "dm-api"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("building dm-api failed");
    }
    let screenshots = root.join("target/screenshots");
    let status = Command::new("node")
        .args([
            "--test",
            "--test-concurrency=1",
            "messaging.test.mjs",
            "live.test.mjs",
            "read.test.mjs",
            "edit.test.mjs",
            "groups.test.mjs",
            "cors.test.mjs",
        ])
        .current_dir(&e2e)
        .env("DM_API_BIN", root.join("target/debug/dm-api"))
        .env("DM_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .status()
        .context("running node")?;
    if !status.success() {
        bail!("the web test failed");
    }
    println!("screenshots: {}", screenshots.display());
    Ok(())
}

pub(crate) fn test(args: TestArgs) -> anyhow::Result<()> {
    let install = Install::ensure(&dm_local::default_dir())?;
    // One DynamoDB Local for every test binary, instead of one each.
    let local = install.start(&Options::default())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .args(&args.args)
        .args(if args.slow {
            ["--", "--include-ignored"].as_slice()
        } else {
            [].as_slice()
        })
        .env(dm_local::ENDPOINT_ENV, local.endpoint())
        .status()
        .context("running cargo test")?;
    local.stop();
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
}
