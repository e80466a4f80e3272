//! Sending: malformed bodies; missing, extra and wrongly typed fields; the
//! message's text; handles and uuids.

use super::*;

#[expect(
    clippy::vec_init_then_push,
    reason = "the cases read one by one, each under its comment"
)]
pub(crate) fn cases(group: &str, foreign_group: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    // Malformed bodies.
    cases.push(raw_case(
        "malformed json",
        Some("application/json"),
        b"{\"message\": ",
        400,
        "json_malformed",
    ));
    cases.push(raw_case(
        "not json at all",
        Some("application/json"),
        b"hello",
        400,
        "json_malformed",
    ));
    cases.push(raw_case(
        "empty body",
        Some("application/json"),
        b"",
        400,
        "json_malformed",
    ));
    cases.push(raw_case(
        "json array",
        Some("application/json"),
        b"[1,2]",
        400,
        "body_not_an_object",
    ));
    cases.push(raw_case(
        "json string",
        Some("application/json"),
        b"\"hi\"",
        400,
        "body_not_an_object",
    ));
    cases.push(raw_case(
        "json null",
        Some("application/json"),
        b"null",
        400,
        "body_not_an_object",
    ));
    cases.push(raw_case(
        "invalid utf-8",
        Some("application/json"),
        b"{\"message\": \"\xff\xfe\"}",
        400,
        "json_malformed",
    ));
    cases.push(raw_case(
        "no content type",
        None,
        b"{\"message\":\"hi\",\"handle\":\"bayko\"}",
        415,
        "content_type_not_json",
    ));
    cases.push(raw_case(
        "form content type",
        Some("application/x-www-form-urlencoded"),
        b"message=hi",
        415,
        "content_type_not_json",
    ));
    cases.push(raw_case(
        "text content type",
        Some("text/plain"),
        b"{\"message\":\"hi\"}",
        415,
        "content_type_not_json",
    ));
    let huge = format!(
        "{{\"message\": \"{}\", \"handle\": \"bayko\"}}",
        "x".repeat(20_000)
    );
    cases.push(raw_case(
        "oversize body",
        Some("application/json"),
        huge.as_bytes(),
        413,
        "body_too_large",
    ));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    cases.push(raw_case(
        "deeply nested json",
        Some("application/json"),
        deep.as_bytes(),
        400,
        "json_malformed",
    ));

    // Missing, extra and wrongly typed fields.
    cases.push(json_case("empty object", json!({}), 422, "message_missing"));
    cases.push(json_case(
        "message only",
        json!({"message": "hi"}),
        422,
        "target_missing",
    ));
    cases.push(json_case(
        "target only",
        json!({"handle": "bayko"}),
        422,
        "message_missing",
    ));
    cases.push(json_case(
        "null message",
        json!({"message": null, "handle": "bayko"}),
        422,
        "message_missing",
    ));
    cases.push(json_case(
        "numeric message",
        json!({"message": 42, "handle": "bayko"}),
        422,
        "message_not_a_string",
    ));
    cases.push(json_case(
        "boolean message",
        json!({"message": true, "handle": "bayko"}),
        422,
        "message_not_a_string",
    ));
    cases.push(json_case(
        "array message",
        json!({"message": ["hi"], "handle": "bayko"}),
        422,
        "message_not_a_string",
    ));
    cases.push(json_case(
        "object message",
        json!({"message": {"text": "hi"}, "handle": "bayko"}),
        422,
        "message_not_a_string",
    ));
    cases.push(json_case(
        "extra field",
        json!({"message": "hi", "handle": "bayko", "admin": true}),
        422,
        "unknown_field",
    ));
    cases.push(json_case(
        "both targets",
        json!({"message": "hi", "handle": "bayko", "message_group_uuid": group}),
        422,
        "target_ambiguous",
    ));
    cases.push(json_case(
        "numeric handle",
        json!({"message": "hi", "handle": 7}),
        422,
        "handle_invalid",
    ));
    cases.push(json_case(
        "numeric group",
        json!({"message": "hi", "message_group_uuid": 7}),
        422,
        "message_group_uuid_invalid",
    ));

    // Message text.
    cases.push(json_case(
        "empty message",
        json!({"message": "", "handle": "bayko"}),
        422,
        "message_blank",
    ));
    cases.push(json_case(
        "whitespace message",
        json!({"message": " \n\t ", "handle": "bayko"}),
        422,
        "message_blank",
    ));
    cases.push(json_case(
        "unicode whitespace message",
        json!({"message": "\u{3000}\u{2003}", "handle": "bayko"}),
        422,
        "message_blank",
    ));
    cases.push(json_case(
        "1025 characters",
        json!({"message": "a".repeat(1025), "handle": "bayko"}),
        422,
        "message_too_long",
    ));
    cases.push(json_case(
        "1025 multi-byte characters",
        json!({"message": "é".repeat(1025), "handle": "bayko"}),
        422,
        "message_too_long",
    ));
    cases.push(json_case(
        "1025 emoji",
        json!({"message": "🦀".repeat(1025), "handle": "bayko"}),
        422,
        "message_too_long",
    ));
    cases.push(json_case(
        "too long and no target",
        json!({"message": "a".repeat(2000)}),
        422,
        "message_too_long",
    ));

    // Handles and uuids.
    cases.push(json_case(
        "malformed handle",
        json!({"message": "hi", "handle": "bay ko"}),
        422,
        "handle_invalid",
    ));
    cases.push(json_case(
        "handle with markup",
        json!({"message": "hi", "handle": "<script>"}),
        422,
        "handle_invalid",
    ));
    cases.push(json_case(
        "overlong handle",
        json!({"message": "hi", "handle": "h".repeat(100)}),
        422,
        "handle_invalid",
    ));
    cases.push(json_case(
        "unknown handle",
        json!({"message": "hi", "handle": "nobody"}),
        404,
        "user_not_found",
    ));
    cases.push(json_case(
        "messaging oneself",
        json!({"message": "hi", "handle": "andrewbrown"}),
        422,
        "self_conversation",
    ));
    cases.push(json_case(
        "messaging oneself in another case",
        json!({"message": "hi", "handle": "@AndrewBrown"}),
        422,
        "self_conversation",
    ));
    cases.push(json_case(
        "malformed group uuid",
        json!({"message": "hi", "message_group_uuid": "not-a-uuid"}),
        422,
        "message_group_uuid_invalid",
    ));
    cases.push(json_case(
        "truncated group uuid",
        json!({"message": "hi", "message_group_uuid": &group[..35]}),
        422,
        "message_group_uuid_invalid",
    ));
    cases.push(json_case(
        "unknown group",
        json!({"message": "hi", "message_group_uuid": "00000000-0000-4000-8000-000000000000"}),
        404,
        "conversation_not_found",
    ));
    cases.push(json_case(
        "another pair's conversation",
        json!({"message": "hi", "message_group_uuid": foreign_group}),
        404,
        "conversation_not_found",
    ));

    // A conversation named by the other member's handle, broken.
    for (name, target) in [
        ("an empty handle as the conversation", "@"),
        ("a handle with a space as the conversation", "@no way"),
        ("two @ as the conversation", "@@bayko"),
    ] {
        cases.push(json_case(
            name,
            json!({"message": "hi", "message_group_uuid": target}),
            422,
            "handle_invalid",
        ));
    }
    cases
}
