//! Hostile and broken requests: every one gets a 4xx with the error JSON,
//! never a 5xx, and leaves the store exactly as it was (compared by scan).
//! The cases, by what they break: `sending` (bodies, fields, text, handles
//! and uuids), `reading` (paths, queries, cursors), `tokens`, `changes`
//! (edits and deletes), `groups` (named groups and their members).

#[path = "../common/mod.rs"]
mod common;

mod changes;
mod groups;
mod reading;
mod sending;
mod tokens;

pub(crate) use axum::{body::Body, http::Request};
pub(crate) use common::{TestApp, seeded};
pub(crate) use serde_json::{Value, json};

/// How a case authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    As(&'static str),
    Header(String),
    None,
}

pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) auth: Auth,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: Vec<u8>,
    pub(crate) status: u16,
    pub(crate) code: &'static str,
}

/// A JSON body posted to `/api/messages` as @andrewbrown.
pub(crate) fn json_case(name: &str, body: Value, status: u16, code: &'static str) -> Case {
    Case {
        name: name.to_owned(),
        method: "POST",
        path: "/api/messages".into(),
        auth: Auth::As("andrewbrown"),
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        code,
    }
}

/// Raw bytes posted to `/api/messages` as @andrewbrown.
pub(crate) fn raw_case(
    name: &str,
    content_type: Option<&'static str>,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name: name.to_owned(),
        method: "POST",
        path: "/api/messages".into(),
        auth: Auth::As("andrewbrown"),
        content_type,
        body: body.to_vec(),
        status,
        code,
    }
}

/// A GET of `path`.
pub(crate) fn get_case(
    name: &str,
    path: String,
    auth: Auth,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name: name.to_owned(),
        method: "GET",
        path,
        auth,
        content_type: None,
        body: Vec::new(),
        status,
        code,
    }
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

    // @andrewbrown's group with @bayko and @londo.
    let council = app
        .post(
            "/api/message_groups",
            "andrewbrown",
            json!({"name": "Council", "handles": ["bayko", "londo"]}),
        )
        .await;
    let council = council.json["uuid"].as_str().unwrap().to_owned();
    let mut cases = sending::cases(&group, &foreign_group);
    cases.extend(groups::cases(&council, &group, &foreign_group));
    cases.extend(reading::cases(&group, &foreign_group, &cursor));
    cases.extend(tokens::cases(dm_store::seed::USERS[0].sub));
    cases.extend(changes::cases(&app, &group, &foreign_group).await);
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
