//! Named groups: making one, renaming it, adding and removing members, by
//! the wrong person, on the wrong conversation, with broken bodies.

use super::*;

/// A request with a JSON (or raw) body.
fn call(
    name: &str,
    method: &'static str,
    path: String,
    who: &'static str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name: name.to_owned(),
        method,
        path,
        auth: Auth::As(who),
        content_type: (!body.is_empty()).then_some("application/json"),
        body: body.as_bytes().to_vec(),
        status,
        code,
    }
}

/// The cases, on @andrewbrown's group `council` (with @bayko and @londo),
/// his one-to-one conversation `direct`, and `foreign`, which he is not in.
pub(crate) fn cases(council: &str, direct: &str, foreign: &str) -> Vec<Case> {
    let create = |name: &str, body: &str, status: u16, code: &'static str| {
        call(
            name,
            "POST",
            "/api/message_groups".into(),
            "andrewbrown",
            body,
            status,
            code,
        )
    };
    let group = |uuid: &str| format!("/api/message_groups/{uuid}");
    let members = |uuid: &str| format!("/api/message_groups/{uuid}/members");
    let member = |uuid: &str, handle: &str| format!("/api/message_groups/{uuid}/members/{handle}");
    let mut cases = vec![
        create(
            "a blank name",
            r#"{"name": " ", "handles": ["bayko", "londo"]}"#,
            422,
            "name_blank",
        ),
        create(
            "a name of 101",
            &format!(
                r#"{{"name": "{}", "handles": ["bayko", "londo"]}}"#,
                "n".repeat(101)
            ),
            422,
            "name_invalid",
        ),
        create(
            "a name that is a number",
            r#"{"name": 5, "handles": ["bayko", "londo"]}"#,
            422,
            "name_not_a_string",
        ),
        create(
            "no name",
            r#"{"handles": ["bayko", "londo"]}"#,
            422,
            "name_missing",
        ),
        create("no handles", r#"{"name": "x"}"#, 422, "handles_missing"),
        create(
            "handles not a list",
            r#"{"name": "x", "handles": "bayko"}"#,
            422,
            "handles_not_a_list",
        ),
        create(
            "no members",
            r#"{"name": "x", "handles": []}"#,
            422,
            "handles_empty",
        ),
        create(
            "one other",
            r#"{"name": "x", "handles": ["bayko"]}"#,
            422,
            "too_few_members",
        ),
        create(
            "unknown handles",
            r#"{"name": "x", "handles": ["bayko", "ghost", "nobody"]}"#,
            422,
            "handle_unknown",
        ),
        create(
            "oneself among them",
            r#"{"name": "x", "handles": ["bayko", "AndrewBrown"]}"#,
            422,
            "self_among_members",
        ),
        create(
            "a duplicate",
            r#"{"name": "x", "handles": ["bayko", "@BAYKO"]}"#,
            422,
            "duplicate_members",
        ),
        create(
            "a broken handle",
            r#"{"name": "x", "handles": ["bayko", "no such"]}"#,
            422,
            "handle_invalid",
        ),
        create(
            "an unknown field",
            r#"{"name": "x", "handles": ["bayko", "londo"], "x": 1}"#,
            422,
            "unknown_field",
        ),
        create("not JSON", "name=x", 400, "json_malformed"),
        call(
            "rename, not the owner",
            "PATCH",
            group(council),
            "bayko",
            r#"{"name": "mine"}"#,
            403,
            "not_owner",
        ),
        call(
            "rename to blank",
            "PATCH",
            group(council),
            "andrewbrown",
            r#"{"name": ""}"#,
            422,
            "name_blank",
        ),
        call(
            "rename a one-to-one conversation",
            "PATCH",
            group(direct),
            "andrewbrown",
            r#"{"name": "x"}"#,
            422,
            "not_a_group",
        ),
        call(
            "rename someone else's conversation",
            "PATCH",
            group(foreign),
            "andrewbrown",
            r#"{"name": "x"}"#,
            404,
            "conversation_not_found",
        ),
        call(
            "rename a broken uuid",
            "PATCH",
            group("not-a-uuid"),
            "andrewbrown",
            r#"{"name": "x"}"#,
            400,
            "message_group_uuid_invalid",
        ),
        call(
            "add, not the owner",
            "POST",
            members(council),
            "bayko",
            r#"{"handles": ["andrewbrown"]}"#,
            403,
            "not_owner",
        ),
        call(
            "add a member",
            "POST",
            members(council),
            "andrewbrown",
            r#"{"handles": ["londo"]}"#,
            422,
            "already_member",
        ),
        call(
            "add an unknown handle",
            "POST",
            members(council),
            "andrewbrown",
            r#"{"handles": ["ghost"]}"#,
            422,
            "handle_unknown",
        ),
        call(
            "add nobody",
            "POST",
            members(council),
            "andrewbrown",
            r#"{"handles": []}"#,
            422,
            "handles_empty",
        ),
        call(
            "add to a one-to-one conversation",
            "POST",
            members(direct),
            "andrewbrown",
            r#"{"handles": ["londo"]}"#,
            422,
            "not_a_group",
        ),
        call(
            "add to someone else's conversation",
            "POST",
            members(foreign),
            "andrewbrown",
            r#"{"handles": ["andrewbrown"]}"#,
            404,
            "conversation_not_found",
        ),
        call(
            "remove, not the owner",
            "DELETE",
            member(council, "@londo"),
            "bayko",
            "",
            403,
            "not_owner",
        ),
        call(
            "remove a stranger",
            "DELETE",
            member(council, "@ghost"),
            "andrewbrown",
            "",
            404,
            "member_not_found",
        ),
        call(
            "remove without the @",
            "DELETE",
            member(council, "londo"),
            "andrewbrown",
            "",
            400,
            "handle_invalid",
        ),
        call(
            "remove from a one-to-one conversation",
            "DELETE",
            member(direct, "@bayko"),
            "andrewbrown",
            "",
            422,
            "not_a_group",
        ),
        call(
            "remove from someone else's conversation",
            "DELETE",
            member(foreign, "@bayko"),
            "andrewbrown",
            "",
            404,
            "conversation_not_found",
        ),
    ];
    cases.push(Case {
        auth: Auth::None,
        ..call(
            "make one without a token",
            "POST",
            "/api/message_groups".into(),
            "andrewbrown",
            r#"{"name": "x", "handles": ["bayko", "londo"]}"#,
            401,
            "token_missing",
        )
    });
    cases
}
