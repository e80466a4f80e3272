//! DynamoDB's JSON protocol for the repository's data calls, without the
//! SDK's per-request machinery.
//!
//! Why: every call through `aws-sdk-dynamodb` runs its whole orchestrator
//! (config bag, interceptors, endpoint rules, identity cache, retry
//! classifiers, user-agent assembly), about 200 us of CPU per PutItem on the
//! benchmark machine against about 85 us for the same signed request sent
//! with hyper (`cargo xtask bench`, `docs/benchmarks.md`). The repository's
//! handful of data calls (GetItem, Query, PutItem, DeleteItem,
//! TransactWriteItems, BatchWriteItem) go through this client instead; table
//! administration and the tools stay on the SDK.
//!
//! What it takes from the SDK's configuration ([`SdkConfig`]): the region,
//! the endpoint URL (`endpoint_url`, or `$AWS_ENDPOINT_URL_DYNAMODB`), FIPS
//! and dual-stack endpoints, the credentials provider (credentials are cached
//! until a minute before they expire), the retry settings (attempts and
//! backoff of the standard mode, full jitter) and the timeouts (connect,
//! attempt, operation). Requests are signed with SigV4 by `aws-sigv4`, the
//! SDK's own signer; items are (de)serialised by `serde_dynamo`. Left out:
//! clock-skew correction, the retry token bucket and response CRC32 checks.

use std::{
    sync::RwLock,
    time::{Duration, SystemTime},
};

use aws_config::SdkConfig;
use aws_credential_types::{Credentials, provider::ProvideCredentials};
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::{Serialize, de::DeserializeOwned};

use crate::faults::FaultInjector;

/// The SDK's default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Credentials are refreshed this long before they expire (the SDK's
/// identity cache waits until 10 s before).
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WireError {
    /// DynamoDB answered with an error.
    Service {
        /// The HTTP status.
        status: u16,
        /// The error code, such as `ConditionalCheckFailedException`.
        code: String,
        /// DynamoDB's message, for logs.
        message: String,
        /// A cancelled transaction's reason codes, one per item.
        reasons: Vec<String>,
    },
    /// No answer: connecting, sending or reading failed, or timed out.
    Transport(String),
    /// The request could not be made: no credentials, a bad configuration.
    Local(String),
}

impl WireError {
    /// Whether another attempt may succeed: what the SDK's standard retry
    /// mode retries (throttling, transient and server errors, no answer).
    fn is_retryable(&self) -> bool {
        match self {
            Self::Service { status, code, .. } => *status >= 500 || is_throttling(code),
            Self::Transport(_) => true,
            Self::Local(_) => false,
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Service {
                status,
                code,
                message,
                reasons,
            } => {
                write!(f, "{code} (HTTP {status}): {message}")?;
                if !reasons.is_empty() {
                    write!(f, " {reasons:?}")?;
                }
                Ok(())
            }
            Self::Transport(e) => write!(f, "no answer from DynamoDB: {e}"),
            Self::Local(e) => write!(f, "{e}"),
        }
    }
}

/// The error codes DynamoDB throttles with (and the SDK retries as throttling).
pub(crate) fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionInProgressException"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

/// How failed attempts are retried: the SDK's standard mode.
#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    initial: Duration,
    max: Duration,
}

impl Retry {
    fn from_config(config: &SdkConfig) -> Self {
        let standard = aws_smithy_types::retry::RetryConfig::standard();
        let retry = config.retry_config().unwrap_or(&standard);
        Self {
            attempts: retry.max_attempts().max(1),
            initial: retry.initial_backoff(),
            max: retry.max_backoff(),
        }
    }

    /// Full jitter: uniform between zero and the doubled backoff.
    fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max);
        let fraction = (uuid::Uuid::new_v4().as_u128() as u64) as f64 / u64::MAX as f64;
        ceiling.mul_f64(fraction)
    }
}

/// Credentials from the configured provider, kept until shortly before they expire.
struct CredentialCache {
    provider: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    current: RwLock<Option<(Credentials, Identity)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    fn fresh(&self) -> Option<Identity> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let (credentials, identity) = current.as_ref()?;
        let valid = credentials
            .expiry()
            .is_none_or(|expiry| SystemTime::now() + REFRESH_BEFORE_EXPIRY < expiry);
        valid.then(|| identity.clone())
    }

    async fn identity(&self) -> Result<Identity, WireError> {
        if let Some(identity) = self.fresh() {
            return Ok(identity);
        }
        // One refresh at a time; the others wait for its result.
        let _refreshing = self.refresh.lock().await;
        if let Some(identity) = self.fresh() {
            return Ok(identity);
        }
        let provider = self
            .provider
            .as_ref()
            .ok_or_else(|| WireError::Local("no AWS credentials provider is configured".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| WireError::Local(format!("loading AWS credentials: {e}")))?;
        let identity = Identity::from(credentials.clone());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((credentials, identity.clone()));
        Ok(identity)
    }
}

/// The client; cheap to share behind an `Arc`.
pub(crate) struct Wire {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: http::Uri,
    /// The URI as text, as the signer takes it.
    url: String,
    host: http::HeaderValue,
    region: String,
    credentials: CredentialCache,
    retry: Retry,
    attempt_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    faults: Option<FaultInjector>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("uri", &self.uri)
            .field("region", &self.region)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// The endpoint DynamoDB is reached at, as the SDK would choose it.
pub(crate) fn endpoint(config: &SdkConfig) -> Result<String, WireError> {
    endpoint_with(config, std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok())
}

/// [`endpoint`], given `$AWS_ENDPOINT_URL_DYNAMODB`.
fn endpoint_with(config: &SdkConfig, service_url: Option<String>) -> Result<String, WireError> {
    if let Some(url) = config.endpoint_url() {
        return Ok(url.to_owned());
    }
    if let Some(url) = service_url.filter(|u| !u.is_empty()) {
        return Ok(url);
    }
    let region = config
        .region()
        .ok_or_else(|| WireError::Local("no AWS region is configured: set AWS_REGION".into()))?;
    let region = region.as_ref();
    let fips = config.use_fips().unwrap_or(false);
    let dual_stack = config.use_dual_stack().unwrap_or(false);
    let service = if fips { "dynamodb-fips" } else { "dynamodb" };
    let china = region.starts_with("cn-");
    let domain = match (dual_stack, china) {
        (false, false) => "amazonaws.com",
        (false, true) => "amazonaws.com.cn",
        (true, false) => "api.aws",
        (true, true) => "api.amazonwebservices.com.cn",
    };
    Ok(format!("https://{service}.{region}.{domain}"))
}

impl Wire {
    /// A client configured as the SDK would be by `config`.
    pub(crate) fn new(config: &SdkConfig) -> Result<Self, WireError> {
        let url = endpoint(config)?;
        let uri: http::Uri = url
            .parse()
            .map_err(|e| WireError::Local(format!("the endpoint URL {url}: {e}")))?;
        let host = uri
            .authority()
            .ok_or_else(|| WireError::Local(format!("the endpoint URL {url} has no host")))?
            .as_str()
            .parse()
            .map_err(|e| WireError::Local(format!("the endpoint URL {url}: {e}")))?;
        let region = config
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.as_ref().to_owned());
        let timeouts = config.timeout_config();
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(
            timeouts
                .and_then(|t| t.connect_timeout())
                .unwrap_or(CONNECT_TIMEOUT),
        ));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| WireError::Local(format!("setting up TLS: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(Self {
            http,
            url: uri.to_string(),
            uri,
            host,
            region,
            credentials: CredentialCache {
                provider: config.credentials_provider(),
                current: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
            },
            retry: Retry::from_config(config),
            attempt_timeout: timeouts.and_then(|t| t.operation_attempt_timeout()),
            operation_timeout: timeouts.and_then(|t| t.operation_timeout()),
            faults: None,
        })
    }

    /// The same client, consulting `faults` before every attempt.
    pub(crate) fn with_faults(mut self, faults: FaultInjector) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Calls operation `op` (`PutItem`, `Query`, ...) with `input`, retrying
    /// what may succeed on another attempt.
    pub(crate) async fn call<I, O>(&self, op: &'static str, input: &I) -> Result<O, WireError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let body = Bytes::from(
            serde_json::to_vec(input)
                .map_err(|e| WireError::Local(format!("encoding {op}: {e}")))?,
        );
        let attempts = async {
            let mut attempt = 0;
            loop {
                let result = match self.attempt_timeout {
                    Some(limit) => tokio::time::timeout(limit, self.attempt(op, &body))
                        .await
                        .unwrap_or_else(|_| {
                            Err(WireError::Transport(format!("no answer within {limit:?}")))
                        }),
                    None => self.attempt(op, &body).await,
                };
                match result {
                    Err(e) if e.is_retryable() && attempt + 1 < self.retry.attempts => {
                        tracing::debug!(op, attempt, error = %e, "retrying");
                        tokio::time::sleep(self.retry.delay(attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                    Ok(bytes) => {
                        return serde_json::from_slice(&bytes).map_err(|e| {
                            WireError::Transport(format!("an unreadable {op} response: {e}"))
                        });
                    }
                }
            }
        };
        match self.operation_timeout {
            Some(limit) => tokio::time::timeout(limit, attempts)
                .await
                .unwrap_or_else(|_| Err(WireError::Transport(format!("{op} took over {limit:?}")))),
            None => attempts.await,
        }
    }

    /// One signed request; the response body of a success.
    async fn attempt(&self, op: &'static str, body: &Bytes) -> Result<Bytes, WireError> {
        let fault = self.faults.as_ref().and_then(FaultInjector::next_attempt);
        let (target, body) = match fault {
            // Something harmless instead, so that the attempt has no effect.
            Some(f) if !f.takes_effect() => ("ListTables", Bytes::from_static(b"{}")),
            _ => (op, body.clone()),
        };
        let target = format!("DynamoDB_20120810.{target}");
        let identity = self.credentials.identity().await?;
        let mut request = http::Request::post(self.uri.clone())
            .header(http::header::HOST, self.host.clone())
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", &target)
            .body(Full::new(body.clone()))
            .map_err(|e| WireError::Local(format!("building {op}: {e}")))?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("dynamodb")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| WireError::Local(format!("signing {op}: {e}")))?
            .into();
        let signed_headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            signed_headers,
            SignableBody::Bytes(&body),
        )
        .map_err(|e| WireError::Local(format!("signing {op}: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| WireError::Local(format!("signing {op}: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);

        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| WireError::Transport(error_chain(&e)))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| WireError::Transport(format!("reading the {op} response: {e}")))?
            .to_bytes();
        if let Some(fault) = fault {
            let (status, code, reasons) = fault.response();
            return Err(WireError::Service {
                status,
                code: code.to_owned(),
                message: "injected by a test".into(),
                reasons,
            });
        }
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(service_error(status.as_u16(), &bytes))
        }
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads DynamoDB's error body: `{"__type": "...#Code", "message": ...}`.
pub(crate) fn service_error(status: u16, body: &[u8]) -> WireError {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Body {
        #[serde(rename = "__type")]
        kind: String,
        message: Option<String>,
        #[serde(rename = "Message")]
        message_upper: Option<String>,
        #[serde(rename = "CancellationReasons")]
        reasons: Vec<Reason>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Reason {
        #[serde(rename = "Code")]
        code: Option<String>,
    }
    let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
    let code = parsed
        .kind
        .rsplit('#')
        .next()
        .filter(|c| !c.is_empty())
        .unwrap_or(if status >= 500 {
            "InternalServerError"
        } else {
            "UnknownError"
        })
        .to_owned();
    WireError::Service {
        status,
        code,
        message: parsed
            .message
            .or(parsed.message_upper)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect()),
        reasons: parsed
            .reasons
            .into_iter()
            .map(|r| r.code.unwrap_or_else(|| "None".into()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn error_bodies_give_their_code_and_reasons() {
        let e = service_error(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"cancelled","CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"None"}]}"#,
        );
        assert_eq!(
            e,
            WireError::Service {
                status: 400,
                code: "TransactionCanceledException".into(),
                message: "cancelled".into(),
                reasons: vec!["ConditionalCheckFailed".into(), "None".into()],
            }
        );
        let WireError::Service { code, .. } = service_error(503, b"<html>busy</html>") else {
            panic!("not a service error")
        };
        assert_eq!(code, "InternalServerError");
    }

    #[test]
    fn throttling_server_errors_and_no_answer_are_retried() {
        let service = |status, code: &str| WireError::Service {
            status,
            code: code.into(),
            message: String::new(),
            reasons: Vec::new(),
        };
        assert!(service(400, "ProvisionedThroughputExceededException").is_retryable());
        assert!(service(500, "InternalServerError").is_retryable());
        assert!(WireError::Transport("reset".into()).is_retryable());
        assert!(!service(400, "ConditionalCheckFailedException").is_retryable());
        assert!(!service(400, "ValidationException").is_retryable());
        assert!(!WireError::Local("no credentials".into()).is_retryable());
    }

    #[test]
    fn backoff_has_full_jitter_under_the_cap() {
        let retry = Retry {
            attempts: 3,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(250),
        };
        for n in 0..6 {
            let delay = retry.delay(n);
            let cap = Duration::from_millis(100 << n).min(Duration::from_millis(250));
            assert!(delay <= cap, "retry {n}: {delay:?} over {cap:?}");
        }
    }

    fn config(region: &str, fips: bool, dual_stack: bool) -> SdkConfig {
        SdkConfig::builder()
            .region(aws_config::Region::new(region.to_owned()))
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .build()
    }

    #[test]
    fn endpoints_follow_region_fips_and_dual_stack() {
        let cases = [
            (
                "us-east-1",
                false,
                false,
                "https://dynamodb.us-east-1.amazonaws.com",
            ),
            (
                "us-east-1",
                true,
                false,
                "https://dynamodb-fips.us-east-1.amazonaws.com",
            ),
            (
                "eu-west-1",
                false,
                true,
                "https://dynamodb.eu-west-1.api.aws",
            ),
            (
                "cn-north-1",
                false,
                false,
                "https://dynamodb.cn-north-1.amazonaws.com.cn",
            ),
        ];
        for (region, fips, dual, expected) in cases {
            assert_eq!(
                endpoint_with(&config(region, fips, dual), None).unwrap(),
                expected
            );
        }
        let local = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:8000")
            .build();
        assert_eq!(
            endpoint_with(&local, Some("http://elsewhere".into())).unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            endpoint_with(
                &config("us-east-1", false, false),
                Some("http://ddb:8000".into())
            )
            .unwrap(),
            "http://ddb:8000"
        );
    }

    /// What a server received: DynamoDB Local accepts any signature, so this
    /// checks that the request as it arrives is the one that was signed.
    #[tokio::test]
    async fn requests_arrive_as_signed() {
        use std::sync::Mutex;
        type Seen = Arc<Mutex<Option<(http::HeaderMap, Bytes)>>>;
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::post(
                    |axum::extract::State(seen): axum::extract::State<Seen>,
                     headers: http::HeaderMap,
                     body: Bytes| async move {
                        *seen.lock().unwrap() = Some((headers, body));
                        r#"{"ConsumedCapacity":{"CapacityUnits":0.5}}"#
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let config = SdkConfig::builder()
            .endpoint_url(format!("http://{address}"))
            .region(aws_config::Region::new("eu-west-3"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    Some("session".into()),
                    None,
                    "test",
                )),
            )
            .build();
        let wire = Wire::new(&config).unwrap();
        let out: serde_json::Value = wire
            .call("GetItem", &serde_json::json!({"TableName": "t"}))
            .await
            .unwrap();
        assert_eq!(out["ConsumedCapacity"]["CapacityUnits"], 0.5);

        let (headers, body) = seen.lock().unwrap().take().expect("a request arrived");
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(header("x-amz-target"), "DynamoDB_20120810.GetItem");
        assert_eq!(header("x-amz-security-token"), "session");
        assert_eq!(body.as_ref(), br#"{"TableName":"t"}"#);
        let authorization = header("authorization");
        let date = header("x-amz-date");
        let scope = format!(
            "Credential=AKIDEXAMPLE/{}/eu-west-3/dynamodb/aws4_request",
            &date[..8]
        );
        assert!(authorization.contains(&scope), "{authorization}");
        let signed: Vec<&str> = authorization
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .split(';')
            .collect();
        for needed in ["content-type", "host", "x-amz-date", "x-amz-target"] {
            assert!(
                signed.contains(&needed),
                "{needed} is not signed: {signed:?}"
            );
        }

        // Sign again what arrived, at the time it says; the signatures agree.
        let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
        let identity = Identity::from(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        ));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-3")
            .name("dynamodb")
            .time(SystemTime::from(time))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let arrived = signed
            .iter()
            .filter(|h| !matches!(**h, "x-amz-date" | "x-amz-security-token"))
            .map(|h| (*h, header(h)));
        let request = SignableRequest::new(
            "POST",
            format!("http://{}/", header("host")),
            arrived,
            SignableBody::Bytes(&body),
        )
        .unwrap();
        let (_, signature) = sign(request, &params).unwrap().into_parts();
        assert!(
            authorization.ends_with(&format!("Signature={signature}")),
            "{authorization} vs {signature}"
        );
    }

    /// Counts the credentials it hands out, each valid for `lifetime`.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<std::sync::atomic::AtomicUsize>,
        lifetime: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID",
                "secret",
                None,
                Some(SystemTime::now() + self.lifetime),
                "counting",
            )))
        }
    }

    #[tokio::test]
    async fn credentials_are_cached_until_shortly_before_they_expire() {
        for (lifetime, expected_calls) in
            [(Duration::from_secs(3600), 1), (Duration::from_secs(30), 3)]
        {
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let provider = Counting {
                calls: calls.clone(),
                lifetime,
            };
            let cache = CredentialCache {
                provider: Some(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                ),
                current: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
            };
            for _ in 0..3 {
                cache.identity().await.unwrap();
            }
            assert_eq!(
                calls.load(std::sync::atomic::Ordering::SeqCst),
                expected_calls,
                "credentials valid for {lifetime:?}"
            );
        }
        let none = CredentialCache {
            provider: None,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        };
        assert!(matches!(none.identity().await, Err(WireError::Local(_))));
    }
}
