//! How the repository's keys and conditions read as DynamoDB request
//! parameters: the key of an item, and the condition expression (with its
//! values) of each [`Condition`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use dm_domain::ItemKey;

use super::SdkItem;
use crate::table::Condition;

/// An item's key, `pk` and `sk`.
pub(super) fn key_of(key: &ItemKey) -> SdkItem {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk())),
        ("sk".to_owned(), AttributeValue::S(key.sk())),
    ])
}

/// An item's key exactly as stored ([`ItemKey::Stored`]), from its `pk` and
/// `sk`; `None` when either is missing or not a string.
pub(super) fn stored_key(item: &SdkItem) -> Option<ItemKey> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    Some(ItemKey::Stored {
        pk: text("pk")?,
        sk: text("sk")?,
    })
}

/// The condition expression of `condition`, and the values it names.
pub(super) fn condition_expression(
    condition: &Condition,
) -> (Option<&'static str>, Option<SdkItem>) {
    let values = |pairs: Vec<(&str, AttributeValue)>| {
        Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<HashMap<_, _>>(),
        )
    };
    match condition {
        Condition::Always => (None, None),
        Condition::NotExists => (Some("attribute_not_exists(pk)"), None),
        Condition::NotExistsOrExpired(now) => (
            Some("attribute_not_exists(pk) OR expires_at < :now"),
            values(vec![(":now", AttributeValue::N(now.to_string()))]),
        ),
        Condition::RowVersionIs(version) => (
            Some("version = :v"),
            values(vec![(":v", AttributeValue::N(version.to_string()))]),
        ),
        Condition::GroupVersionIs(version) => (
            Some("members_version = :v"),
            values(vec![(":v", AttributeValue::N(version.to_string()))]),
        ),
        Condition::EditableBefore(at) => (
            Some(
                "attribute_exists(pk) AND attribute_not_exists(deleted) \
                 AND (attribute_not_exists(edited_at) OR edited_at < :edited)",
            ),
            values(vec![(":edited", AttributeValue::S(at.to_string()))]),
        ),
        Condition::NotDeleted => (
            Some("attribute_exists(pk) AND attribute_not_exists(deleted)"),
            None,
        ),
        Condition::MarkerBefore(through) => (
            Some("attribute_not_exists(pk) OR read_through < :through"),
            values(vec![(":through", AttributeValue::S(through.sort_key()))]),
        ),
    }
}
