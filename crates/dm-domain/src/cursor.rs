//! Opaque pagination cursors, bound to the partition they came from.
//!
//! A cursor is the last evaluated key of a page, `base64url(version, crc32,
//! pk, sk)`. Decoding checks, in order: the length, the encoding, the
//! version, the checksum (so a cursor edited by hand is rejected rather than
//! silently moved), that the partition is the one being listed (so a cursor of
//! one conversation cannot page through another), and that the sort key is one
//! of that partition's.
//!
//! The checksum is integrity, not secrecy: a cursor only positions a read
//! inside a partition the caller is already allowed to read, so forging one
//! gains nothing; authorization is checked separately on every request.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::{ItemKey, Partition};

const VERSION: u8 = 1;
/// Longest cursor text accepted; real ones are about 150 characters.
pub const CURSOR_MAX_LEN: usize = 512;

/// Why a cursor was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// It is not a cursor this system wrote, or it was altered.
    #[error("the cursor is malformed or was altered")]
    Malformed,
    /// It is a cursor of another listing.
    #[error("the cursor belongs to another listing")]
    WrongPartition,
}

/// Where the next page of a listing starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor after the item with this key.
    pub fn after(pk: &str, sk: &str) -> Self {
        let mut body = Vec::with_capacity(3 + pk.len() + sk.len());
        let pk_len = u16::try_from(pk.len()).unwrap_or(u16::MAX);
        body.extend_from_slice(&pk_len.to_be_bytes());
        body.extend_from_slice(pk.as_bytes());
        body.extend_from_slice(sk.as_bytes());
        let mut bytes = Vec::with_capacity(5 + body.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        bytes.extend_from_slice(&body);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The cursor as text, as clients receive it.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text of the cursor.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks the cursor against the partition being listed and returns the
    /// sort key to continue after.
    pub fn sort_key_in(&self, partition: Partition) -> Result<String, CursorError> {
        if self.0.len() > CURSOR_MAX_LEN {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| CursorError::Malformed)?;
        let [version, c0, c1, c2, c3, body @ ..] = bytes.as_slice() else {
            return Err(CursorError::Malformed);
        };
        if *version != VERSION || crc32fast::hash(body) != u32::from_be_bytes([*c0, *c1, *c2, *c3])
        {
            return Err(CursorError::Malformed);
        }
        let [l0, l1, rest @ ..] = body else {
            return Err(CursorError::Malformed);
        };
        let pk_len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if rest.len() < pk_len {
            return Err(CursorError::Malformed);
        }
        let (pk, sk) = rest.split_at(pk_len);
        let (pk, sk) = (
            std::str::from_utf8(pk).map_err(|_| CursorError::Malformed)?,
            std::str::from_utf8(sk).map_err(|_| CursorError::Malformed)?,
        );
        let key = ItemKey::decode(pk, sk).map_err(|_| CursorError::Malformed)?;
        if key.partition() != Some(partition) {
            return Err(CursorError::WrongPartition);
        }
        Ok(sk.to_owned())
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GroupId, MessageId, MessageRef, Timestamp, UserId};
    use proptest::prelude::*;

    fn message_cursor(group: GroupId) -> (Cursor, String) {
        let key = ItemKey::message(
            group,
            MessageRef {
                at: Timestamp::now(),
                id: MessageId::new(),
            },
        );
        (Cursor::after(&key.pk(), &key.sk()), key.sk())
    }

    #[test]
    fn round_trips_within_its_partition() {
        let group = GroupId::new();
        let (cursor, sk) = message_cursor(group);
        assert_eq!(cursor.sort_key_in(Partition::Messages(group)), Ok(sk));
        let text = cursor.as_str();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{text}"
        );
    }

    #[test]
    fn another_partition_is_refused() {
        let group = GroupId::new();
        let (cursor, _) = message_cursor(group);
        assert_eq!(
            cursor.sort_key_in(Partition::Messages(GroupId::new())),
            Err(CursorError::WrongPartition)
        );
        assert_eq!(
            cursor.sort_key_in(Partition::Conversations(UserId::new())),
            Err(CursorError::WrongPartition)
        );
    }

    #[test]
    fn garbage_and_edits_are_refused() {
        let group = GroupId::new();
        let (cursor, _) = message_cursor(group);
        let text = cursor.as_str();
        let mut edited: Vec<char> = text.chars().collect();
        let i = edited.len() - 3;
        edited[i] = if edited[i] == 'A' { 'B' } else { 'A' };
        for bad in [
            String::new(),
            "x".into(),
            "!!!!".into(),
            edited.into_iter().collect(),
            "A".repeat(CURSOR_MAX_LEN + 1),
            format!("{text}="),
        ] {
            assert_eq!(
                Cursor::from_text(bad.clone()).sort_key_in(Partition::Messages(group)),
                Err(CursorError::Malformed),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,600}") {
            let _ = Cursor::from_text(text).sort_key_in(Partition::Messages(GroupId::new()));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Cursor::from_text(URL_SAFE_NO_PAD.encode(bytes)).sort_key_in(Partition::Conversations(UserId::new()));
        }
    }
}
