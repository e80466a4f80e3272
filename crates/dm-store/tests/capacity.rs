//! What the access patterns cost on DynamoDB Local, in capacity units, as
//! ReturnConsumedCapacity reports them.

use dm_domain::{DisplayName, Handle, MessageText, NewUser, UserId};
use dm_store::{NewMessage, PageRequest, Repository};

fn text(s: &str) -> MessageText {
    MessageText::parse(s).unwrap()
}

#[tokio::test]
async fn membership_is_read_once_then_remembered() {
    let repo = dm_store::testing::fresh_table().await;
    let mut users = Vec::new();
    for handle in ["cost_a", "cost_b"] {
        users.push(
            repo.create_user(NewUser {
                uuid: UserId::new(),
                handle: Handle::parse(handle).unwrap(),
                display_name: DisplayName::parse(handle).unwrap(),
                cognito_user_id: None,
            })
            .await
            .unwrap(),
        );
    }
    let (a, b) = (users[0].summary(), users[1].summary());
    let group = repo
        .start_conversation(&a, &b, NewMessage::now(text("hi")))
        .await
        .unwrap()
        .message
        .group;

    let before = repo.capacity();
    repo.send_message(
        group,
        &b,
        NewMessage::now(text("first send reads the group")),
    )
    .await
    .unwrap();
    let first = repo.capacity();
    assert_eq!(
        first.read - before.read,
        1.0,
        "one consistent read of the group item"
    );
    assert_eq!(first.write - before.write, 1.0, "one put");

    repo.send_message(group, &a, NewMessage::now(text("later sends only put")))
        .await
        .unwrap();
    let second = repo.capacity();
    assert_eq!(
        (second.read - first.read, second.write - first.write),
        (0.0, 1.0)
    );

    repo.messages(group, a.uuid, &PageRequest::default())
        .await
        .unwrap();
    let listed = repo.capacity();
    assert_eq!(listed.read - second.read, 0.5, "the page query alone");
    assert_eq!(listed.write, second.write);
}
