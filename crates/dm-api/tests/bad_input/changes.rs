//! Edits and deletes: of someone else's message, elsewhere, malformed.

use super::*;

/// The cases, on @andrewbrown's conversation `group` (and `foreign_group`,
/// which he is not in).
pub(crate) async fn cases(app: &TestApp, group: &str, foreign_group: &str) -> Vec<Case> {
    let messages = app
        .get(&format!("/api/messages/{group}?limit=100"), "andrewbrown")
        .await
        .json;
    let by = |handle: &str| {
        messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["handle"] == handle)
            .map(|m| m["uuid"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (mine, theirs) = (by("andrewbrown"), by("bayko"));
    let change = |name: &str,
                  method: &'static str,
                  path: String,
                  auth: Auth,
                  content_type: Option<&'static str>,
                  body: &str,
                  status: u16,
                  code: &'static str| Case {
        name: name.to_owned(),
        method,
        path,
        auth,
        content_type,
        body: body.as_bytes().to_vec(),
        status,
        code,
    };
    let json = Some("application/json");
    let edit = r#"{"message": "edited"}"#;
    let at = |uuid: &str| format!("/api/messages/{group}/{uuid}");
    vec![
        change(
            "edit someone else's message",
            "PATCH",
            at(&theirs),
            Auth::As("andrewbrown"),
            json,
            edit,
            404,
            "message_not_found",
        ),
        change(
            "delete someone else's message",
            "DELETE",
            at(&theirs),
            Auth::As("andrewbrown"),
            None,
            "",
            404,
            "message_not_found",
        ),
        change(
            "edit in a conversation one is not in",
            "PATCH",
            format!("/api/messages/{foreign_group}/{mine}"),
            Auth::As("andrewbrown"),
            json,
            edit,
            404,
            "conversation_not_found",
        ),
        change(
            "delete as a stranger",
            "DELETE",
            at(&mine),
            Auth::As("londo"),
            None,
            "",
            404,
            "conversation_not_found",
        ),
        change(
            "edit to nothing",
            "PATCH",
            at(&mine),
            Auth::As("andrewbrown"),
            json,
            r#"{"message": " "}"#,
            422,
            "message_blank",
        ),
        change(
            "edit with an unknown field",
            "PATCH",
            at(&mine),
            Auth::As("andrewbrown"),
            json,
            r#"{"message": "x", "deleted": true}"#,
            422,
            "unknown_field",
        ),
        change(
            "edit not as JSON",
            "PATCH",
            at(&mine),
            Auth::As("andrewbrown"),
            Some("text/plain"),
            "edited",
            415,
            "content_type_not_json",
        ),
        change(
            "edit with a bad created_at",
            "PATCH",
            format!("{}?created_at=soon", at(&mine)),
            Auth::As("andrewbrown"),
            json,
            edit,
            400,
            "created_at_invalid",
        ),
        change(
            "delete a bad message uuid",
            "DELETE",
            at("nope"),
            Auth::As("andrewbrown"),
            None,
            "",
            400,
            "message_uuid_invalid",
        ),
        change(
            "delete without a token",
            "DELETE",
            at(&mine),
            Auth::None,
            None,
            "",
            401,
            "token_missing",
        ),
    ]
}
