//! The post-confirmation trigger on the event JSON Cognito sends, against the
//! memory repository and DynamoDB Local: a sign-up creates the user that the
//! API then finds by the access token's `sub`; a retry creates nothing; a
//! taken handle fails with a sentence for the person signing up.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation;
use dm_domain::Handle;
use dm_store::{MemoryRepository, Repository, testing::fresh_table};
use dm_users_lambda::{TriggerError, handle};

const SIGN_UP: &str = include_str!("events/confirm-sign-up.json");
const SUB: &str = "7c2b7e5a-3f0e-4f6a-9f3e-2d6a1c1b9e11";

fn event(edit: impl FnOnce(&mut serde_json::Value)) -> CognitoEventUserPoolsPostConfirmation {
    let mut json: serde_json::Value = serde_json::from_str(SIGN_UP).unwrap();
    edit(&mut json);
    serde_json::from_value(json).unwrap()
}

async fn sign_up_then_retry_then_clash(repo: &dyn Repository) {
    let answered = handle(repo, event(|_| {})).await.unwrap();
    // Cognito expects its event back.
    assert_eq!(
        serde_json::to_value(&answered).unwrap()["userName"],
        serde_json::json!(SUB)
    );
    let user = repo.user_by_cognito_sub(SUB).await.unwrap();
    assert_eq!(user.handle.as_str(), "vircotto");
    assert_eq!(user.display_name.as_str(), "Vir Cotto");
    assert_eq!(
        repo.user_by_handle(&Handle::parse("VIRCOTTO").unwrap())
            .await
            .unwrap()
            .uuid,
        user.uuid
    );

    // Cognito retries a trigger that timed out: the same user, nothing new.
    handle(repo, event(|_| {})).await.unwrap();
    assert_eq!(repo.user_by_cognito_sub(SUB).await.unwrap(), user);

    // Someone else picks the same username, in another case.
    let err = handle(
        repo,
        event(|e| {
            e["request"]["userAttributes"]["sub"] = "11111111-2222-4333-8444-555555555555".into();
            e["request"]["userAttributes"]["preferred_username"] = "VirCotto".into();
        }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TriggerError::HandleTaken(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the username @VirCotto is taken; please choose another one"
    );
    assert!(
        repo.user_by_cognito_sub("11111111-2222-4333-8444-555555555555")
            .await
            .is_err(),
        "nothing written for the refused sign-up"
    );

    // A forgotten-password confirmation of the existing user changes nothing.
    handle(
        repo,
        event(|e| e["triggerSource"] = "PostConfirmation_ConfirmForgotPassword".into()),
    )
    .await
    .unwrap();
    assert_eq!(repo.user_by_cognito_sub(SUB).await.unwrap(), user);
}

#[tokio::test]
async fn memory() {
    sign_up_then_retry_then_clash(&MemoryRepository::new()).await;
}

#[tokio::test]
async fn dynamodb_local() {
    sign_up_then_retry_then_clash(&fresh_table().await).await;
}

#[tokio::test]
async fn bad_attributes_fail_with_a_sentence_and_write_nothing() {
    let repo = MemoryRepository::new();
    let cases: [(&str, serde_json::Value, &str); 4] = [
        (
            "preferred_username",
            serde_json::Value::Null,
            "the sign-up has no preferred_username attribute",
        ),
        (
            "preferred_username",
            "vir.cotto".into(),
            "letters, digits and underscores",
        ),
        (
            "sub",
            serde_json::Value::Null,
            "the sign-up has no sub attribute",
        ),
        ("name", "x".repeat(500).into(), "too long"),
    ];
    for (attribute, value, expected) in cases {
        let err = handle(
            &repo,
            event(|e| {
                let attributes = e["request"]["userAttributes"].as_object_mut().unwrap();
                if value.is_null() {
                    attributes.remove(attribute);
                } else {
                    attributes.insert(attribute.into(), value.clone());
                }
            }),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains(expected), "{attribute}: {err}");
    }
    assert!(repo.user_by_cognito_sub(SUB).await.is_err());
}

#[tokio::test]
async fn no_name_uses_the_handle() {
    let repo = MemoryRepository::new();
    handle(
        &repo,
        event(|e| {
            e["request"]["userAttributes"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
    )
    .await
    .unwrap();
    let user = repo.user_by_cognito_sub(SUB).await.unwrap();
    assert_eq!(user.display_name.as_str(), "vircotto");
}
