//! `dm-bench`: runs the dm-standard workload and writes its report; with
//! `--compare`, runs the reference design's script on a fresh DynamoDB Local of
//! its own
//! and prints the ratios. `cargo xtask bench` builds it in release and runs it.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};
use clap::Parser;
use dm_bench::{StoreKind, Via, Workload, report};

#[derive(Debug, Parser)]
#[command(name = "dm-bench", about = "The dm-standard benchmark")]
struct Cli {
    /// The store.
    #[arg(long, value_enum, default_value_t = StoreKind::Dynamodb)]
    store: StoreKind,
    /// A DynamoDB endpoint; DynamoDB Local is started on a free port when absent.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Through the repository, or through the HTTP API.
    #[arg(long, value_enum, default_value_t = Via::Direct)]
    via: Via,
    /// Operations per phase.
    #[arg(long, default_value_t = 2000)]
    ops: usize,
    /// Operations in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Users.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Conversations.
    #[arg(long, default_value_t = 200)]
    groups: usize,
    /// Messages per conversation before the phases.
    #[arg(long, default_value_t = 10)]
    seed_messages: usize,
    /// Pause the stream side during the send phase (DynamoDB only), to show
    /// what its transactions cost the sends at DynamoDB Local's one writer.
    #[arg(long)]
    pause_stream: bool,
    /// Conversation sizes of the group phase (2: one-to-one).
    #[arg(long, value_delimiter = ',', default_values_t = [2, 10, 100])]
    group_sizes: Vec<usize>,
    /// Messages sent at each size of the group phase, one at a time.
    #[arg(long, default_value_t = 60)]
    group_messages: usize,
    /// Idle authenticated sockets to open to one `dm-api` process, whose
    /// resident memory is reported (0: none).
    #[arg(long, default_value_t = 2000)]
    sockets: usize,
    /// The `dm-api` binary for `--sockets` (default: beside `dm-bench`).
    #[arg(long)]
    dm_api: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the Markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also run the reference design's script (Python, boto3), on a fresh DynamoDB Local of its own.
    #[arg(long)]
    compare: bool,
    /// The reference script.
    #[arg(long, default_value = "../shared/bench/seed_baseline.py")]
    baseline: PathBuf,
}

fn main() -> anyhow::Result<()> {
    // dm-bin's setup, and with it the allocator of the binaries measured.
    dm_bin::telemetry::init(dm_bin::telemetry::Format::Console, "warn");
    let cli = Cli::parse();
    let workload = Workload {
        users: cli.users,
        groups: cli.groups,
        seed_messages: cli.seed_messages,
        ops: cli.ops,
        concurrency: cli.concurrency,
        pause_stream: cli.pause_stream,
        group_sizes: cli.group_sizes.clone(),
        group_messages: cli.group_messages,
    };
    // DynamoDB Local, when needed and not given.
    let mut local = match (cli.store, &cli.endpoint_url) {
        (StoreKind::Dynamodb, None) => {
            let install = dm_local::Install::ensure(&dm_local::default_dir())?;
            Some(install.start(&dm_local::Options::default())?)
        }
        _ => None,
    };
    let endpoint = cli
        .endpoint_url
        .clone()
        .or_else(|| local.as_ref().map(dm_local::DynamoDbLocal::endpoint));
    let backend = dm_bench::backend(cli.store, endpoint.clone())?;
    eprintln!(
        "running dm-standard ({} ops per phase, concurrency {}) on {:?} via {:?}",
        cli.ops, cli.concurrency, cli.store, cli.via
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut ours = runtime.block_on(dm_bench::run(&backend, cli.via, &workload))?;
    if cli.sockets > 0 {
        let dm_api = match &cli.dm_api {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("dm-api"),
        };
        eprintln!(
            "holding {} idle sockets on {}",
            cli.sockets,
            dm_api.display()
        );
        ours.idle_sockets =
            Some(runtime.block_on(dm_bench::delivery::idle_sockets(&dm_api, cli.sockets))?);
    }
    let reference = if cli.compare {
        if endpoint.is_none() {
            bail!("--compare needs DynamoDB");
        }
        // The reference on a fresh DynamoDB Local of its own: one instance
        // slows down with every run it serves, so a reference measured on
        // ours, after ours, would look many times slower than it is.
        drop(local.take());
        let install = dm_local::Install::ensure(&dm_local::default_dir())?;
        let fresh = install.start(&dm_local::Options::default())?;
        Some(run_reference(&cli, &fresh.endpoint())?)
    } else {
        None
    };
    let json = serde_json::to_string_pretty(&ours)?;
    println!("{json}");
    if let Some(path) = &cli.json {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    let table = report::markdown(&ours, reference.as_ref());
    println!("\n{table}");
    if let Some(path) = &cli.markdown {
        std::fs::write(path, &table).with_context(|| format!("writing {}", path.display()))?;
    }
    drop(local);
    Ok(())
}

fn run_reference(cli: &Cli, endpoint: &str) -> anyhow::Result<report::Reference> {
    if !cli.baseline.is_file() {
        bail!(
            "the reference script {} is missing; pass --baseline",
            cli.baseline.display()
        );
    }
    let has_boto3 = Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_boto3 {
        eprintln!("installing boto3 for the reference script");
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "boto3"])
            .status()?;
        if !status.success() {
            bail!("`python3 -m pip install boto3` failed");
        }
    }
    let out = std::env::temp_dir().join(format!("dm-bench-reference-{}.json", std::process::id()));
    eprintln!("running the reference design's script on a fresh DynamoDB Local of its own");
    let status = Command::new("python3")
        .arg(&cli.baseline)
        .args([
            "--endpoint",
            endpoint,
            "--table",
            "cruddur-messages-baseline",
        ])
        .args([
            "--users",
            &cli.users.to_string(),
            "--groups",
            &cli.groups.to_string(),
        ])
        .args([
            "--seed-messages",
            &cli.seed_messages.to_string(),
            "--ops",
            &cli.ops.to_string(),
        ])
        .args([
            "--concurrency",
            &cli.concurrency.to_string(),
            "--json",
            out.to_str().unwrap_or_default(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running python3")?;
    if !status.success() {
        bail!("the reference script failed ({status})");
    }
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    Ok(serde_json::from_str(&text)?)
}
