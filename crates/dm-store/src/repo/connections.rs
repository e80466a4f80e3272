//! Live connections (pattern G): one item per open socket of a user, until
//! its token expires (the table's TTL removes it eventually).

use dm_domain::{Connection, ItemKey, Partition, UserId};

use crate::{
    Record, StoreResult,
    table::{Order, Read, Table, Write, WriteError},
};

/// The most live connections of one user that are notified.
const CONNECTIONS_MAX: usize = 100;

/// Records a connection, replacing one with the same id.
pub(super) async fn add<T: Table + ?Sized>(table: &T, connection: &Connection) -> StoreResult<()> {
    table
        .write(vec![Write::put(Record::Connection(connection.clone()))])
        .await
        .map_err(WriteError::into_store)
}

/// Forgets a connection; one already gone is not an error.
pub(super) async fn remove<T: Table + ?Sized>(
    table: &T,
    user: UserId,
    id: &str,
) -> StoreResult<()> {
    table
        .write(vec![Write::delete(ItemKey::Connection(
            user,
            id.to_owned(),
        ))])
        .await
        .map_err(WriteError::into_store)
}

/// A user's connections unexpired at `now` (epoch seconds).
pub(super) async fn of_user<T: Table + ?Sized>(
    table: &T,
    user: UserId,
    now: i64,
) -> StoreResult<Vec<Connection>> {
    // A user has a few: one per open tab or device.
    let found = table
        .query(
            Partition::Connections(user),
            None,
            CONNECTIONS_MAX,
            Order::NewestFirst,
            Read::Eventual,
        )
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(_, record)| match record {
            Record::Connection(c) if c.expires_at > now => Some(c),
            _ => None,
        })
        .collect())
}
