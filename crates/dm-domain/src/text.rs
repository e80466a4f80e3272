//! Validated text: handles, display names, group names and message bodies.
//!
//! Each type can only be built through its validating constructor, so a value
//! of the type is proof that the rules held. Every rejection is a
//! [`ValidationError`] with a stable machine-readable [`code`](ValidationError::code),
//! which the HTTP API lists in its error body.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most characters a message may have, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 1024;
/// Most characters a handle may have.
pub const HANDLE_MAX_CHARS: usize = 32;
/// Most characters a display name may have, after trimming.
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
/// Most characters a group conversation's name may have, after trimming.
pub const GROUP_NAME_MAX_CHARS: usize = 100;

/// One broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The message is empty or only white space.
    #[error("the message is empty")]
    MessageBlank,
    /// The message is longer than [`MESSAGE_MAX_CHARS`] after trimming.
    #[error("the message is longer than {MESSAGE_MAX_CHARS} characters")]
    MessageTooLong,
    /// The handle is empty, too long, or has a character other than ASCII letters, digits and `_`.
    #[error("a handle is 1 to {HANDLE_MAX_CHARS} ASCII letters, digits or underscores")]
    HandleInvalid,
    /// The display name is empty, too long, or has control characters.
    #[error("a display name is 1 to {DISPLAY_NAME_MAX_CHARS} printable characters")]
    DisplayNameInvalid,
    /// The group's name is empty or only white space.
    #[error("the group's name is empty")]
    GroupNameBlank,
    /// The group's name is longer than [`GROUP_NAME_MAX_CHARS`] after
    /// trimming, or has control characters.
    #[error("a group's name is 1 to {GROUP_NAME_MAX_CHARS} printable characters")]
    GroupNameInvalid,
}

impl ValidationError {
    /// The stable code of this error, for API clients.
    pub const fn code(self) -> &'static str {
        match self {
            Self::MessageBlank => "message_blank",
            Self::MessageTooLong => "message_too_long",
            Self::HandleInvalid => "handle_invalid",
            Self::DisplayNameInvalid => "display_name_invalid",
            Self::GroupNameBlank => "name_blank",
            Self::GroupNameInvalid => "name_invalid",
        }
    }
}

/// A user's handle, as they typed it (case preserved).
///
/// Handles are unique case-insensitively: [`Handle::key`] is the form that
/// uniqueness and look-ups use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

impl Handle {
    /// Checks a handle; one leading `@` is allowed and dropped.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let handle = input.strip_prefix('@').unwrap_or(input);
        let valid = !handle.is_empty()
            && handle.len() <= HANDLE_MAX_CHARS
            && handle
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(handle.to_owned()))
        } else {
            Err(ValidationError::HandleInvalid)
        }
    }

    /// The handle as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Whether two handles name the same user.
    pub fn same_as(&self, other: &Handle) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Handle {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Handle> for String {
    fn from(value: Handle) -> Self {
        value.0
    }
}

/// A user's display name, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks and trims a display name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        let chars = name.chars().count();
        if (1..=DISPLAY_NAME_MAX_CHARS).contains(&chars) && !name.chars().any(char::is_control) {
            Ok(Self(name.to_owned()))
        } else {
            Err(ValidationError::DisplayNameInvalid)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DisplayName {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(value: DisplayName) -> Self {
        value.0
    }
}

/// A group conversation's name, trimmed: 1 to [`GROUP_NAME_MAX_CHARS`]
/// printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    /// Checks and trims a group's name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        match name.chars().count() {
            0 => Err(ValidationError::GroupNameBlank),
            n if n > GROUP_NAME_MAX_CHARS || name.chars().any(char::is_control) => {
                Err(ValidationError::GroupNameInvalid)
            }
            _ => Ok(Self(name.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GroupName {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<GroupName> for String {
    fn from(value: GroupName) -> Self {
        value.0
    }
}

/// The body of a message to send: 1 to [`MESSAGE_MAX_CHARS`] characters
/// (Unicode scalar values) once leading and trailing white space is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageText(String);

impl MessageText {
    /// Checks and trims a message body.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let text = input.trim();
        match text.chars().count() {
            0 => Err(ValidationError::MessageBlank),
            n if n > MESSAGE_MAX_CHARS => Err(ValidationError::MessageTooLong),
            _ => Ok(Self(text.to_owned())),
        }
    }

    /// The trimmed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trimmed text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_message(input: &str, expected: Result<&str, ValidationError>) {
        assert_eq!(
            MessageText::parse(input).as_ref().map(MessageText::as_str),
            expected.as_ref().map(|s| *s),
            "input {input:?}"
        );
    }

    #[test]
    fn message_rules() {
        check_message("hi", Ok("hi"));
        check_message("  hi \n", Ok("hi"));
        check_message("", Err(ValidationError::MessageBlank));
        check_message(" \t\n ", Err(ValidationError::MessageBlank));
        let max = "é".repeat(MESSAGE_MAX_CHARS);
        check_message(&max, Ok(&max));
        check_message(&format!("  {max}  "), Ok(&max));
        check_message(
            &"a".repeat(MESSAGE_MAX_CHARS + 1),
            Err(ValidationError::MessageTooLong),
        );
        // Characters, not bytes: 1024 four-byte emoji are fine.
        let emoji = "🦀".repeat(MESSAGE_MAX_CHARS);
        check_message(&emoji, Ok(&emoji));
    }

    #[test]
    fn handle_rules() {
        let ok = |s: &str, expected: &str| assert_eq!(Handle::parse(s).unwrap().as_str(), expected);
        ok("andrewbrown", "andrewbrown");
        ok("@Bayko", "Bayko");
        ok("a_1", "a_1");
        ok(&"x".repeat(HANDLE_MAX_CHARS), &"x".repeat(HANDLE_MAX_CHARS));
        for bad in [
            "",
            "@",
            "@@x",
            "a b",
            "a-b",
            "é",
            "a#b",
            &"x".repeat(HANDLE_MAX_CHARS + 1),
        ] {
            assert_eq!(
                Handle::parse(bad),
                Err(ValidationError::HandleInvalid),
                "{bad:?}"
            );
        }
        let h = Handle::parse("AndrewBrown").unwrap();
        assert_eq!(h.key(), "andrewbrown");
        assert!(h.same_as(&Handle::parse("andrewBROWN").unwrap()));
    }

    #[test]
    fn display_name_rules() {
        assert_eq!(
            DisplayName::parse("  Londo Mollari ").unwrap().as_str(),
            "Londo Mollari"
        );
        for bad in [
            "",
            "   ",
            "a\u{0}b",
            &"n".repeat(DISPLAY_NAME_MAX_CHARS + 1),
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(ValidationError::MessageBlank.code(), "message_blank");
        assert_eq!(ValidationError::MessageTooLong.code(), "message_too_long");
        assert_eq!(ValidationError::HandleInvalid.code(), "handle_invalid");
        assert_eq!(
            ValidationError::DisplayNameInvalid.code(),
            "display_name_invalid"
        );
    }
}
