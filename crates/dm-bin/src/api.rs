//! The `dm-api` command line (flags with environment fallbacks), and serving
//! what it describes: the binaries `dm-api` and `dm-api-lambda`, and
//! `cargo xtask up`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use axum::http::HeaderValue;
use clap::{Parser, ValueEnum};
use dm_store::{DynamoRepository, MemoryRepository, Repository};
use dm_stream::{Handler, live::ConnectionNotifier, memory_feed};

use dm_api::{
    AppState,
    auth::{CognitoVerifier, LocalVerifier, TokenVerifier},
};

/// Which store backs the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    /// In memory, with its own stream task; nothing to install.
    Memory,
    /// A DynamoDB table (rows follow through the stream handler: Lambda or `cargo xtask stream`).
    Dynamodb,
}

/// How tokens are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Cognito access tokens (RS256, the pool's JWKS).
    Cognito,
    /// Tokens from `cargo xtask token @handle` (HS256, a local key file).
    Local,
}

/// The `dm-api` command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "dm-api", about = "The Cruddur direct-messaging HTTP API")]
pub struct Config {
    /// The store.
    #[arg(long, env = "DM_STORE", value_enum, default_value_t = Store::Memory)]
    pub store: Store,
    /// Seed the store (users @andrewbrown, @bayko, @londo and a conversation) at start.
    #[arg(long, env = "DM_SEED")]
    pub seed: bool,
    /// DynamoDB endpoint (DynamoDB Local); real DynamoDB from the default chain when absent.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
    pub endpoint_url: Option<String>,
    /// The table.
    #[arg(long, env = "DM_TABLE", default_value = dm_store::schema::DEFAULT_TABLE)]
    pub table: String,
    /// Address to listen on.
    #[arg(long, env = "DM_LISTEN", default_value = "127.0.0.1:4567")]
    pub listen: SocketAddr,
    /// How tokens are verified.
    #[arg(long, env = "DM_AUTH", value_enum, default_value_t = AuthMode::Local)]
    pub auth: AuthMode,
    /// The local token key file (auth `local`); created if missing.
    #[arg(long, env = "DM_LOCAL_KEY_FILE", default_value = dm_api::auth::LOCAL_KEY_FILE)]
    pub local_key_file: PathBuf,
    /// Cognito region (auth `cognito`).
    #[arg(long, env = "DM_COGNITO_REGION")]
    pub cognito_region: Option<String>,
    /// Cognito user pool id (auth `cognito`).
    #[arg(long, env = "DM_COGNITO_USER_POOL_ID")]
    pub cognito_user_pool_id: Option<String>,
    /// Cognito app client id (auth `cognito`).
    #[arg(long, env = "DM_COGNITO_CLIENT_ID")]
    pub cognito_client_id: Option<String>,
    /// Where to read the pool's JWKS; the pool's well-known address by default.
    #[arg(long, env = "DM_COGNITO_JWKS_URL")]
    pub cognito_jwks_url: Option<String>,
    /// Origins allowed by CORS (repeat, or comma-separated; `none` for none).
    /// Unset: the Cruddur frontend's development origins in local auth mode
    /// (`http://localhost:3000`, `http://127.0.0.1:3000`), none in Cognito mode.
    #[arg(long = "cors-origin", env = "DM_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Request timeout in milliseconds.
    #[arg(long, env = "DM_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
}

/// A running store: the repository, and for memory the repository itself
/// (whose feed the stream task follows).
pub async fn store(
    config: &Config,
) -> anyhow::Result<(Arc<dyn Repository>, Option<MemoryRepository>)> {
    Ok(match config.store {
        Store::Memory => {
            let memory = MemoryRepository::new();
            (Arc::new(memory.clone()), Some(memory))
        }
        Store::Dynamodb => {
            let sdk = dm_store::client::sdk_config(config.endpoint_url.as_deref()).await;
            (Arc::new(DynamoRepository::new(&sdk, &config.table)?), None)
        }
    })
}

/// On Lambda: the configuration from the environment, and its DynamoDB
/// repository (the only store a function can share with the others).
pub async fn lambda_store() -> anyhow::Result<(Config, Arc<dyn Repository>)> {
    let config = Config::try_parse_from(["dm-api"])?;
    if config.store != Store::Dynamodb {
        bail!("on Lambda the store is DynamoDB: set DM_STORE=dynamodb");
    }
    let (repo, _) = store(&config).await?;
    Ok((config, repo))
}

/// The local token key of the configuration, in local auth mode.
fn local_key(config: &Config) -> anyhow::Result<Option<LocalVerifier>> {
    match config.auth {
        AuthMode::Local => Ok(Some(
            LocalVerifier::from_file(&config.local_key_file).with_context(|| {
                format!("reading the local key {}", config.local_key_file.display())
            })?,
        )),
        AuthMode::Cognito => Ok(None),
    }
}

/// The token verifier the configuration asks for.
pub fn verifier(config: &Config) -> anyhow::Result<Arc<dyn TokenVerifier>> {
    Ok(match config.auth {
        AuthMode::Local => Arc::new(local_key(config)?.context("local auth has a key")?),
        AuthMode::Cognito => {
            let (Some(region), Some(pool), Some(client)) = (
                &config.cognito_region,
                &config.cognito_user_pool_id,
                &config.cognito_client_id,
            ) else {
                bail!(
                    "--auth cognito needs --cognito-region, --cognito-user-pool-id and --cognito-client-id"
                );
            };
            Arc::new(CognitoVerifier::new(
                region,
                pool,
                client,
                config.cognito_jwks_url.clone(),
            ))
        }
    })
}

/// The origins CORS allows ([`dm_api::cors::allowed_origins`]).
pub fn cors_origins(config: &Config) -> Vec<String> {
    dm_api::cors::allowed_origins(&config.cors_origins, config.auth == AuthMode::Local)
}

/// The application state the configuration describes.
pub fn state(config: &Config, repo: Arc<dyn Repository>) -> anyhow::Result<AppState> {
    let mut state = AppState::new(repo, verifier(config)?);
    state.local_tokens = local_key(config)?;
    state.timeout = Duration::from_millis(config.request_timeout_ms);
    state.cors_origins = cors_origins(config)
        .iter()
        .map(|o| HeaderValue::from_str(o).with_context(|| format!("CORS origin {o}")))
        .collect::<anyhow::Result<_>>()?;
    Ok(state)
}

/// Builds everything and serves until `shutdown` completes; the memory
/// store's stream task stops with it.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (repo, memory) = store(&config).await?;
    if config.seed {
        let seeded = dm_store::seed::seed(repo.as_ref(), |_, _| {})
            .await
            .context("seeding")?;
        tracing::info!(group = %seeded.group, "seeded");
    }
    let state = state(&config, repo.clone())?;
    // In one process the stream task posts to the sockets directly.
    let (stop_feed, feed_stopped) = tokio::sync::oneshot::channel::<()>();
    let feed = memory.map(|memory| {
        let notifier = ConnectionNotifier::new(repo.clone(), Arc::new(state.hub.clone()));
        let handler = Handler::new(repo.clone()).with_notifier(Arc::new(notifier));
        memory_feed::spawn(memory, handler, async {
            let _ = feed_stopped.await;
        })
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, store = ?config.store, auth = ?config.auth, "serving");
    // The peer address tells loopback (the local management API) apart.
    let app = dm_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    let _ = stop_feed.send(());
    if let Some(feed) = feed {
        let _ = feed.await;
    }
    Ok(())
}
