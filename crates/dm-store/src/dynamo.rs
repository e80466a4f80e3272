//! The DynamoDB backend: [`Table`] on one DynamoDB table.
//!
//! Every call asks for its consumed capacity, adds it to a [`CapacityMeter`]
//! and records it on a `dynamodb` tracing span, so what each access pattern
//! costs is visible in logs and measurable by the benchmark.
//!
//! Writes are conditional where the design says so, so nothing is ever
//! overwritten by accident; several writes go in one TransactWriteItems.
//! Batch puts are split into 25s, and unprocessed items are retried with
//! exponential backoff. SDK errors are mapped to [`StoreError`] in one place,
//! [`map_sdk_error`].

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
    operation::transact_write_items::TransactWriteItemsError,
    types::{
        AttributeValue, ConsumedCapacity, Delete, Put, PutRequest, ReturnConsumedCapacity,
        TransactWriteItem, WriteRequest,
    },
};
use dm_domain::{GroupId, ItemKey, Partition};
use tracing::Instrument;

use crate::{
    Record, StoreError,
    repo::backoff,
    schema::GROUP_INDEX,
    table::{Condition, GroupCache, Table, Write, WriteError},
};

/// How many times a batch's unprocessed items are retried.
const BATCH_RETRIES: u32 = 10;

type AwsItem = HashMap<String, AttributeValue>;

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
/// With `endpoint_url` (DynamoDB Local), requests go there, signed with fixed
/// local credentials and `$AWS_REGION` or `us-east-1`: DynamoDB Local accepts
/// any, and a fresh machine has none. Without it, everything comes from the
/// default chain, as in production. The same configuration serves the
/// DynamoDB Streams client of the stream poller.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        // The region from the environment only: asking the instance metadata
        // service for a local endpoint would only add a delay and a warning.
        let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| "us-east-1".to_owned());
        loader = loader
            .endpoint_url(url)
            .region(Region::new(region))
            .credentials_provider(Credentials::new("local", "local", None, None, "dm-local"));
    }
    loader.load().await
}

/// A DynamoDB client configured by [`sdk_config`].
pub async fn connect(endpoint_url: Option<&str>) -> Client {
    Client::new(&sdk_config(endpoint_url).await)
}

impl DynamoRepository {
    /// The repository on table `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            meter: Arc::default(),
            groups: Arc::default(),
        }
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

    fn account<'a>(&self, write: bool, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 = consumed.into_iter().filter_map(|c| c.capacity_units).sum();
        self.meter.add(write, units);
        tracing::Span::current().record("capacity", units);
    }

    fn span(&self, op: &'static str) -> tracing::Span {
        tracing::debug_span!("dynamodb", op, table = %self.table, capacity = tracing::field::Empty)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        let mut items = Vec::with_capacity(writes.len());
        for write in writes {
            let item = match write {
                Write::Put { record, condition } => {
                    let (expression, values) = condition_expression(&condition);
                    TransactWriteItem::builder()
                        .put(built(
                            Put::builder()
                                .table_name(&*self.table)
                                .set_item(Some(to_aws(&record)))
                                .set_condition_expression(expression)
                                .set_expression_attribute_values(values)
                                .build(),
                        )?)
                        .build()
                }
                Write::Delete { key } => TransactWriteItem::builder()
                    .delete(built(
                        Delete::builder()
                            .table_name(&*self.table)
                            .set_key(Some(key_of(&key)))
                            .build(),
                    )?)
                    .build(),
            };
            items.push(item);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.account(true, out.consumed_capacity());
                Ok(())
            }
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                {
                    let reasons = cancel.cancellation_reasons();
                    if let Some(index) = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        return Err(WriteError::ConditionFailed { index });
                    }
                    return Err(StoreError::TransactionCancelled {
                        reasons: reasons
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect(),
                    }
                    .into());
                }
                Err(map_sdk_error(e).into())
            }
        }
    }

    async fn write_one(&self, write: Write) -> Result<(), WriteError> {
        match write {
            Write::Put { record, condition } => {
                let (expression, values) = condition_expression(&condition);
                self.client
                    .put_item()
                    .table_name(&*self.table)
                    .set_item(Some(to_aws(&record)))
                    .set_condition_expression(expression)
                    .set_expression_attribute_values(values)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map(|out| self.account(true, out.consumed_capacity()))
                    .map_err(|e| {
                        if e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception())
                        {
                            WriteError::ConditionFailed { index: 0 }
                        } else {
                            map_sdk_error(e).into()
                        }
                    })
            }
            Write::Delete { key } => self
                .client
                .delete_item()
                .table_name(&*self.table)
                .set_key(Some(key_of(&key)))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map(|out| self.account(true, out.consumed_capacity()))
                .map_err(|e| map_sdk_error(e).into()),
        }
    }
}

#[async_trait]
impl Table for DynamoRepository {
    async fn get(&self, key: &ItemKey) -> Result<Option<Record>, StoreError> {
        async {
            let out = self
                .client
                .get_item()
                .table_name(&*self.table)
                .set_key(Some(key_of(key)))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.account(false, out.consumed_capacity());
            out.item.map(Record::from_item).transpose()
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
        let pk = partition.pk();
        let mut start = after.map(|sk| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        });
        let mut records = Vec::with_capacity(limit);
        async {
            // A page stops at 1 MB as well as at the limit: keep going until
            // the limit is reached or the partition ends.
            while records.len() < limit {
                let out = self
                    .client
                    .query()
                    .table_name(&*self.table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .scan_index_forward(false)
                    .limit(i32::try_from(limit - records.len()).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start.take())
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(map_sdk_error)?;
                self.account(false, out.consumed_capacity());
                for item in out.items.unwrap_or_default() {
                    records.push(Record::from_item_with_key(item)?);
                }
                match out.last_evaluated_key {
                    Some(last) => start = Some(last),
                    None => break,
                }
            }
            Ok(records)
        }
        .instrument(self.span("Query"))
        .await
    }

    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError> {
        async {
            let mut rows = Vec::new();
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&*self.table)
                    .index_name(GROUP_INDEX)
                    .key_condition_expression("message_group_uuid = :g")
                    .expression_attribute_values(":g", AttributeValue::S(group.to_string()))
                    .set_exclusive_start_key(start.take())
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(map_sdk_error)?;
                self.account(false, out.consumed_capacity());
                for item in out.items.unwrap_or_default() {
                    rows.push(Record::from_item(item)?);
                }
                match out.last_evaluated_key {
                    Some(last) => start = Some(last),
                    None => return Ok(rows),
                }
            }
        }
        .instrument(self.span("Query"))
        .await
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
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|record| {
                    Ok(WriteRequest::builder()
                        .put_request(built(
                            PutRequest::builder().set_item(Some(to_aws(record))).build(),
                        )?)
                        .build())
                })
                .collect::<Result<_, StoreError>>()?;
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
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, std::mem::take(&mut pending))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .instrument(self.span("BatchWriteItem"))
                    .await
                    .map_err(map_sdk_error)?;
                self.account(true, out.consumed_capacity());
                pending = out
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&*self.table))
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

fn built<T>(r: Result<T, aws_smithy_types::error::operation::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("building a request: {e}")))
}

fn to_aws(record: &Record) -> AwsItem {
    record.to_item().into()
}

fn key_of(key: &ItemKey) -> AwsItem {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk())),
        ("sk".to_owned(), AttributeValue::S(key.sk())),
    ])
}

fn condition_expression(condition: &Condition) -> (Option<String>, Option<AwsItem>) {
    match condition {
        Condition::Always => (None, None),
        Condition::NotExists => (Some("attribute_not_exists(pk)".into()), None),
        Condition::NotExistsOrExpired(now) => (
            Some("attribute_not_exists(pk) OR expires_at < :now".into()),
            Some(HashMap::from([(
                ":now".to_owned(),
                AttributeValue::N(now.to_string()),
            )])),
        ),
        Condition::GroupLastIs(seen) => (
            Some("last_message_at = :seen_at AND last_message_uuid = :seen_id".into()),
            Some(HashMap::from([
                (
                    ":seen_at".to_owned(),
                    AttributeValue::S(seen.at.to_string()),
                ),
                (
                    ":seen_id".to_owned(),
                    AttributeValue::S(seen.id.to_string()),
                ),
            ])),
        ),
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
