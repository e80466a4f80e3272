//! `cargo xtask users` as a user runs it: `import` from a real PostgreSQL
//! holding Cruddur's week-4 `users` table (started by the test), `add` and
//! `list`, against DynamoDB Local. Imports keep Cruddur's uuids, are safe to
//! re-run, and report what they imported, skipped and could not import.

mod common;

use std::process::Command;

use common::{last_line as summary, xtask};

use dm_domain::{Handle, UserId};
use dm_local::postgres::Postgres;
use dm_store::Repository;

/// Cruddur's `db/seed.sql` users (both `MOCK`), a real sign-up, and a handle
/// this project cannot take.
const SEED: &str = r#"
INSERT INTO public.users (display_name, handle, email, cognito_user_id)
VALUES
  ('Andrew Brown', 'andrewbrown', 'andrew@exampro.co', 'MOCK'),
  ('Andrew Bayko', 'bayko', 'bayko@exampro.co', 'MOCK'),
  ('Vir Cotto', 'vircotto', 'vir@example.com', '7c2b7e5a-3f0e-4f6a-9f3e-2d6a1c1b9e11'),
  ('Bad Handle', 'bad.handle', 'bad@example.com', 'e0a2a0c4-1111-4222-8333-944455556666');
"#;

async fn sql(url: &str, statements: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.batch_execute(statements).await.unwrap();
    client
        .query(
            "SELECT uuid::text, handle FROM public.users ORDER BY handle",
            &[],
        )
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keeps_cruddurs_uuids_and_is_safe_to_rerun() {
    let postgres = Postgres::start().unwrap();
    let (admin, connection) =
        tokio_postgres::connect(&postgres.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute("CREATE DATABASE cruddur")
        .await
        .unwrap();
    let url = postgres.url("cruddur");
    let rows = sql(&url, &format!("{}{SEED}", common::CRUDDUR_USERS_SCHEMA)).await;
    assert_eq!(rows.len(), 4);

    let repo = dm_store::testing::fresh_table().await;
    let endpoint = dm_local::shared();
    let table = repo.table().to_owned();
    let import = ["users", "import", "--postgres-url", &url];

    let first = xtask(endpoint, &table, &import);
    assert_eq!(
        summary(&first),
        "4 users read: 3 imported, 0 skipped as already present, 0 in conflict, 1 invalid"
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("@bad.handle: handle"), "{stderr}");
    assert!(
        stderr.contains(r#"Cognito subject "MOCK" is shared"#),
        "{stderr}"
    );
    for row in &rows {
        let (uuid, handle): (String, String) = (row.get(0), row.get(1));
        let Ok(handle) = Handle::parse(&handle) else {
            continue;
        };
        let user = repo.user_by_handle(&handle).await.unwrap();
        assert_eq!(
            user.uuid,
            uuid.parse::<UserId>().unwrap(),
            "Cruddur's uuid kept"
        );
    }
    let vir = repo
        .user_by_cognito_sub("7c2b7e5a-3f0e-4f6a-9f3e-2d6a1c1b9e11")
        .await
        .unwrap();
    assert_eq!(vir.display_name.as_str(), "Vir Cotto");
    assert_eq!(
        repo.user_by_handle(&Handle::parse("bayko").unwrap())
            .await
            .unwrap()
            .cognito_user_id,
        None,
        "the shared MOCK subject names nobody"
    );

    // Again: nothing new.
    let again = xtask(endpoint, &table, &import);
    assert_eq!(
        summary(&again),
        "4 users read: 0 imported, 3 skipped as already present, 0 in conflict, 1 invalid"
    );

    // Someone took @londo here before Cruddur's Londo is imported: a conflict, left alone.
    let added = xtask(
        endpoint,
        &table,
        &["users", "add", "@londo", "Londo of here"],
    );
    assert!(summary(&added).starts_with("created @londo (Londo of here, uuid "));
    let same = xtask(
        endpoint,
        &table,
        &["users", "add", "@londo", "Londo of here"],
    );
    assert!(
        !same.status.success(),
        "a second @londo with a new uuid is refused"
    );
    sql(
        &url,
        "INSERT INTO public.users (display_name, handle, email, cognito_user_id) \
         VALUES ('Londo Mollari', 'Londo', 'londo@example.com', 'f1f2f3f4-aaaa-4bbb-8ccc-ddddeeeeffff');",
    )
    .await;
    let third = xtask(endpoint, &table, &import);
    assert_eq!(
        summary(&third),
        "5 users read: 0 imported, 3 skipped as already present, 1 in conflict, 1 invalid"
    );
    assert!(String::from_utf8_lossy(&third.stderr).contains("@Londo: the handle @Londo is taken"));
    let londo = repo
        .user_by_handle(&Handle::parse("londo").unwrap())
        .await
        .unwrap();
    assert_eq!(
        londo.display_name.as_str(),
        "Londo of here",
        "not overwritten"
    );

    // `users add` with Cruddur's fields, then `users list`.
    let added = xtask(
        endpoint,
        &table,
        &[
            "users",
            "add",
            "@gkar",
            "G'Kar",
            "--cognito-sub",
            "0a0b0c0d-1111-4222-8333-444455556666",
            "--uuid",
            "9d3cfb2c-8a53-4d1b-9c2e-6f0e1f6c1a11",
        ],
    );
    assert_eq!(
        summary(&added),
        "created @gkar (G'Kar, uuid 9d3cfb2c-8a53-4d1b-9c2e-6f0e1f6c1a11, Cognito 0a0b0c0d-1111-4222-8333-444455556666)"
    );
    let bad = xtask(
        endpoint,
        &table,
        &["users", "add", "@no way", "X", "--uuid", "nope"],
    );
    assert!(!bad.status.success());
    let why = String::from_utf8_lossy(&bad.stderr);
    assert!(why.contains("handle") && why.contains("uuid"), "{why}");

    let list = xtask(endpoint, &table, &["users", "list", "--json"]);
    assert!(list.status.success());
    let handles: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["handle"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        handles,
        ["andrewbrown", "bayko", "gkar", "londo", "vircotto"]
    );
}

#[test]
fn import_from_an_unreachable_postgres_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "users",
            "import",
            "--postgres-url",
            "postgresql://postgres@127.0.0.1:1/cruddur",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connecting to Cruddur's Postgres"),
        "{stderr}"
    );
}
