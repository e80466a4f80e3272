//! Change records: what a write did to an item, as the table's stream shows it.
//!
//! DynamoDB Streams (read by Lambda or the streams API) and the memory
//! repository's feed both decode into [`ChangeEvent`], so the stream handler
//! does not know which one it serves.

use dm_domain::ItemKey;

use crate::Record;

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The item was created.
    Insert,
    /// The item was replaced or updated.
    Modify,
    /// The item was deleted.
    Remove,
}

/// One change to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Position in its shard or feed; increasing, unique within it.
    pub sequence: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The item's key.
    pub key: ItemKey,
    /// The item after the change; `None` for removals.
    pub new_image: Option<Record>,
    /// A removal made by the table's time to live (the record's user
    /// identity is the service `dynamodb.amazonaws.com`), not by a user.
    pub expired: bool,
}
