//! The table's definition, and creating, describing and dropping it.
//!
//! One source of truth for the table: `cargo xtask schema-load` and the tests
//! create it through [`create_table`], and a test reads it back with
//! DescribeTable and compares it with [`TableSpec`].

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    client::Waiters,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
        StreamSpecification, StreamViewType, TableDescription, TimeToLiveSpecification,
        TimeToLiveStatus,
    },
};

use crate::{StoreError, sdk_error::map_sdk_error};

/// The table name when none is given, as in the seed.
pub const DEFAULT_TABLE: &str = "cruddur-messages";
/// The sparse index of conversation rows by conversation: the seed's, which
/// holds only the seed's rows (see `record/conversation.rs`).
pub const GROUP_INDEX: &str = "message-group-sk-index";
/// The index of each user's conversation rows by recency (`pk`, `recency`):
/// what lists a user's conversations (pattern B), while the rows themselves
/// are keyed by conversation and updated in place.
pub const RECENCY_INDEX: &str = "conversations-by-recency";
/// The sort key attribute of [`RECENCY_INDEX`]: `{last_message_at}#{group}`.
pub const RECENCY_ATTRIBUTE: &str = "recency";
/// The attribute whose epoch seconds DynamoDB's time to live expires items by.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// How long creation and deletion may take before giving up.
const WAIT: Duration = Duration::from_secs(120);

/// How the table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// Provisioned capacity, for the table and its index alike.
    Provisioned {
        /// Read capacity units.
        read: i64,
        /// Write capacity units.
        write: i64,
    },
    /// Pay per request.
    OnDemand,
}

impl Default for Billing {
    /// 5 reads and 5 writes, as the seed created it.
    fn default() -> Self {
        Self::Provisioned { read: 5, write: 5 }
    }
}

/// The table to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Its name.
    pub name: String,
    /// Its billing.
    pub billing: Billing,
}

impl TableSpec {
    /// The design's table under `name`, provisioned 5/5.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            billing: Billing::default(),
        }
    }
}

/// What [`create_table`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The table was created and is active.
    Created,
    /// A table of that name existed already; it was left as it is.
    AlreadyExists,
}

fn built<T>(r: Result<T, aws_smithy_types::error::operation::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("building a request: {e}")))
}

fn attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    built(
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build(),
    )
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    built(
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build(),
    )
}

/// The keys of [`RECENCY_INDEX`]: `pk`, then [`RECENCY_ATTRIBUTE`].
fn recency_keys() -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        key("pk", KeyType::Hash)?,
        key(RECENCY_ATTRIBUTE, KeyType::Range)?,
    ])
}

/// Every attribute projected (a list page reads nothing else).
fn all_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

/// [`RECENCY_INDEX`], as a new table has it.
fn recency_index(
    throughput: Option<ProvisionedThroughput>,
) -> Result<GlobalSecondaryIndex, StoreError> {
    built(
        GlobalSecondaryIndex::builder()
            .index_name(RECENCY_INDEX)
            .set_key_schema(Some(recency_keys()?))
            .projection(all_attributes())
            .set_provisioned_throughput(throughput)
            .build(),
    )
}

/// Creates the table of the design (keys `pk`/`sk`, the sparse index
/// `message-group-sk-index`, the index [`RECENCY_INDEX`], the stream with new
/// images), waits until it is active, and enables time to live on
/// [`TTL_ATTRIBUTE`].
pub async fn create_table(client: &Client, spec: &TableSpec) -> Result<Created, StoreError> {
    let throughput = match spec.billing {
        Billing::Provisioned { read, write } => Some(built(
            ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build(),
        )?),
        Billing::OnDemand => None,
    };
    let index = built(
        GlobalSecondaryIndex::builder()
            .index_name(GROUP_INDEX)
            .key_schema(key("message_group_uuid", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .projection(all_attributes())
            .set_provisioned_throughput(throughput.clone())
            .build(),
    )?;
    let request = client
        .create_table()
        .table_name(&spec.name)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .attribute_definitions(attribute("message_group_uuid")?)
        .attribute_definitions(attribute(RECENCY_ATTRIBUTE)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index)
        .global_secondary_indexes(recency_index(throughput.clone())?)
        .billing_mode(match spec.billing {
            Billing::Provisioned { .. } => BillingMode::Provisioned,
            Billing::OnDemand => BillingMode::PayPerRequest,
        })
        .set_provisioned_throughput(throughput)
        .stream_specification(new_image_stream()?);
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(Created::AlreadyExists);
        }
        Err(e) => return Err(map_sdk_error(e)),
    }
    client
        .wait_until_table_exists()
        .table_name(&spec.name)
        .wait(WAIT)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!("waiting for {} to be active: {e}", spec.name))
        })?;
    enable_time_to_live(client, &spec.name).await?;
    Ok(Created::Created)
}

/// The stream the design needs: on, with new images.
fn new_image_stream() -> Result<StreamSpecification, StoreError> {
    built(
        StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewImage)
            .build(),
    )
}

/// Turns time to live on, on [`TTL_ATTRIBUTE`].
async fn enable_time_to_live(client: &Client, name: &str) -> Result<(), StoreError> {
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build(),
        )?)
        .send()
        .await
        .map_err(map_sdk_error)?;
    Ok(())
}

/// What [`complete_table`] turned on in a table that existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// Its stream, with new images (Cruddur's own schema-load makes none).
    Stream,
    /// Time to live on [`TTL_ATTRIBUTE`].
    TimeToLive,
    /// The index [`RECENCY_INDEX`] (tables written before issue 25).
    RecencyIndex,
}

/// Brings a table that exists (Cruddur's, or an older one of this project)
/// to what the design needs, without touching an item: its stream with new
/// images, time to live on [`TTL_ATTRIBUTE`], and the index
/// [`RECENCY_INDEX`] (created with the table's provisioned throughput, if it
/// has one, and waited for until it is active). Returns what it turned on
/// (nothing when all was there). A table whose keys are not `pk`/`sk`
/// strings, or whose stream carries no new images, is refused: that needs a
/// person.
pub async fn complete_table(client: &Client, name: &str) -> Result<Vec<Completed>, StoreError> {
    let Some(table) = describe_table(client, name).await? else {
        return Err(StoreError::Invalid("table_missing"));
    };
    let keys: Vec<(&str, KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    if keys != [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        return Err(StoreError::Backend(format!(
            "table {name} is not keyed by pk and sk, as this design's is"
        )));
    }
    let mut done = Vec::new();
    match table.stream_specification() {
        Some(stream) if stream.stream_enabled() => {
            let view = stream.stream_view_type();
            if !matches!(
                view,
                Some(StreamViewType::NewImage | StreamViewType::NewAndOldImages)
            ) {
                return Err(StoreError::Backend(format!(
                    "the stream of {name} carries no new images ({view:?}): turn it off and on again with NEW_IMAGE"
                )));
            }
        }
        _ => {
            client
                .update_table()
                .table_name(name)
                .stream_specification(new_image_stream()?)
                .send()
                .await
                .map_err(map_sdk_error)?;
            client
                .wait_until_table_exists()
                .table_name(name)
                .wait(WAIT)
                .await
                .map_err(|e| StoreError::Unavailable(format!("waiting for {name}: {e}")))?;
            done.push(Completed::Stream);
        }
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(map_sdk_error)?;
    let status = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status().cloned());
    if !matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        enable_time_to_live(client, name).await?;
        done.push(Completed::TimeToLive);
    }
    if !has_recency_index(&table) {
        add_recency_index(client, &table).await?;
        done.push(Completed::RecencyIndex);
    }
    Ok(done)
}

/// Whether `table` has [`RECENCY_INDEX`] (in any state).
pub fn has_recency_index(table: &TableDescription) -> bool {
    table
        .global_secondary_indexes()
        .iter()
        .any(|i| i.index_name() == Some(RECENCY_INDEX))
}

/// Creates [`RECENCY_INDEX`] on a table that lacks it and waits until it is
/// active (DynamoDB fills it from the items already there).
async fn add_recency_index(client: &Client, table: &TableDescription) -> Result<(), StoreError> {
    let name = table.table_name().unwrap_or_default();
    let provisioned = table.billing_mode_summary().and_then(|b| b.billing_mode())
        != Some(&BillingMode::PayPerRequest);
    let throughput = match table.provisioned_throughput() {
        Some(t) if provisioned => Some(built(
            ProvisionedThroughput::builder()
                .read_capacity_units(t.read_capacity_units().unwrap_or(5).max(1))
                .write_capacity_units(t.write_capacity_units().unwrap_or(5).max(1))
                .build(),
        )?),
        _ => None,
    };
    let create = built(
        aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
            .index_name(RECENCY_INDEX)
            .set_key_schema(Some(recency_keys()?))
            .projection(all_attributes())
            .set_provisioned_throughput(throughput)
            .build(),
    )?;
    client
        .update_table()
        .table_name(name)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute(RECENCY_ATTRIBUTE)?)
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .create(create)
                .build(),
        )
        .send()
        .await
        .map_err(map_sdk_error)?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let active = describe_table(client, name).await?.is_some_and(|t| {
            t.global_secondary_indexes().iter().any(|i| {
                i.index_name() == Some(RECENCY_INDEX)
                    && i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
            })
        });
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            // On AWS an index over many items can take longer: the command
            // can be run again. DynamoDB Local builds indexes on a fixed pool
            // of job threads that each table with time to live on holds one
            // of, so with a few such tables it never builds one.
            return Err(StoreError::Unavailable(format!(
                "the index {RECENCY_INDEX} of {name} is still being created after {}s; run this again \
                 when it is ACTIVE (on DynamoDB Local, which never finishes it once a few tables have \
                 time to live on: restart it, or drop the tables you do not need)",
                WAIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The table's description, or `None` if it does not exist.
pub async fn describe_table(
    client: &Client,
    name: &str,
) -> Result<Option<TableDescription>, StoreError> {
    match client.describe_table().table_name(name).send().await {
        Ok(out) => Ok(out.table),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(map_sdk_error(e)),
    }
}

/// Deletes the table and waits until it is gone; `false` if there was none.
pub async fn delete_table(client: &Client, name: &str) -> Result<bool, StoreError> {
    match client.delete_table().table_name(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(map_sdk_error(e)),
    }
    client
        .wait_until_table_not_exists()
        .table_name(name)
        .wait(WAIT)
        .await
        .map_err(|e| StoreError::Unavailable(format!("waiting for {name} to be deleted: {e}")))?;
    Ok(true)
}

/// Every table name, across pages.
pub async fn list_tables(client: &Client) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = client
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
            .map_err(map_sdk_error)?;
        names.extend(out.table_names.unwrap_or_default());
        match out.last_evaluated_table_name {
            Some(last) => start = Some(last),
            None => return Ok(names),
        }
    }
}
