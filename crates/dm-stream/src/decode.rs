//! Decoding change records from their sources into [`ChangeEvent`].
//!
//! A record whose key is not one of this table's is dropped (it cannot move
//! a row); a record whose new image cannot be decoded keeps its key and
//! sequence number with no image, so it is seen and ignored, never fatal.

use aws_lambda_events::event::dynamodb::EventRecord;
use dm_domain::ItemKey;
use dm_store::{ChangeEvent, ChangeKind, Record};
use serde_dynamo::{AttributeValue, Item};

fn kind(name: &str) -> Option<ChangeKind> {
    match name {
        "INSERT" => Some(ChangeKind::Insert),
        "MODIFY" => Some(ChangeKind::Modify),
        "REMOVE" => Some(ChangeKind::Remove),
        _ => None,
    }
}

fn key_of(keys: &Item) -> Option<ItemKey> {
    let text = |name: &str| match keys.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    ItemKey::decode(text("pk")?, text("sk")?).ok()
}

fn image(kind: ChangeKind, new_image: Item, sequence: &str) -> Option<Record> {
    if kind == ChangeKind::Remove || new_image.is_empty() {
        return None;
    }
    match Record::from_item(new_image) {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::warn!(sequence, error = %e, "ignoring a change record whose image does not decode");
            None
        }
    }
}

/// The principal of the removals DynamoDB's time to live makes.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

fn event(
    name: &str,
    keys: &Item,
    new_image: Item,
    sequence: Option<String>,
    principal: Option<&str>,
) -> Option<ChangeEvent> {
    let kind = kind(name)?;
    let key = key_of(keys)?;
    let sequence = sequence?;
    let new_image = image(kind, new_image, &sequence);
    Some(ChangeEvent {
        sequence,
        kind,
        key,
        new_image,
        expired: kind == ChangeKind::Remove && principal == Some(TTL_PRINCIPAL),
    })
}

/// The change events of a Lambda DynamoDB event's records, in order.
pub fn from_lambda(records: &[EventRecord]) -> Vec<ChangeEvent> {
    records
        .iter()
        .filter_map(|r| {
            event(
                &r.event_name,
                &r.change.keys,
                r.change.new_image.clone(),
                r.change.sequence_number.clone(),
                r.user_identity.as_ref().map(|u| u.principal_id.as_str()),
            )
        })
        .collect()
}

/// The change events of records read with the DynamoDB Streams API, in order.
pub fn from_streams_api(records: Vec<aws_sdk_dynamodbstreams::types::Record>) -> Vec<ChangeEvent> {
    records
        .into_iter()
        .filter_map(|r| {
            let name = r.event_name?.as_str().to_owned();
            let principal = r.user_identity.and_then(|u| u.principal_id);
            let change = r.dynamodb?;
            let keys = Item::from(change.keys.unwrap_or_default());
            let new_image = Item::from(change.new_image.unwrap_or_default());
            event(
                &name,
                &keys,
                new_image,
                change.sequence_number,
                principal.as_deref(),
            )
        })
        .collect()
}
