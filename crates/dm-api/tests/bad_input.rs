//! Hostile and broken requests: every one gets a 4xx with the error JSON,
//! never a 5xx, and leaves the store exactly as it was (compared by scan).

mod common;

use axum::{body::Body, http::Request};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{KEY, TestApp, seeded};
use dm_api::auth::{Claims, LOCAL_ISSUER};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// How a case authenticates.
#[derive(Clone)]
enum Auth {
    As(&'static str),
    Header(String),
    None,
}

struct Case {
    name: String,
    method: &'static str,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        token_use: Some("access".into()),
        client_id: Some(LOCAL_ISSUER.into()),
        iss: LOCAL_ISSUER.into(),
        exp: now() + 600,
        iat: Some(now()),
        nbf: None,
    }
}

fn signed(claims: &Claims, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

fn bearer(token: String) -> Auth {
    Auth::Header(format!("Bearer {token}"))
}

/// The token cases: each a way a token can be wrong.
fn token_cases(andrew_sub: &str) -> Vec<(&'static str, Auth, &'static str)> {
    let good = claims(andrew_sub);
    let mut expired = good.clone();
    expired.exp = now() - 3600;
    let mut issuer = good.clone();
    issuer.iss = "https://evil.example".into();
    let mut id_token = good.clone();
    id_token.token_use = Some("id".into());
    let mut client = good.clone();
    client.client_id = Some("another-client".into());
    let mut early = good.clone();
    early.nbf = Some(now() + 600);
    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
        format!("{header}.{body}.")
    };
    let tampered = {
        let token = signed(&good, KEY);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut other = good.clone();
        other.sub = dm_store::seed::USERS[2].sub.into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        parts.join(".")
    };
    vec![
        ("no authorization header", Auth::None, "token_missing"),
        (
            "empty bearer",
            Auth::Header("Bearer ".into()),
            "token_missing",
        ),
        (
            "basic scheme",
            Auth::Header("Basic YW5kcmV3OnB3".into()),
            "token_missing",
        ),
        ("garbage token", bearer("not.a.jwt".into()), "token_invalid"),
        (
            "expired token",
            bearer(signed(&expired, KEY)),
            "token_invalid",
        ),
        (
            "forged with another key",
            bearer(signed(&good, b"someone else's key")),
            "token_invalid",
        ),
        ("alg none", bearer(none_alg), "token_invalid"),
        ("tampered payload", bearer(tampered), "token_invalid"),
        (
            "wrong issuer",
            bearer(signed(&issuer, KEY)),
            "token_invalid",
        ),
        (
            "id token, not access",
            bearer(signed(&id_token, KEY)),
            "token_invalid",
        ),
        (
            "another client",
            bearer(signed(&client, KEY)),
            "token_invalid",
        ),
        (
            "valid token of no user",
            bearer(signed(&claims("no-such-subject"), KEY)),
            "user_unknown",
        ),
    ]
}

fn cases(group: &str, foreign_group: &str, cursor: &str, andrew_sub: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let json_case = |name: &str, body: Value, status: u16, code: &'static str| Case {
        name: name.to_owned(),
        method: "POST",
        path: "/api/messages".into(),
        auth: Auth::As("andrewbrown"),
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        code,
    };
    let raw_case = |name: &str,
                    content_type: Option<&'static str>,
                    body: &[u8],
                    status: u16,
                    code: &'static str| Case {
        name: name.to_owned(),
        method: "POST",
        path: "/api/messages".into(),
        auth: Auth::As("andrewbrown"),
        content_type,
        body: body.to_vec(),
        status,
        code,
    };
    let get_case = |name: &str, path: String, auth: Auth, status: u16, code: &'static str| Case {
        name: name.to_owned(),
        method: "GET",
        path,
        auth,
        content_type: None,
        body: Vec::new(),
        status,
        code,
    };

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

    // Tokens, on a read and on a write.
    for (name, auth, code) in token_cases(andrew_sub) {
        cases.push(get_case(
            &format!("{name} (read)"),
            "/api/message_groups".into(),
            auth.clone(),
            401,
            code,
        ));
        let mut write = json_case(
            &format!("{name} (write)"),
            json!({"message": "hi", "handle": "bayko"}),
            401,
            code,
        );
        write.auth = auth;
        cases.push(write);
    }
    cases
}

async fn run(app: &TestApp, case: &Case) -> (u16, Value) {
    let mut request = Request::builder().method(case.method).uri(&case.path);
    match &case.auth {
        Auth::As(handle) => {
            request = request.header("authorization", format!("Bearer {}", app.token(handle)))
        }
        Auth::Header(value) => request = request.header("authorization", value),
        Auth::None => {}
    }
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    let reply = app
        .send(request.body(Body::from(case.body.clone())).unwrap())
        .await;
    (reply.status.as_u16(), reply.json)
}

#[tokio::test]
async fn every_bad_request_is_a_4xx_with_codes_and_changes_nothing() {
    let app = seeded().await;
    let group = app.get("/api/message_groups", "andrewbrown").await.json[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // A conversation between @bayko and @londo, which @andrewbrown is not in.
    let foreign = app
        .post(
            "/api/messages",
            "bayko",
            json!({"message": "psst", "handle": "londo"}),
        )
        .await;
    let foreign_group = foreign.json["message_group_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = app
        .get(&format!("/api/messages/{group}?limit=5"), "andrewbrown")
        .await;
    let link = common::next_link(&page.headers).unwrap();
    let cursor = link.split("cursor=").nth(1).unwrap().to_owned();

    let mut cases = cases(
        &group,
        &foreign_group,
        &cursor,
        dm_store::seed::USERS[0].sub,
    );
    // Edits and deletes: of someone else's message, elsewhere, malformed.
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
    cases.extend([
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
    ]);
    assert!(cases.len() >= 70, "{} cases", cases.len());
    let before = app.repo.scan();
    let mut failures = Vec::new();
    for case in &cases {
        let (status, body) = run(&app, case).await;
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if status != case.status || !codes.contains(&case.code) || !(400..500).contains(&status) {
            failures.push(format!(
                "{}: got {status} {body}, expected {} with {}",
                case.name, case.status, case.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(app.repo.scan(), before, "no bad request changed the store");
    println!(
        "{} bad requests: every one a 4xx with its code; the store unchanged",
        cases.len()
    );
}
