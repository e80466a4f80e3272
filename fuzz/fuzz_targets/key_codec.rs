//! Any pk and sk: decoding never panics, and what decodes re-encodes to a key
//! that decodes to the same thing.
#![no_main]

use dm_domain::ItemKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pk, sk) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(key) = ItemKey::decode(pk, sk) {
        assert_eq!(ItemKey::decode(&key.pk(), &key.sk()).ok(), Some(key));
    }
});
