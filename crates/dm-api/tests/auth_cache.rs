//! The token's user is remembered: a steady client's requests read nothing
//! for auth, and an unknown subject is never remembered.

mod common;

use axum::http::StatusCode;
use dm_domain::{DisplayName, Handle, NewUser, UserId};
use dm_store::Repository;

/// The read units a request cost, as AWS bills them.
async fn reads_of(app: &common::TestApp, path: &str, handle: &str) -> f64 {
    let before = app.repo.capacity().billed.read;
    let reply = app.get(path, handle).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    app.repo.capacity().billed.read - before
}

#[tokio::test]
async fn a_steady_client_reads_nothing_for_auth() {
    let app = common::seeded().await;
    let first = reads_of(&app, "/api/message_groups", "andrewbrown").await;
    let again = reads_of(&app, "/api/message_groups", "andrewbrown").await;
    assert_eq!(
        first - again,
        2.0,
        "the first request reads the Cognito claim and the user (1 unit each); later ones neither"
    );
    // Another user's first request reads their own.
    let other = reads_of(&app, "/api/message_groups", "bayko").await;
    assert_eq!(other - again, 2.0);
}

#[tokio::test]
async fn an_unknown_subject_is_not_remembered() {
    let app = common::seeded().await;
    let token = app.verifier.mint("a-new-sub").unwrap();
    let request = || {
        axum::http::Request::get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let refused = app.send(request()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["errors"][0], "user_unknown");
    // Provisioned now (as the Cognito trigger does): the same token works at once.
    app.repo
        .create_user(NewUser {
            uuid: UserId::new(),
            handle: Handle::parse("newcomer").unwrap(),
            display_name: DisplayName::parse("New Comer").unwrap(),
            cognito_user_id: Some("a-new-sub".into()),
        })
        .await
        .unwrap();
    let welcomed = app.send(request()).await;
    assert_eq!(welcomed.status, StatusCode::OK, "{}", welcomed.json);
    assert_eq!(welcomed.json["handle"], "newcomer");
}
