//! `cargo xtask schema-load` on a table that exists: Cruddur's, as its
//! `bin/ddb/schema-load` made it (keys `pk`/`sk`, `message-group-sk-index`,
//! provisioned 5/5, no stream, no time to live). The stream and time to live
//! are turned on, and the index `conversations-by-recency` created; every
//! item stays as it was, and a second run changes nothing and says so.
//!
//! On a DynamoDB Local of its own: DynamoDB Local runs each table's
//! time-to-live deletion on a fixed pool of job threads, and once a few
//! tables have time to live on (as the shared test instance's do), no thread
//! is left to build a new index, which then stays `CREATING`.

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType, StreamViewType,
    TimeToLiveStatus,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_load_turns_on_what_cruddurs_table_lacks_and_keeps_its_items() {
    let local = tokio::task::spawn_blocking(|| {
        dm_local::Install::ensure(&dm_local::default_dir())
            .and_then(|install| install.start(&dm_local::Options::default()))
            .unwrap()
    })
    .await
    .unwrap();
    let endpoint = &local.endpoint();
    let client = dm_store::client::connect(Some(endpoint)).await;
    let table = format!("cruddur-{}", uuid::Uuid::new_v4().simple());
    let s = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let five = ProvisionedThroughput::builder()
        .read_capacity_units(5)
        .write_capacity_units(5)
        .build()
        .unwrap();
    // As Cruddur's schema-load (boto3) creates it.
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(s("message_group_uuid"))
        .attribute_definitions(s("pk"))
        .attribute_definitions(s("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("message-group-sk-index")
                .key_schema(key("message_group_uuid", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .provisioned_throughput(five.clone())
                .build()
                .unwrap(),
        )
        .provisioned_throughput(five)
        .send()
        .await
        .unwrap();
    // One of its messages, as Cruddur's Python wrote it.
    client
        .put_item()
        .table_name(&table)
        .item(
            "pk",
            AttributeValue::S("MSG#5ae290ed-55d1-47a0-bc6d-fe2bc2700399".into()),
        )
        .item(
            "sk",
            AttributeValue::S("2023-03-20T22:52:11.123456-05:00".into()),
        )
        .item(
            "message_uuid",
            AttributeValue::S("0bd33b6f-0d8e-4d47-99cf-00f3e3d0f1a1".into()),
        )
        .item("message", AttributeValue::S("Hello from Toronto".into()))
        .send()
        .await
        .unwrap();

    let first = common::ok(&common::xtask(endpoint, &table, &["schema-load"]));
    assert!(
        first.contains("already exists: turned on its stream (new images) and time to live on expires_at and the index conversations-by-recency (run `cargo xtask migrate` next); its items are left as they are"),
        "{first}"
    );
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let stream = described.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert!(
        described
            .global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some("conversations-by-recency")
                && i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)),
        "{described:?}"
    );
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));
    let items = client.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count(), 1, "the table's items are as they were");
    assert_eq!(
        items.items()[0]["message"],
        AttributeValue::S("Hello from Toronto".into())
    );

    let again = common::ok(&common::xtask(endpoint, &table, &["schema-load"]));
    assert!(
        again.contains("already exists, with all this project needs; left as it is"),
        "{again}"
    );
}
