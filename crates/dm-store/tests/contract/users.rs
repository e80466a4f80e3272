//! Users and their claims (pattern F), and ids that name nothing.

use super::support::*;

async fn users_are_found_by_uuid_handle_and_subject(backend: Store) {
    let repo = backend.repo();
    let created = user(&repo, "AndrewBrown").await;
    assert_eq!(repo.user(created.uuid).await.unwrap(), created);
    let by_handle = repo
        .user_by_handle(&Handle::parse("@andrewBROWN").unwrap())
        .await
        .unwrap();
    assert_eq!(by_handle, created);
    assert_eq!(
        by_handle.handle.as_str(),
        "AndrewBrown",
        "the handle keeps its case"
    );
    let sub = created.cognito_user_id.clone().unwrap();
    assert_eq!(repo.user_by_cognito_sub(&sub).await.unwrap(), created);
}

async fn handles_and_subjects_are_unique(backend: Store) {
    let repo = backend.repo();
    let first = user(&repo, "Londo").await;
    let mut again = new_user("lONDO");
    let again_id = again.uuid;
    assert_eq!(
        repo.create_user(again.clone()).await,
        Err(StoreError::Conflict(Clash::HandleTaken))
    );
    assert_eq!(
        repo.user(again_id).await,
        Err(StoreError::NotFound(Missing::User)),
        "a refused user leaves nothing behind"
    );

    again.handle = Handle::parse("vir").unwrap();
    again.cognito_user_id = first.cognito_user_id.clone();
    assert_eq!(
        repo.create_user(again.clone()).await,
        Err(StoreError::Conflict(Clash::CognitoSubTaken))
    );
    assert_eq!(
        repo.user_by_handle(&Handle::parse("vir").unwrap()).await,
        Err(StoreError::NotFound(Missing::User))
    );

    let mut same_id = new_user("g_kar");
    same_id.uuid = first.uuid;
    assert_eq!(
        repo.create_user(same_id).await,
        Err(StoreError::Conflict(Clash::UserExists))
    );
    assert_eq!(repo.user(first.uuid).await.unwrap(), first);
}

async fn unknown_ids_are_not_found(backend: Store) {
    let repo = backend.repo();
    let a = user(&repo, "someone").await;
    let nobody = UserId::new();
    let missing = GroupId::new();
    assert_eq!(
        repo.user(nobody).await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_handle(&Handle::parse("nobody").unwrap()).await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_cognito_sub("no-such-sub").await,
        Err(StoreError::NotFound(Missing::User))
    );
    assert_eq!(
        repo.user_by_cognito_sub("").await,
        Err(StoreError::NotFound(Missing::User))
    );
    let not_found = Err(StoreError::NotFound(Missing::Conversation));
    assert_eq!(repo.group(missing, a.uuid).await.map(|_| ()), not_found);
    assert_eq!(
        repo.messages(missing, a.uuid, &PageRequest::default())
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        repo.send_message(missing, &a.summary(), NewMessage::now(text("hello?")))
            .await
            .map(|_| ()),
        not_found
    );
    let orphan = Message {
        id: MessageId::new(),
        group: missing,
        created_at: Timestamp::now(),
        text: "lost".into(),
        sender: a.summary(),
        edited_at: None,
        deleted: false,
        members_version: 0,
    };
    assert_eq!(
        repo.apply_message(&orphan).await,
        Err(StoreError::NotFound(Missing::Conversation))
    );
    let empty = repo
        .conversations(nobody, &PageRequest::default())
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());
}

dm_store::on_both_backends!(
    setup = Store::new;
    users_are_found_by_uuid_handle_and_subject,
    handles_and_subjects_are_unique,
    unknown_ids_are_not_found,
);
