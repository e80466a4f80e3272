//! The bodies of the named groups' routes: `POST /api/message_groups`
//! (`{"name", "handles"}`), `PATCH /api/message_groups/{uuid}` (`{"name"}`)
//! and `POST /api/message_groups/{uuid}/members` (`{"handles"}`), each
//! checked with every failure listed.

use dm_domain::{GroupName, Handle, MAX_MEMBERS};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The body of `POST /api/message_groups`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewGroupIn {
    /// 1 to 100 characters after trimming.
    pub name: String,
    /// The other members' handles (with or without `@`): 2 to 99, each once,
    /// not the caller's own.
    pub handles: Vec<String>,
}

/// The body of `PATCH /api/message_groups/{uuid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenameIn {
    /// 1 to 100 characters after trimming.
    pub name: String,
}

/// The body of `POST /api/message_groups/{uuid}/members`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddMembersIn {
    /// The handles of the users to add (with or without `@`), each once.
    pub handles: Vec<String>,
}

/// Checks `POST /api/message_groups`' body: the name, and the other members'
/// handles, 2 to 99 of them, each once.
pub fn new_group(body: &Map<String, Value>) -> Result<(GroupName, Vec<Handle>), ApiError> {
    let mut errors = unknown_fields(body, &["name", "handles"]);
    let name = name_field(body, &mut errors);
    let handles = handles_field(body, &mut errors);
    if let Some(handles) = &handles {
        if handles.len() < 2 {
            errors.push("too_few_members".into());
        } else if handles.len() >= MAX_MEMBERS {
            errors.push("too_many_members".into());
        }
    }
    match (name, handles) {
        (Some(name), Some(handles)) if errors.is_empty() => Ok((name, handles)),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// Checks `PATCH /api/message_groups/{uuid}`' body: `{"name"}`.
pub fn rename(body: &Map<String, Value>) -> Result<GroupName, ApiError> {
    let mut errors = unknown_fields(body, &["name"]);
    match name_field(body, &mut errors) {
        Some(name) if errors.is_empty() => Ok(name),
        _ => Err(ApiError::Invalid(errors)),
    }
}

/// Checks `POST /api/message_groups/{uuid}/members`' body: `{"handles"}`,
/// at least one, each once.
pub fn add_members(body: &Map<String, Value>) -> Result<Vec<Handle>, ApiError> {
    let mut errors = unknown_fields(body, &["handles"]);
    match handles_field(body, &mut errors) {
        Some(handles) if errors.is_empty() => Ok(handles),
        _ => Err(ApiError::Invalid(errors)),
    }
}

fn unknown_fields(body: &Map<String, Value>, known: &[&str]) -> Vec<String> {
    if body.keys().any(|key| !known.contains(&key.as_str())) {
        vec!["unknown_field".to_owned()]
    } else {
        Vec::new()
    }
}

fn name_field(body: &Map<String, Value>, errors: &mut Vec<String>) -> Option<GroupName> {
    match body.get("name") {
        None | Some(Value::Null) => {
            errors.push("name_missing".into());
            None
        }
        Some(Value::String(s)) => GroupName::parse(s)
            .map_err(|e| errors.push(e.code().into()))
            .ok(),
        Some(_) => {
            errors.push("name_not_a_string".into());
            None
        }
    }
}

/// A non-empty list of distinct handles (compared as handles are, case
/// aside).
fn handles_field(body: &Map<String, Value>, errors: &mut Vec<String>) -> Option<Vec<Handle>> {
    let list = match body.get("handles") {
        None | Some(Value::Null) => {
            errors.push("handles_missing".into());
            return None;
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push("handles_not_a_list".into());
            return None;
        }
    };
    if list.is_empty() {
        errors.push("handles_empty".into());
        return None;
    }
    let mut handles: Vec<Handle> = Vec::with_capacity(list.len());
    let mut invalid = false;
    for value in list {
        match value.as_str().map(Handle::parse) {
            Some(Ok(handle)) => handles.push(handle),
            _ => invalid = true,
        }
    }
    if invalid {
        errors.push("handle_invalid".into());
        return None;
    }
    let mut keys: Vec<String> = handles.iter().map(Handle::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        errors.push("duplicate_members".into());
        return None;
    }
    Some(handles)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(body: Value) -> Vec<String> {
        let Value::Object(map) = body else {
            panic!("not an object")
        };
        match new_group(&map) {
            Ok(_) => Vec::new(),
            Err(ApiError::Invalid(codes)) => codes,
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_groups_body_is_checked_whole() {
        assert!(codes(json!({"name": "Council", "handles": ["@a", "b"]})).is_empty());
        assert_eq!(codes(json!({})), ["name_missing", "handles_missing"]);
        assert_eq!(
            codes(json!({"name": "  ", "handles": [], "x": 1})),
            ["unknown_field", "name_blank", "handles_empty"]
        );
        assert_eq!(
            codes(json!({"name": "n".repeat(101), "handles": ["a"]})),
            ["name_invalid", "too_few_members"]
        );
        assert_eq!(
            codes(json!({"name": 5, "handles": "a"})),
            ["name_not_a_string", "handles_not_a_list"]
        );
        assert_eq!(
            codes(json!({"name": "n", "handles": ["a", "bad handle", 3]})),
            ["handle_invalid"]
        );
        assert_eq!(
            codes(json!({"name": "n", "handles": ["Bob", "@bob"]})),
            ["duplicate_members"]
        );
        let many: Vec<String> = (0..99).map(|i| format!("u{i}")).collect();
        assert!(codes(json!({"name": "n", "handles": many})).is_empty());
        let too_many: Vec<String> = (0..100).map(|i| format!("u{i}")).collect();
        assert_eq!(
            codes(json!({"name": "n", "handles": too_many})),
            ["too_many_members"]
        );
    }
}
