//! The DynamoDB backend: [`Table`] on one DynamoDB table.
//!
//! The data calls (GetItem, Query, PutItem, DeleteItem, TransactWriteItems,
//! BatchWriteItem) go through [`crate::wire`], a lean client of DynamoDB's
//! JSON protocol configured from the same `SdkConfig` as the SDK, because the
//! SDK's per-request machinery costs more CPU than everything else a request
//! does (see that module); table administration, `ping` and the tools use
//! `aws-sdk-dynamodb`.
//!
//! Every call asks for its consumed capacity, adds it to a [`CapacityMeter`]
//! and records it on a `dynamodb` tracing span, so what each access pattern
//! costs is visible in logs and measurable by the benchmark.
//!
//! Writes are conditional where the design says so, so nothing is ever
//! overwritten by accident; several writes go in one TransactWriteItems.
//! Batch puts are split into 25s, and unprocessed items are retried with
//! exponential backoff. Errors are mapped to [`StoreError`] in one place per
//! client, [`map_sdk_error`] and `map_wire_error`.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    config::{Credentials, Region},
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};
use dm_domain::{GroupId, ItemKey, Partition};
use serde::{Deserialize, Serialize};
use serde_dynamo::{AttributeValue, Item};
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::{
    Record, StoreError,
    repo::backoff,
    schema::GROUP_INDEX,
    table::{Condition, GroupCache, Table, Write, WriteError},
    wire::{Wire, WireError, is_throttling},
};

/// How many times a batch's unprocessed items are retried.
const BATCH_RETRIES: u32 = 10;

/// Capacity units consumed, summed over calls; shared by clones of a repository.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

/// Capacity consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read capacity units (reads, queries).
    pub read: f64,
    /// Write capacity units (puts, deletes, transactions, index updates).
    pub write: f64,
}

impl Capacity {
    /// Reads and writes together.
    pub fn total(&self) -> f64 {
        self.read + self.write
    }
}

impl CapacityMeter {
    fn add(&self, write: bool, units: f64) {
        let milli = (units * 1000.0).round() as u64;
        let counter = if write {
            &self.write_milli
        } else {
            &self.read_milli
        };
        counter.fetch_add(milli, Ordering::Relaxed);
    }

    /// The units consumed so far.
    pub fn snapshot(&self) -> Capacity {
        Capacity {
            read: self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write: self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// The repository on a DynamoDB table; cheap to clone.
#[derive(Clone)]
pub struct DynamoRepository {
    client: Client,
    wire: Arc<Wire>,
    table: Arc<str>,
    meter: Arc<CapacityMeter>,
    groups: Arc<GroupCache>,
}

impl fmt::Debug for DynamoRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoRepository")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The AWS SDK configuration from its default chain.
///
/// Without `endpoint_url` everything comes from the default chain, as in
/// production. With it (DynamoDB Local), requests go there, and a fresh
/// machine with no AWS setup still works:
///
/// - credentials come from the default chain's environment variables,
///   profile (with SSO and `credential_process`), web identity and container
///   providers, so setting `AWS_ENDPOINT_URL_DYNAMODB` never replaces real
///   credentials (on Lambda they are in the environment); only when none of
///   them has any are requests signed with fixed `local` credentials;
/// - the region comes from the environment or the profile, else `us-east-1`.
///
/// The instance metadata service is not asked for either: against a local
/// endpoint it only adds delay and errors. DynamoDB Local runs with
/// `-sharedDb`, so whichever credentials and region sign the requests, the
/// AWS CLI, boto3 and these tools see the same tables. The same
/// configuration serves the DynamoDB Streams client of the poller.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    use aws_config::{
        ecs::EcsCredentialsProvider,
        environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider},
        meta::{credentials::CredentialsProviderChain, region::RegionProviderChain},
        profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider},
        web_identity_token::WebIdentityTokenCredentialsProvider,
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(Region::from_static("us-east-1"));
        let credentials = CredentialsProviderChain::first_try(
            "Environment",
            EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else("Profile", ProfileFileCredentialsProvider::builder().build())
        .or_else(
            "WebIdentityToken",
            WebIdentityTokenCredentialsProvider::builder().build(),
        )
        .or_else("EcsContainer", EcsCredentialsProvider::builder().build())
        .or_else(
            LOCAL_CREDENTIALS,
            Credentials::new("local", "local", None, None, LOCAL_CREDENTIALS),
        );
        loader = loader
            .endpoint_url(url)
            .region(region)
            .credentials_provider(credentials);
    }
    loader.load().await
}

/// The provider name of the fixed credentials used against a local endpoint
/// when the default chain has none.
pub const LOCAL_CREDENTIALS: &str = "dm-local";

/// A DynamoDB client configured by [`sdk_config`].
pub async fn connect(endpoint_url: Option<&str>) -> Client {
    Client::new(&sdk_config(endpoint_url).await)
}

impl DynamoRepository {
    /// The repository on table `table`, reached as `config` says (see
    /// [`sdk_config`]).
    ///
    /// # Errors
    ///
    /// `Backend` when the configuration names no region nor endpoint, or an
    /// endpoint URL that is not one.
    pub fn new(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
    ) -> Result<Self, StoreError> {
        Self::build(config, table.into(), None)
    }

    /// [`DynamoRepository::new`], replacing the answers of chosen attempts
    /// with failures (for tests: see [`crate::testing`]).
    ///
    /// # Errors
    ///
    /// As [`DynamoRepository::new`].
    #[cfg(feature = "test-support")]
    pub fn with_faults(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        faults: crate::faults::FaultInjector,
    ) -> Result<Self, StoreError> {
        Self::build(config, table.into(), Some(faults))
    }

    fn build(
        config: &aws_config::SdkConfig,
        table: String,
        faults: Option<crate::faults::FaultInjector>,
    ) -> Result<Self, StoreError> {
        let mut wire = Wire::new(config).map_err(|e| StoreError::Backend(e.to_string()))?;
        if let Some(faults) = faults {
            wire = wire.with_faults(faults);
        }
        Ok(Self {
            client: Client::new(config),
            wire: Arc::new(wire),
            table: Arc::from(table),
            meter: Arc::default(),
            groups: Arc::default(),
        })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The capacity consumed by this repository (and its clones) so far.
    pub fn capacity(&self) -> Capacity {
        self.meter.snapshot()
    }

    fn account<'a>(&self, write: bool, consumed: impl IntoIterator<Item = &'a Consumed>) {
        let units: f64 = consumed.into_iter().filter_map(|c| c.capacity_units).sum();
        self.meter.add(write, units);
        tracing::Span::current().record("capacity", units);
    }

    fn span(&self, op: &'static str) -> tracing::Span {
        tracing::debug_span!("dynamodb", op, table = %self.table, capacity = tracing::field::Empty)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        let items: Vec<TransactItem<'_>> = writes
            .into_iter()
            .map(|write| match write {
                Write::Put { record, condition } => {
                    TransactItem::Put(self.put_input(&record, &condition))
                }
                Write::Delete { key } => TransactItem::Delete(self.delete_input(&key)),
            })
            .collect();
        let input = TransactInput {
            transact_items: items,
            return_consumed_capacity: TOTAL,
        };
        match self
            .wire
            .call::<_, TransactOutput>("TransactWriteItems", &input)
            .await
        {
            Ok(out) => {
                self.account(true, &out.consumed_capacity);
                Ok(())
            }
            Err(WireError::Service { code, reasons, .. })
                if code == "TransactionCanceledException" =>
            {
                if let Some(index) = reasons.iter().position(|r| r == "ConditionalCheckFailed") {
                    return Err(WriteError::ConditionFailed { index });
                }
                Err(StoreError::TransactionCancelled { reasons }.into())
            }
            Err(e) => Err(map_wire_error(e).into()),
        }
    }

    async fn write_one(&self, write: Write) -> Result<(), WriteError> {
        let result = match write {
            Write::Put { record, condition } => {
                let input = PutInput {
                    return_consumed_capacity: Some(TOTAL),
                    ..self.put_input(&record, &condition)
                };
                self.wire.call::<_, WriteOutput>("PutItem", &input).await
            }
            Write::Delete { key } => {
                let input = DeleteInput {
                    return_consumed_capacity: Some(TOTAL),
                    ..self.delete_input(&key)
                };
                self.wire.call::<_, WriteOutput>("DeleteItem", &input).await
            }
        };
        match result {
            Ok(out) => {
                self.account(true, &out.consumed_capacity);
                Ok(())
            }
            Err(WireError::Service { code, .. }) if code == "ConditionalCheckFailedException" => {
                Err(WriteError::ConditionFailed { index: 0 })
            }
            Err(e) => Err(map_wire_error(e).into()),
        }
    }

    /// A put as a transaction item takes it; a single put asks for its capacity too.
    fn put_input<'a>(&'a self, record: &Record, condition: &Condition) -> PutInput<'a> {
        let (condition_expression, expression_attribute_values) = condition_expression(condition);
        PutInput {
            table_name: &self.table,
            item: record.to_item(),
            condition_expression,
            expression_attribute_values,
            return_consumed_capacity: None,
        }
    }

    /// A delete as a transaction item takes it.
    fn delete_input<'a>(&'a self, key: &ItemKey) -> DeleteInput<'a> {
        DeleteInput {
            table_name: &self.table,
            key: key_of(key),
            return_consumed_capacity: None,
        }
    }

    /// Reads a query's pages until `limit` items (or all of them) were
    /// handed to `take`; a page stops at 1 MB as well as at its limit.
    async fn query_pages(
        &self,
        mut input: QueryInput<'_>,
        limit: Option<usize>,
        mut take: impl FnMut(Vec<Box<RawValue>>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut taken = 0;
        loop {
            if let Some(limit) = limit {
                input.limit = Some(i32::try_from(limit - taken).unwrap_or(i32::MAX));
            }
            let out: QueryOutput = self
                .wire
                .call("Query", &input)
                .await
                .map_err(map_wire_error)?;
            self.account(false, &out.consumed_capacity);
            taken += out.items.len();
            take(out.items)?;
            match out.last_evaluated_key {
                Some(last) if limit.is_none_or(|limit| taken < limit) => {
                    input.exclusive_start_key = Some(last);
                }
                _ => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl Table for DynamoRepository {
    async fn get(&self, key: &ItemKey) -> Result<Option<Record>, StoreError> {
        async {
            let input = GetInput {
                table_name: &self.table,
                key: key_of(key),
                consistent_read: true,
                return_consumed_capacity: TOTAL,
            };
            let out: GetOutput = self
                .wire
                .call("GetItem", &input)
                .await
                .map_err(map_wire_error)?;
            self.account(false, &out.consumed_capacity);
            out.item
                .map(|item| Record::from_json_with_key(item.get()).map(|(_, record)| record))
                .transpose()
        }
        .instrument(self.span("GetItem"))
        .await
    }

    async fn query(
        &self,
        partition: Partition,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let pk = partition.pk();
        let input = QueryInput {
            table_name: &self.table,
            index_name: None,
            key_condition_expression: "pk = :pk",
            expression_attribute_values: Item::from(HashMap::from([(
                ":pk".to_owned(),
                AttributeValue::S(pk.clone()),
            )])),
            scan_index_forward: Some(false),
            limit: None,
            exclusive_start_key: after.map(|sk| {
                Item::from(HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(pk.clone())),
                    ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
                ]))
            }),
            return_consumed_capacity: TOTAL,
        };
        let mut records = Vec::with_capacity(limit);
        self.query_pages(input, Some(limit), |items| {
            for item in items {
                records.push(Record::from_json_with_key(item.get())?);
            }
            Ok(())
        })
        .instrument(self.span("Query"))
        .await?;
        Ok(records)
    }

    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError> {
        let input = QueryInput {
            table_name: &self.table,
            index_name: Some(GROUP_INDEX),
            key_condition_expression: "message_group_uuid = :g",
            expression_attribute_values: Item::from(HashMap::from([(
                ":g".to_owned(),
                AttributeValue::S(group.to_string()),
            )])),
            scan_index_forward: None,
            limit: None,
            exclusive_start_key: None,
            return_consumed_capacity: TOTAL,
        };
        let mut rows = Vec::new();
        self.query_pages(input, None, |items| {
            for item in items {
                rows.push(Record::from_json_with_key(item.get())?.1);
            }
            Ok(())
        })
        .instrument(self.span("Query"))
        .await?;
        Ok(rows)
    }

    async fn write(&self, mut writes: Vec<Write>) -> Result<(), WriteError> {
        match writes.len() {
            0 => Ok(()),
            1 => {
                let write = writes.remove(0);
                self.write_one(write)
                    .instrument(self.span("PutItem/DeleteItem"))
                    .await
            }
            _ => {
                self.transact(writes)
                    .instrument(self.span("TransactWriteItems"))
                    .await
            }
        }
    }

    async fn put_batch(&self, records: Vec<Record>) -> Result<(), StoreError> {
        for chunk in records.chunks(25) {
            let mut pending: Vec<BatchEntry> = chunk
                .iter()
                .map(|record| BatchEntry {
                    put_request: BatchPut {
                        item: record.to_item(),
                    },
                })
                .collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > 0 {
                    if attempt > BATCH_RETRIES {
                        return Err(StoreError::Throttled(format!(
                            "{} items still unprocessed after {BATCH_RETRIES} retries",
                            pending.len()
                        )));
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let input = BatchInput {
                    request_items: HashMap::from([(&*self.table, std::mem::take(&mut pending))]),
                    return_consumed_capacity: TOTAL,
                };
                let mut out: BatchOutput = self
                    .wire
                    .call("BatchWriteItem", &input)
                    .instrument(self.span("BatchWriteItem"))
                    .await
                    .map_err(map_wire_error)?;
                self.account(true, &out.consumed_capacity);
                pending = out
                    .unprocessed_items
                    .remove(&*self.table)
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    fn group_cache(&self) -> Option<&GroupCache> {
        Some(&self.groups)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match crate::schema::describe_table(&self.client, &self.table).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::Unavailable(format!(
                "table {} does not exist",
                self.table
            ))),
        }
    }
}

/// `ReturnConsumedCapacity` on every call.
const TOTAL: &str = "TOTAL";

fn key_of(key: &ItemKey) -> Item {
    Item::from(HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk())),
        ("sk".to_owned(), AttributeValue::S(key.sk())),
    ]))
}

fn condition_expression(condition: &Condition) -> (Option<&'static str>, Option<Item>) {
    let values = |pairs: Vec<(&str, AttributeValue)>| {
        Some(Item::from(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<HashMap<_, _>>(),
        ))
    };
    match condition {
        Condition::Always => (None, None),
        Condition::NotExists => (Some("attribute_not_exists(pk)"), None),
        Condition::NotExistsOrExpired(now) => (
            Some("attribute_not_exists(pk) OR expires_at < :now"),
            values(vec![(":now", AttributeValue::N(now.to_string()))]),
        ),
        Condition::GroupLastIs(seen) => (
            Some("last_message_at = :seen_at AND last_message_uuid = :seen_id"),
            values(vec![
                (":seen_at", AttributeValue::S(seen.at.to_string())),
                (":seen_id", AttributeValue::S(seen.id.to_string())),
            ]),
        ),
    }
}

// The JSON protocol's requests and responses, as far as the repository uses them.

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetInput<'a> {
    table_name: &'a str,
    key: Item,
    consistent_read: bool,
    return_consumed_capacity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryInput<'a> {
    table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_name: Option<&'a str>,
    key_condition_expression: &'a str,
    expression_attribute_values: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    scan_index_forward: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_start_key: Option<Item>,
    return_consumed_capacity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput<'a> {
    table_name: &'a str,
    item: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_expression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_values: Option<Item>,
    /// Only outside a transaction, which asks for the capacity of all its items.
    #[serde(skip_serializing_if = "Option::is_none")]
    return_consumed_capacity: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteInput<'a> {
    table_name: &'a str,
    key: Item,
    /// Only outside a transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    return_consumed_capacity: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
enum TransactItem<'a> {
    Put(PutInput<'a>),
    Delete(DeleteInput<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TransactInput<'a> {
    transact_items: Vec<TransactItem<'a>>,
    return_consumed_capacity: &'static str,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchEntry {
    put_request: BatchPut,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchPut {
    item: Item,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchInput<'a> {
    request_items: HashMap<&'a str, Vec<BatchEntry>>,
    return_consumed_capacity: &'static str,
}

/// The capacity one call consumed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Consumed {
    capacity_units: Option<f64>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GetOutput {
    item: Option<Box<RawValue>>,
    consumed_capacity: Option<Consumed>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct QueryOutput {
    items: Vec<Box<RawValue>>,
    last_evaluated_key: Option<Item>,
    consumed_capacity: Option<Consumed>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct WriteOutput {
    consumed_capacity: Option<Consumed>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TransactOutput {
    consumed_capacity: Vec<Consumed>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct BatchOutput {
    unprocessed_items: HashMap<String, Vec<BatchEntry>>,
    consumed_capacity: Vec<Consumed>,
}

/// Maps a failure of the wire client to a [`StoreError`], as
/// [`map_sdk_error`] does for the SDK's. The text is for logs only.
fn map_wire_error(err: WireError) -> StoreError {
    let detail = err.to_string();
    match err {
        WireError::Transport(_) => StoreError::Unavailable(detail),
        WireError::Local(_) => StoreError::Backend(detail),
        WireError::Service { status, code, .. } => match code.as_str() {
            "TransactionConflictException" => StoreError::TransactionCancelled {
                reasons: vec!["TransactionConflict".into()],
            },
            c if is_throttling(c) => StoreError::Throttled(detail),
            _ if status >= 500 => StoreError::Unavailable(detail),
            _ => StoreError::Backend(detail),
        },
    }
}

/// Maps any SDK failure to a [`StoreError`]: throttling, server errors and
/// network failures are retryable; the rest are backend errors. The text is
/// for logs only.
pub fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled(detail),
            Some("TransactionConflictException") => StoreError::TransactionCancelled {
                reasons: vec!["TransactionConflict".into()],
            },
            Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable(detail),
            _ => StoreError::Backend(detail),
        },
        _ => StoreError::Backend(detail),
    }
}
