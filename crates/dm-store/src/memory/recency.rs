//! The memory backend's `conversations-by-recency`: a user's rows in the
//! order of their places in the list, as the index holds them.

use dm_domain::{ItemKey, Partition, UserId};

use super::MemoryRepository;
use crate::{
    Record, billing,
    table::{Order, Read},
};

impl MemoryRepository {
    /// `owner`'s rows as the index `conversations-by-recency` holds them: the
    /// rows that carry a last message id, ordered by their place in the
    /// list, each with that place as its key. Billed as an eventually
    /// consistent query of the index.
    pub(super) fn rows_by_recency(
        &self,
        owner: UserId,
        after: Option<&str>,
        limit: usize,
        order: Order,
    ) -> Vec<(ItemKey, Record)> {
        let pk = Partition::Conversations(owner).pk();
        let state = self.state();
        let mut rows: Vec<(String, ItemKey, &Record)> = state
            .items
            .range((pk.clone(), String::new())..)
            .take_while(|((p, _), _)| *p == pk)
            // The index holds the rows keyed by their conversation: those
            // of the older layouts carry no `recency`.
            .filter(|((pk, sk), _)| matches!(ItemKey::decode(pk, sk), Ok(ItemKey::Row { .. })))
            .filter_map(|(_, record)| match record {
                Record::Conversation(c) if !c.is_seed_form() && !c.left => {
                    let place = ItemKey::conversation(c.owner, c.group, c.last_message_at);
                    Some((place.sk(), place, record))
                }
                _ => None,
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if order == Order::NewestFirst {
            rows.reverse();
        }
        let found: Vec<(ItemKey, Record)> = rows
            .into_iter()
            .filter(|(sk, ..)| match (after, order) {
                (None, _) => true,
                (Some(after), Order::NewestFirst) => sk.as_str() < after,
                (Some(after), Order::OldestFirst) => sk.as_str() > after,
            })
            .take(limit)
            .map(|(_, key, record)| (key, record.clone()))
            .collect();
        let bytes = found
            .iter()
            .map(|(_, r)| billing::item_size(&r.to_item()))
            .sum();
        self.meter
            .bill(false, billing::read_units(bytes, Read::Eventual));
        found
    }
}
