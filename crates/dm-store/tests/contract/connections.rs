//! Live connections (G).

use super::support::*;

async fn live_connections_are_kept_per_user_until_they_expire(backend: Store) {
    use dm_domain::Connection;
    let repo = backend.repo();
    let (a, b) = (UserId::new(), UserId::new());
    let connection = |user, id: &str, expires_at| Connection {
        user,
        id: id.into(),
        expires_at,
    };
    for c in [
        connection(a, "tab-1", 2_000),
        connection(a, "tab-2", 1_000),
        connection(b, "phone", 2_000),
    ] {
        repo.add_connection(&c).await.unwrap();
    }
    let ids = |found: Vec<Connection>| {
        let mut ids: Vec<String> = found.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(repo.connections(a, 500).await.unwrap()),
        ["tab-1", "tab-2"]
    );
    // Expired is absent, whether or not the TTL has deleted it yet.
    assert_eq!(ids(repo.connections(a, 1_000).await.unwrap()), ["tab-1"]);
    assert_eq!(ids(repo.connections(b, 500).await.unwrap()), ["phone"]);
    // Re-adding refreshes; removing forgets; removing twice is fine.
    repo.add_connection(&connection(a, "tab-2", 3_000))
        .await
        .unwrap();
    assert_eq!(ids(repo.connections(a, 2_500).await.unwrap()), ["tab-2"]);
    repo.remove_connection(a, "tab-2").await.unwrap();
    repo.remove_connection(a, "tab-2").await.unwrap();
    assert!(repo.connections(a, 2_500).await.unwrap().is_empty());
    // Another user's connection of the same id is theirs.
    repo.remove_connection(a, "phone").await.unwrap();
    assert_eq!(ids(repo.connections(b, 500).await.unwrap()), ["phone"]);
}

dm_store::on_both_backends!(
    setup = Store::new;
    live_connections_are_kept_per_user_until_they_expire,
);
