//! Criterion micro-benchmarks: the key codec, cursors, and item encoding and
//! decoding (`Record` to and from DynamoDB attribute maps, and the SDK's items).
//!
//! Run with `cargo bench -p dm-store --bench codec`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dm_domain::{
    Cursor, GroupId, ItemKey, Message, MessageId, MessageRef, Partition, Timestamp, UserId,
    UserSummary,
};
use dm_store::Record;

fn message() -> Message {
    Message {
        id: MessageId::new(),
        group: GroupId::new(),
        created_at: Timestamp::now(),
        text: "A message of a typical length, about as long as this one is.".into(),
        sender: UserSummary {
            uuid: UserId::new(),
            handle: "andrewbrown".into(),
            display_name: "Andrew Brown".into(),
        },
        edited_at: None,
        deleted: false,
        members_version: 0,
    }
}

fn codec(c: &mut Criterion) {
    let m = message();
    let key = ItemKey::message(
        m.group,
        MessageRef {
            at: m.created_at,
            id: m.id,
        },
    );
    let (pk, sk) = (key.pk(), key.sk());
    c.bench_function("key encode (pk + sk)", |b| {
        b.iter(|| (black_box(&key).pk(), black_box(&key).sk()))
    });
    c.bench_function("key decode", |b| {
        b.iter(|| ItemKey::decode(black_box(&pk), black_box(&sk)))
    });
    let cursor = Cursor::after(&pk, &sk);
    let partition = Partition::Messages(m.group);
    c.bench_function("cursor encode", |b| {
        b.iter(|| Cursor::after(black_box(&pk), black_box(&sk)))
    });
    c.bench_function("cursor decode", |b| {
        b.iter(|| black_box(&cursor).sort_key_in(partition))
    });
    let record = Record::Message(m);
    let item = record.to_item();
    let aws: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        item.clone().into();
    c.bench_function("message to item", |b| {
        b.iter(|| black_box(&record).to_item())
    });
    c.bench_function("message from item", |b| {
        b.iter(|| Record::from_item(black_box(item.clone())))
    });
    c.bench_function("message from SDK item", |b| {
        b.iter(|| Record::from_item(black_box(aws.clone())))
    });
    // A Query response's worth, as the SDK hands it over: 20 messages to records.
    let page: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> = (0
        ..20)
        .map(|_| Record::Message(message()).to_item().into())
        .collect();
    c.bench_function("page of 20 messages from SDK items", |b| {
        b.iter(|| {
            black_box(&page)
                .iter()
                .cloned()
                .map(Record::from_item)
                .collect::<Result<Vec<_>, _>>()
        })
    });
    c.bench_function("message to JSON", |b| {
        b.iter(|| serde_json::to_vec(&black_box(&record).to_item()))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
