//! Typed identifiers: one newtype per kind of uuid, so that a message id can
//! never be passed where a conversation id is expected.
//!
//! All ids print as lowercase hyphenated uuids, the form the seed wrote and the
//! frontend sends, and parse from any form `uuid` accepts.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The text given is not a well-formed uuid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a well-formed uuid")]
pub struct InvalidId {
    /// What was given, cut to a readable length.
    pub input: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id of an existing uuid.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The uuid inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self).map_err(|_| InvalidId {
                    input: s.chars().take(64).collect(),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

uuid_id!(
    /// A user (`user_uuid`).
    UserId
);
uuid_id!(
    /// A conversation, which the seed and the frontend call a message group (`message_group_uuid`).
    GroupId
);
uuid_id!(
    /// One message (`message_uuid`).
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_lowercase_hyphenated_and_round_trip() {
        let id: GroupId = "5AE290ED-55D1-47A0-BC6D-FE2BC2700399".parse().unwrap();
        assert_eq!(id.to_string(), "5ae290ed-55d1-47a0-bc6d-fe2bc2700399");
        assert_eq!(id.to_string().parse::<GroupId>().unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "abc",
            "5ae290ed-55d1-47a0-bc6d-fe2bc270039",
            "../etc/passwd",
        ] {
            assert!(bad.parse::<UserId>().is_err(), "{bad} accepted");
        }
    }
}
