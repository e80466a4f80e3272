//! Paging: which page a listing reads, and one page of a partition with a
//! cursor to the next (patterns A and B share it).

use dm_domain::{Cursor, Page, Partition};

use crate::{
    Record, StoreResult,
    table::{Order, Read, Table},
};

/// Most items a page may hold; larger requests are clamped.
pub const PAGE_MAX: usize = 100;
/// Items a page holds when the request does not say.
pub const PAGE_DEFAULT: usize = 20;

/// Which page of a listing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page, 1 to [`PAGE_MAX`] (clamped).
    pub limit: usize,
    /// Where to continue; `None` for the first (newest) page.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// The first page, of `limit` items.
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The page after `cursor`, of `limit` items.
    pub fn after(limit: usize, cursor: Cursor) -> Self {
        Self {
            limit,
            cursor: Some(cursor),
        }
    }

    fn clamped_limit(&self) -> usize {
        self.limit.clamp(1, PAGE_MAX)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(PAGE_DEFAULT)
    }
}

/// The sort key a page starts after, from its cursor.
pub(super) fn start_after(partition: Partition, page: &PageRequest) -> StoreResult<Option<String>> {
    Ok(page
        .cursor
        .as_ref()
        .map(|cursor| cursor.sort_key_in(partition))
        .transpose()?)
}

/// One page of a partition in `order`, with a cursor when more follow.
pub(super) async fn list<T: Table + ?Sized, I>(
    table: &T,
    partition: Partition,
    after: Option<String>,
    page: &PageRequest,
    order: Order,
    decode: impl Fn(Record) -> StoreResult<I>,
) -> StoreResult<Page<I>> {
    let limit = page.clamped_limit();
    // One item more than asked tells whether another page follows, so the
    // last page never carries a cursor to an empty one.
    let mut records = table
        .query(
            partition,
            after.as_deref(),
            limit + 1,
            order,
            Read::Eventual,
        )
        .await?;
    let more = records.len() > limit;
    records.truncate(limit);
    let next = match records.last() {
        Some((key, _)) if more => Some(Cursor::after(&key.pk(), &key.sk())),
        _ => None,
    };
    let items = records
        .into_iter()
        .map(|(_, record)| decode(record))
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, next })
}
