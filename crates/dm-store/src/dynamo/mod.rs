//! The DynamoDB backend: [`Table`] on one DynamoDB table, through
//! `aws-sdk-dynamodb`.
//!
//! One client, built from one `SdkConfig` ([`crate::client::sdk_config`]), makes every
//! call: the data calls (GetItem, Query, PutItem, DeleteItem,
//! TransactWriteItems, BatchWriteItem) and table administration. Transport
//! retries are the SDK's (standard mode, its retry token bucket); see
//! `docs/ARCHITECTURE.md` for how they compose with the repository's own.
//!
//! Every call is billed by AWS's rules from the items it reads and writes
//! ([`crate::billing`]; single writes ask for the item they replace,
//! `ReturnValues: ALL_OLD`, which costs nothing; a transaction's writes name
//! it), and asks for the capacity DynamoDB reports; both go to a
//! [`crate::capacity::CapacityMeter`] and on a `dynamodb` tracing span
//! (`billed`, `capacity`), so what each access pattern costs is visible in
//! logs and measurable by the benchmark.
//!
//! Writes are conditional where the design says so, so nothing is ever
//! overwritten by accident; several writes go in one TransactWriteItems.
//! Batch puts are split into 25s, and unprocessed items are retried with
//! exponential backoff. Errors are mapped to [`StoreError`] in one place,
//! [`crate::sdk_error::map_sdk_error`], with one throttling classification.

use std::{collections::HashMap, fmt, sync::Arc};

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    operation::query::builders::QueryFluentBuilder,
    types::{AttributeValue, ConsumedCapacity, PutRequest, ReturnConsumedCapacity, WriteRequest},
};
use dm_domain::{GroupId, ItemKey, Partition};
use tracing::Instrument;

use serde_dynamo::Item;

use crate::{
    Record, StoreError, billing,
    capacity::{CapacityMeter, Consumed},
    schema::{GROUP_INDEX, RECENCY_ATTRIBUTE, RECENCY_INDEX},
    sdk_error::map_sdk_error,
    table::{GroupCache, Order, Read, ScanPage, Scanned, Table, Write, WriteError},
};

mod request;
mod write;

use request::{key_of, stored_key};

/// An item as the SDK holds it.
type SdkItem = HashMap<String, AttributeValue>;

/// How many times a batch's unprocessed items are retried.
const BATCH_RETRIES: usize = 10;

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

impl DynamoRepository {
    /// The repository on table `table`, reached as `config` says (see
    /// [`crate::client::sdk_config`]).
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
    /// with failures (for tests: see [`crate::faults::FaultInjector`]).
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
        let interceptor = aws_smithy_runtime_api::client::interceptors::SharedInterceptor::new(
            faults.interceptor(),
        );
        Self::build(config, table.into(), Some(interceptor))
    }

    fn build(
        config: &aws_config::SdkConfig,
        table: String,
        interceptor: Option<aws_smithy_runtime_api::client::interceptors::SharedInterceptor>,
    ) -> Result<Self, StoreError> {
        if config.region().is_none() && config.endpoint_url().is_none() {
            return Err(StoreError::Backend(
                "no AWS region configured (set AWS_REGION or a profile's region)".into(),
            ));
        }
        let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
        if let Some(interceptor) = interceptor {
            builder.push_interceptor(interceptor);
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
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

    /// The capacity consumed by this repository (and its clones) so far:
    /// billed, and as DynamoDB reported it.
    pub fn capacity(&self) -> Consumed {
        self.meter.snapshot()
    }

    /// Adds what DynamoDB reported for a call.
    fn account<'a>(&self, write: bool, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 = consumed
            .into_iter()
            .filter_map(ConsumedCapacity::capacity_units)
            .sum();
        self.meter.report(write, units);
        tracing::Span::current().record("capacity", units);
    }

    /// Adds what AWS bills for a call.
    fn bill(&self, write: bool, units: f64) {
        self.meter.bill(write, units);
        tracing::Span::current().record("billed", units);
    }

    fn span(&self, op: &'static str) -> tracing::Span {
        tracing::debug_span!(
            "dynamodb",
            op,
            table = %self.table,
            billed = tracing::field::Empty,
            capacity = tracing::field::Empty
        )
    }

    /// `owner`'s rows through `conversations-by-recency` (eventually
    /// consistent, as every read of a global secondary index), each with its
    /// place in the list as its key.
    async fn rows_by_recency(
        &self,
        owner: dm_domain::UserId,
        after: Option<&str>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError> {
        let pk = Partition::Conversations(owner).pk();
        // An index's start key names the item's table key too: the row's sort
        // key is its conversation, the place's suffix.
        let start = match after {
            Some(place) => {
                let Ok(ItemKey::Conversation {
                    group: Some(group), ..
                }) = ItemKey::decode(&pk, place)
                else {
                    return Err(StoreError::Cursor(dm_domain::CursorError::WrongPartition));
                };
                Some(HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(pk.clone())),
                    ("sk".to_owned(), AttributeValue::S(group.to_string())),
                    (
                        RECENCY_ATTRIBUTE.to_owned(),
                        AttributeValue::S(place.to_owned()),
                    ),
                ]))
            }
            None => None,
        };
        let values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk))]);
        let query = self
            .query_of("pk = :pk", values)
            .index_name(RECENCY_INDEX)
            .scan_index_forward(order == Order::OldestFirst);
        let mut rows = Vec::with_capacity(limit);
        self.query_pages(query, Read::Eventual, start, Some(limit), |items| {
            for item in items {
                match Record::from_item(item)? {
                    Record::Conversation(c) => rows.push((
                        ItemKey::conversation(c.owner, c.group, c.last_message_at),
                        Record::Conversation(c),
                    )),
                    other => return Err(other.unexpected()),
                }
            }
            Ok(())
        })
        .instrument(self.span("Query"))
        .await?;
        Ok(rows)
    }

    /// Reads a query's pages until `limit` items (or all of them) were
    /// handed to `take`; a page stops at 1 MB as well as at its limit.
    /// A Query of this table, asking for its capacity.
    fn query_of(&self, condition: &str, values: SdkItem) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&*self.table)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_consumed_capacity(TOTAL)
    }

    /// Reads `query`'s pages from `start` until `limit` items (or all of
    /// them) were handed to `take`; a page stops at 1 MB as well as at its limit.
    async fn query_pages(
        &self,
        query: QueryFluentBuilder,
        read: Read,
        mut start: Option<SdkItem>,
        limit: Option<usize>,
        mut take: impl FnMut(Vec<SdkItem>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut taken = 0;
        loop {
            let out = query
                .clone()
                .set_limit(limit.map(|limit| i32::try_from(limit - taken).unwrap_or(i32::MAX)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.account(false, out.consumed_capacity());
            let items = out.items.unwrap_or_default();
            let bytes = items.iter().map(billing::sdk_item_size).sum();
            self.bill(false, billing::read_units(bytes, read));
            taken += items.len();
            take(items)?;
            match out.last_evaluated_key {
                Some(last) if limit.is_none_or(|limit| taken < limit) => start = Some(last),
                _ => return Ok(()),
            }
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
                .return_consumed_capacity(TOTAL)
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.account(false, out.consumed_capacity());
            let item = out.item.map(Item::from);
            self.bill(
                false,
                billing::read_units(
                    item.as_ref().map_or(0, billing::item_size),
                    Read::Consistent,
                ),
            );
            item.map(Record::from_item).transpose()
        }
        .instrument(self.span("GetItem"))
        .await
    }

    async fn query(
        &self,
        partition: Partition,
        after: Option<&str>,
        limit: usize,
        order: Order,
        read: Read,
    ) -> Result<Vec<(ItemKey, Record)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Partition::Conversations(owner) = partition {
            return self.rows_by_recency(owner, after, limit, order).await;
        }
        let pk = partition.pk();
        let start = after.map(|sk| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        });
        let values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk))]);
        let mut records = Vec::with_capacity(limit);
        let query = self
            .query_of("pk = :pk", values)
            .scan_index_forward(order == Order::OldestFirst)
            .consistent_read(read == Read::Consistent);
        self.query_pages(query, read, start, Some(limit), |items| {
            for item in items {
                records.push(Record::from_item_with_key(item)?);
            }
            Ok(())
        })
        .instrument(self.span("Query"))
        .await?;
        Ok(records)
    }

    async fn scan_page(&self, start: Option<ItemKey>) -> Result<ScanPage, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&*self.table)
            .set_exclusive_start_key(start.as_ref().map(key_of))
            .limit(100)
            .return_consumed_capacity(TOTAL)
            .send()
            .instrument(self.span("Scan"))
            .await
            .map_err(map_sdk_error)?;
        self.account(false, out.consumed_capacity());
        let items = out.items.unwrap_or_default();
        let bytes = items.iter().map(billing::sdk_item_size).sum();
        self.bill(false, billing::read_units(bytes, Read::Eventual));
        let mut page = ScanPage::default();
        for item in items {
            match (stored_key(&item), Record::from_item_with_key(item)) {
                (Some(stored), Ok((key, record))) => page.items.push(Scanned {
                    key,
                    stored,
                    record,
                }),
                _ => page.foreign += 1,
            }
        }
        page.next = out.last_evaluated_key.as_ref().and_then(stored_key);
        Ok(page)
    }

    async fn group_rows(&self, group: GroupId) -> Result<Vec<Record>, StoreError> {
        let values = HashMap::from([(":g".to_owned(), AttributeValue::S(group.to_string()))]);
        let mut rows = Vec::new();
        let query = self
            .query_of("message_group_uuid = :g", values)
            .index_name(GROUP_INDEX);
        // Reads of a global secondary index are eventually consistent.
        self.query_pages(query, Read::Eventual, None, None, |items| {
            for item in items {
                rows.push(Record::from_item(item)?);
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
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|record| {
                    Ok(WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(record.to_item().into()))
                                .build()
                                .map_err(built)?,
                        )
                        .build())
                })
                .collect::<Result<_, StoreError>>()?;
            let mut delays = {
                use backon::BackoffBuilder;
                crate::retry::backoff(
                    std::time::Duration::from_millis(20),
                    std::time::Duration::from_secs(1),
                    BATCH_RETRIES,
                )
                .build()
            };
            let mut first = true;
            while !pending.is_empty() {
                if !std::mem::take(&mut first) {
                    let Some(delay) = delays.next() else {
                        return Err(StoreError::Throttled(format!(
                            "{} items still unprocessed after {BATCH_RETRIES} retries",
                            pending.len()
                        )));
                    };
                    tokio::time::sleep(delay).await;
                }
                let sent_units: f64 = pending
                    .iter()
                    .filter_map(WriteRequest::put_request)
                    .map(|put| billing::single_write(None, Some(&Item::from(put.item().clone()))))
                    .sum();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, std::mem::take(&mut pending))
                    .return_consumed_capacity(TOTAL)
                    .send()
                    .instrument(self.span("BatchWriteItem"))
                    .await
                    .map_err(map_sdk_error)?;
                self.account(true, out.consumed_capacity());
                // Each request written is billed as a put of a new item.
                let put_units = |requests: &[WriteRequest]| -> f64 {
                    requests
                        .iter()
                        .filter_map(WriteRequest::put_request)
                        .map(|put| {
                            billing::single_write(None, Some(&Item::from(put.item().clone())))
                        })
                        .sum()
                };
                let unprocessed = out
                    .unprocessed_items
                    .as_ref()
                    .and_then(|unprocessed| unprocessed.get(&*self.table))
                    .map_or(0.0, |left| put_units(left));
                self.bill(true, sent_units - unprocessed);
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

/// `ReturnConsumedCapacity` on every call.
const TOTAL: ReturnConsumedCapacity = ReturnConsumedCapacity::Total;

/// A request the SDK's builders refused: a bug here, not the caller's input.
fn built(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("building a request: {err}"))
}
