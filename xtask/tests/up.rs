//! `cargo xtask up` as a user runs it: DynamoDB Local, the seeded table and
//! the stream poller together, until Ctrl-C stops all of it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use dm_domain::{MessageText, UserId};
use dm_store::{DynamoRepository, NewMessage, PageRequest, Repository, seed::USERS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_a_seeded_table_whose_rows_follow_new_messages() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, api_port) = (free(), free());
    let workdir = std::env::temp_dir().join(format!("dm-up-{port}"));
    std::fs::create_dir_all(&workdir).unwrap();
    let mut up = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "up",
            "--port",
            &port.to_string(),
            "--listen",
            &format!("127.0.0.1:{api_port}"),
        ])
        .current_dir(&workdir)
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env_remove("DM_TABLE")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = up.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut token = None;
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        while let Some(line) = lines.next() {
            if line.starts_with("Token for @andrewbrown") {
                token = lines.next().map(|t| t.trim().to_owned());
            }
            if line.contains("Ctrl-C stops everything") {
                let _ = ready_tx.send(token.take());
            }
        }
    });
    let token = ready_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("`up` became ready")
        .expect("it printed a token");

    let endpoint = format!("http://127.0.0.1:{port}");
    let repo = Arc::new(
        DynamoRepository::new(
            &dm_store::client::sdk_config(Some(&endpoint)).await,
            "cruddur-messages",
        )
        .unwrap(),
    );
    let (andrew, bayko) = (
        UserId::from_uuid(USERS[0].uuid),
        UserId::from_uuid(USERS[1].uuid),
    );
    let rows = repo
        .conversations(andrew, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1, "the seed is there");
    let group = rows.items[0].group;
    let sender = repo.user(bayko).await.unwrap().summary();
    let sent = repo
        .send_message(
            group,
            &sender,
            NewMessage::now(MessageText::parse("are you up?").unwrap()),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = repo
            .conversations(andrew, &PageRequest::default())
            .await
            .unwrap();
        if rows.items[0].last_message_id == Some(sent.id) {
            assert_eq!(rows.items.len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "the poller did not move the row");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The API answers with the printed token, and sees the new message too.
    let groups: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{api_port}/api/message_groups"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups[0]["handle"], "bayko");
    assert_eq!(groups[0]["message"], "are you up?");

    // Ctrl-C stops everything, DynamoDB Local included.
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "`up` exits cleanly on Ctrl-C: {status}");
    let gone = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    );
    assert!(gone.is_err(), "DynamoDB Local stopped with `up`");
    let _ = std::fs::remove_dir_all(workdir);
}
