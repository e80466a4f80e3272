//! Authentication: bearer tokens, verified locally or against Cognito.
//!
//! - `local`: HS256 tokens minted by `cargo xtask token @handle` with a key
//!   kept in a git-ignored file (`.local/jwt.key`), which both sides create
//!   on first use.
//! - `cognito`: Cognito access tokens, RS256 against the user pool's JWKS,
//!   cached and refreshed when a token names an unknown key id (at most every
//!   30 seconds); `exp`, `iss`, `token_use` and `client_id` are checked.
//!
//! Either way the token's subject maps to a user through the Cognito claim
//! item. There is no mode that trusts a header without a signature.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::request::Parts,
};
use dm_domain::{Timestamp, User};
use dm_store::Repository;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::{AppState, error::ApiError};

/// The issuer and client id of local tokens.
pub const LOCAL_ISSUER: &str = "dm-local";
/// How long a local token lives.
pub const LOCAL_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);
/// Where the local key is kept by default, relative to the working directory.
pub const LOCAL_KEY_FILE: &str = ".local/jwt.key";
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

/// The claims this API reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's Cognito subject.
    pub sub: String,
    /// `access` for access tokens.
    #[serde(default)]
    pub token_use: Option<String>,
    /// The app client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The issuer.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<u64>,
    /// Not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// Why a token was refused; for logs only, clients see `token_invalid`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Signature, algorithm, expiry, issuer or format.
    #[error(transparent)]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// Not an access token, or for another client.
    #[error("wrong {0}")]
    Claim(&'static str),
    /// No key of the pool has this id.
    #[error("unknown key id")]
    UnknownKey,
    /// The JWKS could not be fetched.
    #[error("fetching the JWKS: {0}")]
    Jwks(String),
}

/// Verifies bearer tokens.
#[async_trait]
pub trait TokenVerifier: Send + Sync + std::fmt::Debug {
    /// The claims of a valid token.
    async fn verify(&self, token: &str) -> Result<Claims, TokenError>;
}

fn check_claims(claims: &Claims, client_id: &str) -> Result<(), TokenError> {
    if claims.token_use.as_deref() != Some("access") {
        return Err(TokenError::Claim("token_use"));
    }
    if claims.client_id.as_deref() != Some(client_id) {
        return Err(TokenError::Claim("client_id"));
    }
    Ok(())
}

/// Local tokens: HS256 with a key from a file.
#[derive(Clone)]
pub struct LocalVerifier {
    key: Arc<Vec<u8>>,
}

impl std::fmt::Debug for LocalVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalVerifier")
    }
}

impl LocalVerifier {
    /// The verifier of tokens signed with `key`.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: Arc::new(key) }
    }

    /// The verifier of the key in `path`, which is created if missing.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        Ok(Self::new(load_or_create_key(path)?))
    }

    /// Mints a local access token for the user with Cognito subject `sub`,
    /// valid for [`LOCAL_TOKEN_TTL`].
    pub fn mint(&self, sub: &str) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_for(sub, LOCAL_TOKEN_TTL)
    }

    /// Mints a local access token valid for `ttl` (whole seconds).
    pub fn mint_for(
        &self,
        sub: &str,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = u64::try_from(Timestamp::unix_now()).unwrap_or_default();
        let claims = Claims {
            sub: sub.to_owned(),
            token_use: Some("access".into()),
            client_id: Some(LOCAL_ISSUER.into()),
            iss: LOCAL_ISSUER.into(),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            nbf: None,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )
    }
}

#[async_trait]
impl TokenVerifier for LocalVerifier {
    async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )?;
        check_claims(&data.claims, LOCAL_ISSUER)?;
        Ok(data.claims)
    }
}

/// Reads the local key, creating it (random, 32 bytes, hex) if missing.
pub fn load_or_create_key(path: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let fresh: String = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .map(|u| u.simple().to_string())
        .collect();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, fresh.as_bytes())?;
            Ok(fresh.into_bytes())
        }
        // Another process may have just created it: read theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..50 {
                let key = std::fs::read(path)?;
                if !key.is_empty() {
                    return Ok(key.trim_ascii().to_vec());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::io::Error::other(format!(
                "{} is empty",
                path.display()
            )))
        }
        Err(e) => Err(e),
    }
}

/// Cognito access tokens, verified against the pool's JWKS.
#[derive(Debug)]
pub struct CognitoVerifier {
    issuer: String,
    client_id: String,
    jwks_url: String,
    http: reqwest::Client,
    min_refresh: Duration,
    keys: RwLock<(HashMap<String, DecodingKey>, Option<Instant>)>,
}

impl CognitoVerifier {
    /// The verifier of `pool_id`'s access tokens for `client_id`; the JWKS is
    /// read from `jwks_url`, or from the pool's well-known address.
    pub fn new(region: &str, pool_id: &str, client_id: &str, jwks_url: Option<String>) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        Self::with_issuer(
            issuer.clone(),
            client_id,
            jwks_url.unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
        )
    }

    /// A verifier for an explicit issuer and JWKS address.
    pub fn with_issuer(issuer: String, client_id: &str, jwks_url: String) -> Self {
        Self {
            issuer,
            client_id: client_id.to_owned(),
            jwks_url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            min_refresh: JWKS_MIN_REFRESH,
            keys: RwLock::new((HashMap::new(), None)),
        }
    }

    /// The same verifier, refreshing the key set at most every `interval`
    /// (30 seconds by default).
    pub fn with_min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if let Some(key) = self.keys.read().await.0.get(kid) {
            return Ok(key.clone());
        }
        let mut cache = self.keys.write().await;
        if let Some(key) = cache.0.get(kid) {
            return Ok(key.clone());
        }
        // An unknown key id refreshes the set, but not more often than this.
        if cache.1.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(TokenError::UnknownKey);
        }
        cache.1 = Some(Instant::now());
        let set: JwkSet = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TokenError::Jwks(e.to_string()))?
            .json()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        cache.0 = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect();
        cache.0.get(kid).cloned().ok_or(TokenError::UnknownKey)
    }
}

#[async_trait]
impl TokenVerifier for CognitoVerifier {
    async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Claim("alg"));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)?;
        check_claims(&data.claims, &self.client_id)?;
        Ok(data.claims)
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?
            .ok_or(ApiError::Unauthorized("token_missing"))
    }
}

/// `Option<AuthUser>`: `None` without an `Authorization` header; a header
/// that is there is checked as for [`AuthUser`], and refused when invalid.
impl OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized("token_missing"))?;
        authenticate(&*state.verifier, &*state.repo, &state.users, token)
            .await
            .map(|(user, _)| Some(Self(user)))
    }
}

/// The users that tokens named lately, by subject: a steady client's
/// requests cost no reads for auth (the Cognito claim item and the user
/// item, 2 reads, on a miss).
///
/// Bounded (moka; least recently used entries go first once
/// [`Self::CAPACITY`] is reached), and each entry is trusted for
/// [`Self::TIME_TO_LIVE`] after it was read. The token itself is verified on
/// every request (signature, expiry, issuer, client); only the subject's user
/// is remembered. What a stale entry can do: for up to
/// [`Self::TIME_TO_LIVE`] after a user item or a Cognito claim changes or
/// goes (nothing in this API does either; only a hand edit of the table),
/// requests with a valid token of that subject act as the user as read
/// before. An unknown subject is never remembered, so a user provisioned
/// just now signs in at once. Entries are dropped when they expire, when the
/// cache is full, and with the process. Clones share the entries.
#[derive(Debug, Clone)]
pub struct UserCache {
    entries: moka::sync::Cache<String, User>,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(Self::CAPACITY)
                .time_to_live(Self::TIME_TO_LIVE)
                .build(),
        }
    }
}

impl UserCache {
    /// Entries kept at most.
    pub const CAPACITY: u64 = 16_384;
    /// How long an entry is trusted after it was read.
    pub const TIME_TO_LIVE: Duration = Duration::from_secs(60);

    /// The user of Cognito subject `sub`: remembered, or read and remembered.
    async fn user(&self, repo: &dyn Repository, sub: &str) -> dm_store::StoreResult<User> {
        if let Some(user) = self.entries.get(sub) {
            return Ok(user);
        }
        let user = repo.user_by_cognito_sub(sub).await?;
        self.entries.insert(sub.to_owned(), user.clone());
        Ok(user)
    }
}

/// The user a token names, and its claims: the token verified, then its
/// subject looked up through the Cognito claim item (or remembered, see
/// [`UserCache`]).
pub(crate) async fn authenticate(
    verifier: &dyn TokenVerifier,
    repo: &dyn Repository,
    users: &UserCache,
    token: &str,
) -> Result<(User, Claims), ApiError> {
    let claims = verifier.verify(token).await.map_err(|e| {
        tracing::debug!(error = %e, "token refused");
        ApiError::Unauthorized("token_invalid")
    })?;
    match users.user(repo, &claims.sub).await {
        Ok(user) => Ok((user, claims)),
        Err(dm_store::StoreError::NotFound(_)) => Err(ApiError::Unauthorized("user_unknown")),
        Err(e) => Err(e.into()),
    }
}

/// The default local key path.
pub fn default_key_file() -> PathBuf {
    PathBuf::from(LOCAL_KEY_FILE)
}
