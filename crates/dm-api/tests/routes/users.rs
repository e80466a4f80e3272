//! `GET /api/users/@{handle}/short`, with a token and without.

use super::*;

#[tokio::test]
async fn user_short_finds_users_by_handle_in_any_case() {
    let app = seeded().await;
    let reply = app.get("/api/users/@BAYKO/short", "andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["handle"], "bayko");
    assert_eq!(reply.json["display_name"], "Andrew Bayko");
    assert_eq!(
        reply.json["uuid"],
        dm_store::seed::USERS[1].uuid.to_string()
    );
    assert_eq!(
        app.get("/api/users/@nobody/short", "andrewbrown")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn user_short_without_a_token_is_public_but_shows_only_handle_and_name() {
    let app = seeded().await;
    let anonymous = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    // As the week-5 frontend asks it: no Authorization header.
    let reply = app.send(anonymous("/api/users/@bayko/short")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        serde_json::json!({"handle": "bayko", "display_name": "Andrew Bayko"})
    );
    let unknown = app.send(anonymous("/api/users/@nobody/short")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["errors"][0], "user_not_found");
    // A token that is there is checked, never ignored.
    let bad = app
        .send(
            Request::get("/api/users/@bayko/short")
                .header("authorization", "Bearer not.a.token")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Everything else still needs a token.
    for path in ["/api/message_groups", "/api/me"] {
        assert_eq!(
            app.send(anonymous(path)).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}
