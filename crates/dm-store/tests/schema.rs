//! The table `schema-load` creates, read back with DescribeTable from
//! DynamoDB Local and compared with the design.

use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, ProjectionType, ScalarAttributeType, StreamViewType,
};
use dm_store::schema::{
    Billing, Created, GROUP_INDEX, RECENCY_INDEX, TableSpec, create_table, delete_table,
    describe_table,
};

fn keys(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, KeyType)> {
    schema
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
        .collect()
}

#[tokio::test]
async fn the_table_is_created_as_designed() {
    let repo = dm_store::testing::fresh_table().await;
    let client = repo.client();
    let table = describe_table(client, repo.table())
        .await
        .unwrap()
        .expect("the table exists");

    assert_eq!(
        keys(table.key_schema()),
        [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
    );
    let mut attributes: Vec<(String, ScalarAttributeType)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().clone()))
        .collect();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        attributes,
        [
            ("message_group_uuid".into(), ScalarAttributeType::S),
            ("pk".into(), ScalarAttributeType::S),
            ("recency".into(), ScalarAttributeType::S),
            ("sk".into(), ScalarAttributeType::S),
        ]
    );

    let throughput = table.provisioned_throughput().expect("provisioned");
    assert_eq!(
        (
            throughput.read_capacity_units(),
            throughput.write_capacity_units()
        ),
        (Some(5), Some(5))
    );

    let mut indexes = table.global_secondary_indexes().to_vec();
    indexes.sort_by(|a, b| a.index_name().cmp(&b.index_name()));
    let [recency, index] = indexes.as_slice() else {
        panic!("two GSIs expected")
    };
    assert_eq!(recency.index_name(), Some(RECENCY_INDEX));
    assert_eq!(
        keys(recency.key_schema()),
        [
            ("pk".into(), KeyType::Hash),
            ("recency".into(), KeyType::Range)
        ]
    );
    assert_eq!(
        recency.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );
    assert_eq!(index.index_name(), Some(GROUP_INDEX));
    assert_eq!(
        keys(index.key_schema()),
        [
            ("message_group_uuid".into(), KeyType::Hash),
            ("sk".into(), KeyType::Range)
        ]
    );
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );
    let index_throughput = index.provisioned_throughput().expect("index provisioned");
    assert_eq!(
        (
            index_throughput.read_capacity_units(),
            index_throughput.write_capacity_units()
        ),
        (Some(5), Some(5))
    );

    let stream = table.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    assert!(table.latest_stream_arn().is_some());

    let ttl = client
        .describe_time_to_live()
        .table_name(repo.table())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some(dm_store::schema::TTL_ATTRIBUTE));
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(
            aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled
                | aws_sdk_dynamodb::types::TimeToLiveStatus::Enabling
        )
    ));

    // Loading again leaves the table as it is.
    assert_eq!(
        create_table(client, &TableSpec::new(repo.table()))
            .await
            .unwrap(),
        Created::AlreadyExists
    );
    assert!(delete_table(client, repo.table()).await.unwrap());
    assert!(
        describe_table(client, repo.table())
            .await
            .unwrap()
            .is_none()
    );
    assert!(!delete_table(client, repo.table()).await.unwrap());
}

#[tokio::test]
async fn on_demand_billing_is_a_flag() {
    let repo = dm_store::testing::fresh_table().await;
    let client = repo.client();
    let name = format!("{}-on-demand", repo.table());
    let spec = TableSpec {
        name: name.clone(),
        billing: Billing::OnDemand,
    };
    assert_eq!(create_table(client, &spec).await.unwrap(), Created::Created);
    let table = describe_table(client, &name).await.unwrap().unwrap();
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
}
