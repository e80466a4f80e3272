//! What a call costs on AWS, by DynamoDB's published rules, from the items
//! it reads and writes: the meter every backend bills with.
//!
//! - An item's size is the sum of its attribute names and values (UTF-8
//!   bytes of strings; about one byte per two significant digits of a number,
//!   plus one; one byte for a boolean or null; three bytes for a list or a
//!   map, plus one per element) ([`item_size`]).
//! - A write costs one unit per started KB of the larger of the item before
//!   and after it, at least one ([`write_units`]); inside a transaction, two.
//! - A read costs one unit per started 4 KB of what it reads (a query: of all
//!   the items of a page together), at least one; eventually consistent
//!   reads half that ([`read_units`]); inside a transaction, two.
//! - Every global secondary index an item enters, leaves or changes in adds
//!   writes of its entry: one to put or delete it, one to update it in
//!   place, two (a delete and a put) when its index key changes
//!   ([`index_writes`]). The table's two indexes are [`INDEXES`].
//!
//! DynamoDB Local reports single calls this way, and the tests hold the two
//! equal; it bills any small transaction 2 units in all, which is why the
//! figure that counts is this one, with the reported one beside it.

use serde_dynamo::{AttributeValue, Item};

use crate::table::Read;

/// A write unit covers this many bytes of an item.
pub const WRITE_UNIT_BYTES: u64 = 1024;
/// A read unit covers this many bytes.
pub const READ_UNIT_BYTES: u64 = 4096;

/// A global secondary index: its key attributes (strings) and what it
/// projects (every attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// The index's partition key attribute.
    pub hash: &'static str,
    /// The index's sort key attribute.
    pub range: &'static str,
}

/// The table's indexes, both projection ALL: `message-group-sk-index`
/// (`message_group_uuid`, `sk`: the seed's rows only) and
/// `conversations-by-recency` (`pk`, `recency`: every row written since
/// issue 25).
pub const INDEXES: [Index; 2] = [
    Index {
        hash: "message_group_uuid",
        range: "sk",
    },
    Index {
        hash: "pk",
        range: crate::schema::RECENCY_ATTRIBUTE,
    },
];

/// The size of an item in bytes, as DynamoDB computes it for capacity.
pub fn item_size(item: &Item) -> u64 {
    let map: &std::collections::HashMap<String, AttributeValue> = item.as_ref();
    map.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// The size of an item as the SDK holds it (a query's page), as
/// [`item_size`] computes it, without converting it.
pub fn sdk_item_size(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + sdk_value_size(value))
        .sum()
}

fn sdk_value_size(value: &aws_sdk_dynamodb::types::AttributeValue) -> u64 {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    match value {
        V::S(s) => s.len() as u64,
        V::N(n) => number_size(n),
        V::B(b) => b.as_ref().len() as u64,
        V::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        V::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        V::Bs(set) => set.iter().map(|b| b.as_ref().len() as u64).sum(),
        V::L(list) => 3 + list.iter().map(|v| 1 + sdk_value_size(v)).sum::<u64>(),
        V::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() as u64 + sdk_value_size(v))
                .sum::<u64>()
        }
        // Bool, Null, and any kind added later: one byte.
        _ => 1,
    }
}

/// The size of a value without its name.
fn value_size(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.len() as u64).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() as u64 + value_size(v))
                .sum::<u64>()
        }
    }
}

/// A number's size: one byte per two significant digits (leading and
/// trailing zeros trimmed), plus one; zero has none, and is one byte (as
/// DynamoDB Local reports it).
fn number_size(number: &str) -> u64 {
    let digits: String = number
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    (significant as u64).div_ceil(2) + 1
}

/// Write units of one item's write in the table (not its indexes): one per
/// started KB of the larger of the item before and after, at least one.
pub fn write_units(old: Option<&Item>, new: Option<&Item>) -> f64 {
    let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
    size.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// Write units the table's indexes spend on one item's write, from the item
/// before (`None`: it did not exist) and after (`None`: deleted).
pub fn index_writes(old: Option<&Item>, new: Option<&Item>) -> f64 {
    INDEXES
        .iter()
        .map(|index| {
            let units = |item: &Item| item_size(item).div_ceil(WRITE_UNIT_BYTES).max(1) as f64;
            let (old, new) = (
                old.filter(|i| index.holds(i)),
                new.filter(|i| index.holds(i)),
            );
            match (old, new) {
                (None, None) => 0.0,
                (Some(gone), None) => units(gone),
                (None, Some(put)) => units(put),
                (Some(before), Some(after)) if index.key(before) != index.key(after) => {
                    units(before) + units(after)
                }
                (Some(before), Some(after)) if before == after => 0.0,
                (Some(before), Some(after)) => units(before).max(units(after)),
            }
        })
        .sum()
}

impl Index {
    /// Whether `item` has an entry in this index: both key attributes, as strings.
    fn holds(&self, item: &Item) -> bool {
        self.key(item).is_some()
    }

    /// The item's key in this index.
    fn key<'a>(&self, item: &'a Item) -> Option<(&'a str, &'a str)> {
        let map: &std::collections::HashMap<String, AttributeValue> = item.as_ref();
        match (map.get(self.hash), map.get(self.range)) {
            (Some(AttributeValue::S(h)), Some(AttributeValue::S(r))) => Some((h, r)),
            _ => None,
        }
    }
}

/// A single write (PutItem, DeleteItem, a BatchWriteItem request): the
/// table's units and the indexes'.
pub fn single_write(old: Option<&Item>, new: Option<&Item>) -> f64 {
    write_units(old, new) + index_writes(old, new)
}

/// A TransactWriteItems call of these items (each the item before and
/// after): two units per item per started KB, and the indexes' writes.
pub fn transaction<'a>(
    items: impl IntoIterator<Item = (Option<&'a Item>, Option<&'a Item>)>,
) -> f64 {
    items
        .into_iter()
        .map(|(old, new)| 2.0 * write_units(old, new) + index_writes(old, new))
        .sum()
}

/// Read units of reading `bytes` in one request (a GetItem's item, a query
/// page's items together): one per started 4 KB, at least one; half when
/// eventually consistent.
pub fn read_units(bytes: u64, read: Read) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    match read {
        Read::Consistent => units,
        Read::Eventual => units / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn item(fields: &[(&str, AttributeValue)]) -> Item {
        Item::from(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<HashMap<_, _>>(),
        )
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    #[test]
    fn sizes_follow_the_published_rules() {
        assert_eq!(item_size(&item(&[("pk", s("abc"))])), 5);
        // Numbers: one byte per two significant digits, plus one.
        for (n, size) in [
            ("0", 1),
            ("7", 2),
            ("12", 2),
            ("123", 3),
            ("1000", 2),
            ("-0.0012", 2),
            ("1700000000", 2),
            ("1712345678", 6),
        ] {
            assert_eq!(number_size(n), size, "{n}");
        }
        assert_eq!(item_size(&item(&[("b", AttributeValue::Bool(true))])), 2);
        // A map: 3 bytes, and per element 1 byte, its name and its value.
        let map = AttributeValue::M(HashMap::from([("k".to_owned(), s("vv"))]));
        assert_eq!(item_size(&item(&[("m", map)])), 1 + 3 + 1 + 1 + 2);
        let list = AttributeValue::L(vec![s("a"), s("bc")]);
        assert_eq!(item_size(&item(&[("l", list)])), 1 + 3 + (1 + 1) + (1 + 2));
        // UTF-8 bytes, not characters.
        assert_eq!(item_size(&item(&[("é", s("ü"))])), 4);
    }

    #[test]
    fn the_sdks_items_measure_the_same() {
        let map = AttributeValue::M(HashMap::from([("k".to_owned(), s("vv"))]));
        let list = AttributeValue::L(vec![s("a"), AttributeValue::N("1234".into())]);
        let item = item(&[
            ("pk", s("MSG#x")),
            ("n", AttributeValue::N("1712345678".into())),
            ("b", AttributeValue::Bool(true)),
            ("m", map),
            ("l", list),
        ]);
        let sdk: HashMap<String, aws_sdk_dynamodb::types::AttributeValue> = item.clone().into();
        assert_eq!(sdk_item_size(&sdk), item_size(&item));
    }

    #[test]
    fn writes_cost_a_unit_per_started_kb_of_the_larger_item() {
        let sized = |bytes: usize| item(&[("pk", s(&"x".repeat(bytes - 2)))]);
        assert_eq!(write_units(None, Some(&sized(1024))), 1.0);
        assert_eq!(write_units(None, Some(&sized(1025))), 2.0);
        assert_eq!(
            write_units(Some(&sized(3000)), Some(&sized(10))),
            3.0,
            "the larger of old and new"
        );
        assert_eq!(
            write_units(None, None),
            1.0,
            "a delete of nothing still costs one"
        );
    }

    #[test]
    fn reads_cost_a_unit_per_started_4_kb_half_when_eventual() {
        assert_eq!(read_units(0, Read::Consistent), 1.0);
        assert_eq!(read_units(4096, Read::Consistent), 1.0);
        assert_eq!(read_units(4097, Read::Consistent), 2.0);
        assert_eq!(read_units(4097, Read::Eventual), 1.0);
        assert_eq!(read_units(10, Read::Eventual), 0.5);
    }

    #[test]
    fn transactions_cost_two_units_per_item_and_index_writes_come_on_top() {
        let row = |sk: &str| {
            item(&[
                ("pk", s("GRP#a")),
                ("sk", s(sk)),
                ("message_group_uuid", s("g")),
            ])
        };
        let plain = item(&[("pk", s("GROUP#g")), ("sk", s("META"))]);
        // Entering and leaving the index: one write each.
        assert_eq!(index_writes(None, Some(&row("1"))), 1.0);
        assert_eq!(index_writes(Some(&row("1")), None), 1.0);
        // A key change: a delete and a put; an update in place: one.
        assert_eq!(index_writes(Some(&row("1")), Some(&row("2"))), 2.0);
        let mut changed = row("1");
        let map: &mut HashMap<String, AttributeValue> = changed.as_mut();
        map.insert("message".into(), s("new"));
        assert_eq!(index_writes(Some(&row("1")), Some(&changed)), 1.0);
        assert_eq!(
            index_writes(Some(&plain), Some(&plain)),
            0.0,
            "not in the index"
        );
        // Moving a member's row as the handler does today: the group put, the
        // old rows deleted, the new ones put; 5 items, 2 units each, 4 index writes.
        let cost = transaction([
            (Some(&plain), Some(&plain)),
            (Some(&row("1")), None),
            (Some(&row("1")), None),
            (None, Some(&row("2"))),
            (None, Some(&row("2"))),
        ]);
        assert_eq!(cost, 14.0);
        assert_eq!(single_write(None, Some(&row("1"))), 2.0);
    }
}
