//! `cargo xtask users import` from a PostgreSQL that refuses plain
//! connections, as RDS for PostgreSQL 15 does (`rds.force_ssl`): a server
//! with a certificate this test makes with `openssl`, TLS-only over TCP.
//! Plain is refused with the server's reason; `sslmode=require` encrypts;
//! `verify-full` with `sslrootcert` checks the chain and the name, and
//! `verify-ca` the chain only.

mod common;

use std::{path::Path, process::Output};

use common::{ca, last_line, server};

use dm_local::postgres::Postgres;

/// Two of Cruddur's users.
const USERS: &str = r#"
INSERT INTO public.users (display_name, handle, email, cognito_user_id)
VALUES
  ('Vir Cotto', 'vircotto', 'vir@example.com', '7c2b7e5a-3f0e-4f6a-9f3e-2d6a1c1b9e11'),
  ('Na Toth', 'natoth', 'na@example.com', '8d3c8f6b-4a1f-4a7b-8a4f-3e7b2d2cae22');
"#;

fn import(endpoint: &str, table: &str, url: &str) -> Output {
    common::xtask(endpoint, table, &["users", "import", "--postgres-url", url])
}

fn refused(out: &Output, reason: &str) {
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connecting to Cruddur's Postgres"),
        "{stderr}"
    );
    assert!(stderr.contains(reason), "expected {reason:?} in {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_over_tls_from_a_server_that_refuses_plain_connections() {
    let certs = tempfile::tempdir().unwrap();
    ca(certs.path(), "right");
    ca(certs.path(), "other");
    server(certs.path(), "right");
    let postgres = Postgres::start_tls(
        &certs.path().join("server.pem"),
        &certs.path().join("server.key"),
    )
    .unwrap();
    let (admin, connection) =
        tokio_postgres::connect(&postgres.socket_config("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute("CREATE DATABASE cruddur")
        .await
        .unwrap();
    let (cruddur, connection) =
        tokio_postgres::connect(&postgres.socket_config("cruddur"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    cruddur
        .batch_execute(&format!("{}{USERS}", common::CRUDDUR_USERS_SCHEMA))
        .await
        .unwrap();

    let repo = dm_store::testing::fresh_table().await;
    let endpoint = dm_local::shared();
    let table = repo.table().to_owned();
    let port = postgres.port();
    let at =
        |host: &str, query: &str| format!("postgresql://postgres@{host}:{port}/cruddur?{query}");
    let right = certs.path().join("right-ca.pem");
    let other = certs.path().join("other-ca.pem");
    let root = |ca: &Path| format!("sslrootcert={}", ca.display());

    // Plain: refused by the server, which says why.
    refused(
        &import(endpoint, &table, &at("127.0.0.1", "sslmode=disable")),
        "no encryption",
    );
    // Encrypted, the certificate unchecked: in.
    assert_eq!(
        last_line(&import(
            endpoint,
            &table,
            &at("127.0.0.1", "sslmode=require")
        )),
        "2 users read: 2 imported, 0 skipped as already present, 0 in conflict, 0 invalid"
    );
    // The chain and the name checked against the CA bundle: in, again.
    let full = format!("sslmode=verify-full&{}", root(&right));
    assert_eq!(
        last_line(&import(endpoint, &table, &at("localhost", &full))),
        "2 users read: 0 imported, 2 skipped as already present, 0 in conflict, 0 invalid"
    );
    // The certificate names localhost, not 127.0.0.1: verify-full refuses,
    // verify-ca (the chain only) accepts.
    refused(
        &import(endpoint, &table, &at("127.0.0.1", &full)),
        "certificate",
    );
    let chain = format!("sslmode=verify-ca&{}", root(&right));
    last_line(&import(endpoint, &table, &at("127.0.0.1", &chain)));
    // Another CA's bundle: refused.
    let wrong = format!("sslmode=verify-full&{}", root(&other));
    refused(
        &import(endpoint, &table, &at("localhost", &wrong)),
        "certificate",
    );
    // verify-full without a bundle says what is missing.
    refused(
        &import(endpoint, &table, &at("localhost", "sslmode=verify-full")),
        "needs sslrootcert",
    );
}
