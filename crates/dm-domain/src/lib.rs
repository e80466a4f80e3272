//! The pure domain of Cruddur direct messaging.
//!
//! Ids, timestamps, validated text, the entities (messages, conversations,
//! groups, users), the key codec of the single DynamoDB table and pagination
//! cursors. Nothing here does IO or knows an AWS type: the store, the stream
//! handler and the API all build on these types.
//!
//! ```
//! use dm_domain::{ItemKey, MessageText, GroupId, MessageRef, MessageId, Timestamp};
//!
//! let text = MessageText::parse("  hello  ").unwrap();
//! assert_eq!(text.as_str(), "hello");
//!
//! let at: Timestamp = "2023-03-20T22:52:11.123456+00:00".parse().unwrap();
//! let key = ItemKey::message(GroupId::new(), MessageRef { at, id: MessageId::new() });
//! assert!(key.sk().starts_with("2023-03-20T22:52:11.123456+00:00#"));
//! ```

mod cursor;
mod id;
mod key;
mod model;
mod text;
mod time;

pub use cursor::{CURSOR_MAX_LEN, Cursor, CursorError};
pub use id::{GroupId, InvalidId, MessageId, UserId};
pub use key::{
    COGNITO_SK, DM_SK, GROUP_SK, HANDLE_SK, IDEMPOTENCY_SK, ItemKey, KeyError, Partition, USER_SK,
};
pub use model::{
    Connection, Conversation, GROUP_MIN_MEMBERS, Group, GroupKind, IdempotencyClaim, MAX_MEMBERS,
    Member, Message, MessageRef, NewUser, Page, ReadMarker, Topic, UNREAD_CAP, User, UserSummary,
};
pub use text::{
    DISPLAY_NAME_MAX_CHARS, DisplayName, GROUP_NAME_MAX_CHARS, GroupName, HANDLE_MAX_CHARS, Handle,
    MESSAGE_MAX_CHARS, MessageText, ValidationError,
};
pub use time::{InvalidTimestamp, TIMESTAMP_LEN, Timestamp};
