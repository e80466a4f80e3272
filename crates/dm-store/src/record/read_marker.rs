//! A member's read marker: `READ#{group_uuid}` / `{member_uuid}`, the
//! newest message they have seen as its sort key (`read_through`).

use dm_domain::{GroupId, ReadMarker, UserId};
use serde::{Deserialize, Serialize};

use super::{At, parse_ref};
use crate::StoreResult;

#[derive(Serialize, Deserialize)]
pub(super) struct ReadMarkerItem {
    pk: String,
    sk: String,
    entity: String,
    /// The sort key of the newest message the member has seen; conditions
    /// compare it as a string, which orders as the messages do.
    read_through: String,
}

impl ReadMarkerItem {
    pub(super) fn new(r: &ReadMarker, pk: String, sk: String, entity: &str) -> Self {
        Self {
            pk,
            sk,
            entity: entity.into(),
            read_through: r.through.sort_key(),
        }
    }

    pub(super) fn decode(
        self,
        group: GroupId,
        member: UserId,
        place: At<'_>,
    ) -> StoreResult<ReadMarker> {
        Ok(ReadMarker {
            group,
            member,
            through: parse_ref(&self.read_through).map_err(|e| place.error(e))?,
        })
    }
}
