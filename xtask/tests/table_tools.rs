//! The table tools end to end: the xtask binary against DynamoDB Local.

mod common;

use common::xtask;

fn ok(out: std::process::Output) -> String {
    common::ok(&out)
}

#[test]
fn setup_inspect_and_drop() {
    let endpoint = dm_local::shared();
    let table = format!("tools-{}", std::process::id());

    let setup = ok(xtask(endpoint, &table, &["setup"]));
    assert!(
        setup.contains("created table") && setup.contains("100 messages"),
        "{setup}"
    );
    let again = ok(xtask(endpoint, &table, &["setup"]));
    assert!(
        again.contains("already exists") && again.contains("seeded already"),
        "{again}"
    );

    let tables = ok(xtask(endpoint, &table, &["list-tables", "--json"]));
    let tables: serde_json::Value = serde_json::from_str(&tables).unwrap();
    assert!(
        tables["TableNames"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == table.as_str())
    );

    let list = ok(xtask(
        endpoint,
        &table,
        &["list-conversations", "@andrewbrown"],
    ));
    assert!(
        list.contains("@bayko") && list.contains("1 conversations of @andrewbrown"),
        "{list}"
    );

    let json = ok(xtask(
        endpoint,
        &table,
        &["list-conversations", "@AndrewBrown", "--json"],
    ));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["handle"], "bayko");
    let group = rows[0]["uuid"].as_str().unwrap().to_owned();

    let by_handles = ok(xtask(
        endpoint,
        &table,
        &["get-conversation", "@andrewbrown", "@bayko", "--json"],
    ));
    let messages: Vec<serde_json::Value> = by_handles
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages.len(), 100);
    assert_eq!(messages[0]["handle"], "andrewbrown");
    assert_eq!(messages[1]["handle"], "bayko");
    let times: Vec<&str> = messages
        .iter()
        .map(|m| m["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let by_uuid = ok(xtask(endpoint, &table, &["get-conversation", &group]));
    assert!(
        by_uuid.contains("100 messages in conversation"),
        "{by_uuid}"
    );

    // 3 users, 3 handle claims, 3 subject claims, 1 pair, 1 group, 2 rows, 100 messages.
    let scan = ok(xtask(endpoint, &table, &["scan", "--json"]));
    assert_eq!(scan.lines().count(), 113);
    let human = ok(xtask(endpoint, &table, &["scan"]));
    assert!(human.contains("113 items"), "{human}");

    let unknown = xtask(endpoint, &table, &["list-conversations", "@nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user @nobody"));

    // Tokens: seeded users by their fixed subject, the token alone on the last line.
    let key = std::env::temp_dir().join(format!("dm-token-{}.key", std::process::id()));
    let printed = ok(xtask(
        endpoint,
        &table,
        &["token", "@AndrewBrown", "--key-file", key.to_str().unwrap()],
    ));
    let token = printed.lines().last().unwrap();
    let verifier = dm_api::auth::LocalVerifier::from_file(&key).unwrap();
    let claims = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(dm_api::auth::TokenVerifier::verify(&verifier, token))
        .unwrap();
    assert_eq!(claims.sub, dm_store::seed::USERS[0].sub);

    // A user imported under a seeded handle, with their own uuid and
    // subject (as `users import` brings Cruddur's in): the token is theirs.
    let other_table = dm_store::testing::fresh_table();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let imported = runtime.block_on(async {
        let repo = other_table.await;
        use dm_store::Repository;
        repo.create_user(dm_domain::NewUser {
            uuid: dm_domain::UserId::new(),
            handle: dm_domain::Handle::parse("andrewbrown").unwrap(),
            display_name: dm_domain::DisplayName::parse("Andrew Brown").unwrap(),
            cognito_user_id: Some("their-own-cognito-sub".into()),
        })
        .await
        .unwrap();
        repo.table().to_owned()
    });
    // The subject of the token `token @andrewbrown` prints for `table`.
    let subject_of = |table: &str| {
        let printed = ok(xtask(
            endpoint,
            table,
            &["token", "@andrewbrown", "--key-file", key.to_str().unwrap()],
        ));
        let token = printed.lines().last().unwrap();
        runtime
            .block_on(dm_api::auth::TokenVerifier::verify(&verifier, token))
            .unwrap()
            .sub
    };
    assert_eq!(subject_of(&imported), "their-own-cognito-sub");
    // No table at all (the memory store's seed): the seeded subject.
    assert_eq!(subject_of("no-such-table"), dm_store::seed::USERS[0].sub);
    let _ = std::fs::remove_file(&key);

    // Without a terminal, drop refuses unless --yes.
    let refused = xtask(endpoint, &table, &["drop"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let dropped = ok(xtask(endpoint, &table, &["drop", "--yes"]));
    assert!(dropped.contains("dropped"), "{dropped}");
    let missing = xtask(endpoint, &table, &["scan"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn an_unreachable_endpoint_says_how_to_start_dynamodb_local() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = xtask(&format!("http://127.0.0.1:{port}"), "t", &["list-tables"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cargo xtask dynamodb-local"), "{stderr}");
}

/// A named group as the tools show it: by its name and size in a member's
/// list, with its members above its messages.
#[test]
fn named_groups_are_shown_by_name_with_their_members() {
    use dm_store::Repository;
    let endpoint = dm_local::shared();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (table, group) = runtime.block_on(async {
        let repo = dm_store::testing::fresh_table().await;
        let mut users = Vec::new();
        for handle in ["ana", "bo", "cy"] {
            users.push(dm_store::testing::user(&repo, handle).await.summary());
        }
        let group = repo
            .create_group(
                &users[1],
                dm_domain::GroupName::parse("night shift").unwrap(),
                vec![users[0].clone(), users[2].clone()],
            )
            .await
            .unwrap();
        let made = dm_store::Changes {
            group: Some(group.clone()),
            ..dm_store::Changes::default()
        };
        repo.apply_changes(group.id, &made).await.unwrap();
        let text = dm_domain::MessageText::parse("who has the keys?").unwrap();
        let sent = repo
            .send_message(group.id, &users[2], dm_store::NewMessage::now(text))
            .await
            .unwrap();
        repo.apply_message(&sent).await.unwrap();
        (repo.table().to_owned(), group.id)
    });

    let list = ok(xtask(endpoint, &table, &["list-conversations", "@ana"]));
    assert!(
        list.contains("\"night shift\" (3 members)") && list.contains("@cy: who has the keys?"),
        "{list}"
    );
    let json = ok(xtask(
        endpoint,
        &table,
        &["list-conversations", "@ana", "--json"],
    ));
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            &row["kind"],
            &row["name"],
            &row["display_name"],
            &row["members_count"],
            &row["handle"],
        ),
        (
            &"group".into(),
            &"night shift".into(),
            &"night shift".into(),
            &3.into(),
            &"cy".into()
        ),
        "{row}"
    );
    let shown = ok(xtask(
        endpoint,
        &table,
        &["get-conversation", &group.to_string()],
    ));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0], "\"night shift\": 3 members: @bo (owner), @ana, @cy",
        "{shown}"
    );
    assert!(
        lines[1].ends_with("@cy           who has the keys?"),
        "{shown}"
    );
    assert!(shown.contains("1 messages in conversation"), "{shown}");
    let scan = ok(xtask(endpoint, &table, &["scan"]));
    assert!(
        scan.contains("in \"night shift\", @cy: who has the keys? (1 unread)")
            && scan.contains("\"night shift\": 3 members (@bo @ana @cy)"),
        "{scan}"
    );
}
