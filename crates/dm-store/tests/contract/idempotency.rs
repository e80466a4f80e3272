//! Idempotency claims, and sending once per key.

use super::support::*;

async fn idempotency_claims_hold_until_they_expire(backend: Store) {
    let repo = backend.repo();
    let (a, _, group) = pair(&repo).await;
    let claim = |message: MessageId, expires_at: i64| IdempotencyClaim {
        user: a.uuid,
        key: "retry-42".into(),
        message,
        at: base_time().plus(TimeDelta::seconds(9)),
        request: "group:x\nhello".into(),
        expires_at,
    };
    let first = claim(MessageId::new(), 1_000);
    assert_eq!(
        repo.claim_idempotency(first.clone(), 500).await.unwrap(),
        first
    );
    // A retry gets the first claim, whatever it proposed.
    let retry = claim(MessageId::new(), 1_100);
    assert_eq!(repo.claim_idempotency(retry, 600).await.unwrap(), first);
    // Another user's key of the same name is another claim.
    let mut theirs = claim(MessageId::new(), 1_000);
    theirs.user = UserId::new();
    assert_eq!(
        repo.claim_idempotency(theirs.clone(), 600).await.unwrap(),
        theirs
    );
    // Once expired (DynamoDB deletes lazily), the key is free again.
    let later = claim(MessageId::new(), 9_000);
    assert_eq!(
        repo.claim_idempotency(later.clone(), 1_001).await.unwrap(),
        later
    );

    // The message a claim names can be read back by its place.
    let sent = repo
        .send_message(
            group,
            &a.summary(),
            NewMessage {
                id: later.message,
                created_at: later.at,
                text: text("hello"),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        repo.message_unchecked(group, sent.reference())
            .await
            .unwrap(),
        Some(sent.clone())
    );
    let elsewhere = dm_domain::MessageRef {
        at: sent.created_at,
        id: MessageId::new(),
    };
    assert_eq!(
        repo.message_unchecked(group, elsewhere).await.unwrap(),
        None
    );
}

async fn a_keyed_send_is_stored_once_however_often_it_is_retried(backend: Store) {
    let repo = backend.repo();
    let (a, b, group) = pair(&repo).await;
    let key = |name: &str, request: &str| {
        Some(IdempotencyKey {
            key: name.into(),
            request: request.into(),
        })
    };
    let count = |repo: Repo| async move {
        repo.messages(group, a.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len()
    };
    let before = count(repo.clone()).await;

    // To a conversation: the retries answer with the first message.
    let first = repo
        .send_once(
            &a.summary(),
            Recipient::Group(group),
            text("hello"),
            key("k1", "g\nhello"),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        let retry = repo
            .send_once(
                &a.summary(),
                Recipient::Group(group),
                text("hello"),
                key("k1", "g\nhello"),
            )
            .await
            .unwrap();
        assert_eq!(retry, first);
    }
    assert_eq!(count(repo.clone()).await, before + 1);

    // The same key for another request is refused, and stores nothing.
    assert_eq!(
        repo.send_once(
            &a.summary(),
            Recipient::Group(group),
            text("other"),
            key("k1", "g\nother")
        )
        .await,
        Err(StoreError::Invalid("idempotency_key_reused"))
    );
    assert_eq!(count(repo.clone()).await, before + 1);

    // Without a key every call is a new message.
    for _ in 0..2 {
        repo.send_once(&a.summary(), Recipient::Group(group), text("again"), None)
            .await
            .unwrap();
    }
    assert_eq!(count(repo.clone()).await, before + 3);

    // To a user: the retry of a send that started a conversation finds it.
    let c = user(&repo, &format!("c{}", short())).await;
    let started = repo
        .send_once(
            &a.summary(),
            Recipient::User(c.summary()),
            text("hi c"),
            key("k2", "@c\nhi c"),
        )
        .await
        .unwrap();
    let retried = repo
        .send_once(
            &a.summary(),
            Recipient::User(c.summary()),
            text("hi c"),
            key("k2", "@c\nhi c"),
        )
        .await
        .unwrap();
    assert_eq!(retried, started);
    assert_ne!(started.group, group);
    assert_eq!(
        repo.messages(started.group, c.uuid, &PageRequest::default())
            .await
            .unwrap()
            .items,
        vec![started]
    );
    // And keys are per user: b's "k1" is b's own.
    let theirs = repo
        .send_once(
            &b.summary(),
            Recipient::Group(group),
            text("from b"),
            key("k1", "g\nfrom b"),
        )
        .await
        .unwrap();
    assert_eq!(theirs.text, "from b");
}

dm_store::on_both_backends!(
    setup = Store::new;
    idempotency_claims_hold_until_they_expire,
    a_keyed_send_is_stored_once_however_often_it_is_retried,
);
