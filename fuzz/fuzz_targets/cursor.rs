//! Any cursor text: decoding never panics; and a cursor made from any key
//! decodes back to its sort key in its own partition only.
#![no_main]

use dm_domain::{Cursor, GroupId, ItemKey, Partition, UserId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let group = GroupId::from_uuid(uuid_of(1));
    let _ = Cursor::from_text(text.as_ref()).sort_key_in(Partition::Messages(group));
    let _ = Cursor::from_text(text.as_ref()).sort_key_in(Partition::Conversations(UserId::from_uuid(uuid_of(2))));
    let (pk, sk) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(key) = ItemKey::decode(pk, sk) {
        if let Some(partition) = key.partition() {
            let cursor = Cursor::after(pk, sk);
            assert_eq!(cursor.sort_key_in(partition).ok().as_deref(), Some(sk));
        }
    }
});

fn uuid_of(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}
