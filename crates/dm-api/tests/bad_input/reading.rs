//! Reading: paths, queries, cursors.

use super::*;

pub(crate) fn cases(group: &str, foreign_group: &str, cursor: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    // Reading: paths, queries, cursors.
    let me = || Auth::As("andrewbrown");
    cases.push(get_case(
        "bad group in path",
        "/api/messages/nope".into(),
        me(),
        400,
        "message_group_uuid_invalid",
    ));
    cases.push(get_case(
        "unknown group in path",
        "/api/messages/00000000-0000-4000-8000-000000000000".into(),
        me(),
        404,
        "conversation_not_found",
    ));
    cases.push(get_case(
        "another pair's messages",
        format!("/api/messages/{foreign_group}"),
        me(),
        404,
        "conversation_not_found",
    ));
    cases.push(get_case(
        "limit zero",
        "/api/message_groups?limit=0".into(),
        me(),
        400,
        "limit_invalid",
    ));
    cases.push(get_case(
        "limit too large",
        "/api/message_groups?limit=101".into(),
        me(),
        400,
        "limit_invalid",
    ));
    cases.push(get_case(
        "limit not a number",
        "/api/message_groups?limit=ten".into(),
        me(),
        400,
        "limit_invalid",
    ));
    cases.push(get_case(
        "negative limit",
        format!("/api/messages/{group}?limit=-5"),
        me(),
        400,
        "limit_invalid",
    ));
    cases.push(get_case(
        "garbage cursor",
        "/api/message_groups?cursor=garbage".into(),
        me(),
        400,
        "cursor_invalid",
    ));
    let mut tampered: Vec<char> = cursor.chars().collect();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    cases.push(get_case(
        "tampered cursor",
        format!("/api/messages/{group}?cursor={tampered}"),
        me(),
        400,
        "cursor_invalid",
    ));
    cases.push(get_case(
        "cursor of another listing",
        format!("/api/message_groups?cursor={cursor}"),
        me(),
        400,
        "cursor_invalid",
    ));
    cases.push(get_case(
        "empty cursor",
        "/api/message_groups?cursor=".into(),
        me(),
        400,
        "cursor_invalid",
    ));
    cases.push(get_case(
        "oversize cursor",
        format!("/api/message_groups?cursor={}", "A".repeat(4000)),
        me(),
        400,
        "cursor_invalid",
    ));
    cases.push(get_case(
        "handle without @",
        "/api/users/bayko/short".into(),
        me(),
        400,
        "handle_invalid",
    ));
    cases.push(get_case(
        "malformed handle in path",
        "/api/users/@b%20k/short".into(),
        me(),
        400,
        "handle_invalid",
    ));
    cases.push(get_case(
        "unknown handle in path",
        "/api/users/@nobody/short".into(),
        me(),
        404,
        "user_not_found",
    ));
    cases.push(get_case(
        "unknown route",
        "/api/admin".into(),
        me(),
        404,
        "route_not_found",
    ));
    cases.push(Case {
        name: "wrong method".into(),
        method: "DELETE",
        path: "/api/messages".into(),
        auth: me(),
        content_type: None,
        body: Vec::new(),
        status: 404,
        code: "route_not_found",
    });

    cases
}
