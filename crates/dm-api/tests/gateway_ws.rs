//! The WebSocket API on AWS, with the events API Gateway sends (shaped as
//! its documentation and `aws_lambda_events`' fixtures show them) and
//! Cognito-shaped access tokens, on both repositories: the `$connect`
//! authorizer allows exactly the valid tokens of known users, `$connect`
//! records the connection until the token expires, the stream's notifier then
//! posts to it, and `$disconnect` forgets it.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};
use common::cognito::{ISSUER, claims, jwks_server, now, rs256};
use dm_api::{
    auth::CognitoVerifier,
    gateway_ws::{Authorizer, route},
};
use dm_domain::{GroupId, UserId};
use dm_store::{PageRequest, Repository, seed::USERS, testing::Backend};
use dm_stream::live::{ConnectionNotifier, Notifier, Post, PostError, Update};
use serde_json::{Value, json};

const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/live/$connect";
/// A connection id as API Gateway makes them.
const CONNECTION: &str = "L0SM9cOFvHcCIhw=";

async fn repo(backend: Backend) -> Arc<dyn Repository> {
    let repo = backend.repo().await;
    dm_store::seed::seed(&*repo, |_, _| {}).await.unwrap();
    repo
}

async fn authorizer(repo: &Arc<dyn Repository>) -> Authorizer {
    let url = jwks_server(Arc::new(Mutex::new("key-1".into())), Arc::default()).await;
    let verifier = CognitoVerifier::with_issuer(ISSUER.into(), common::cognito::CLIENT, url);
    Authorizer::new(repo.clone(), Arc::new(verifier))
}

/// The `$connect` authorizer's event, with these query parameters.
fn authorizer_event(query: Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Host": "abcdef123.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {"Host": ["abcdef123.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "x",
            "requestTime": "01/Dec/2026:10:00:00 +0000", "messageDirection": "IN", "stage": "live",
            "connectedAt": 1_796_119_200_000_i64, "requestTimeEpoch": 1_796_119_200_001_i64,
            "identity": {"sourceIp": "192.0.2.1"}, "requestId": "r", "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "connectionId": CONNECTION, "apiId": "abcdef123"
        }
    }))
    .unwrap()
}

/// A route's event, with the authorizer's context as API Gateway passes it
/// (`principalId` beside the context's keys), or none.
fn route_event(route: &str, authorizer: Option<Value>) -> ApiGatewayWebsocketProxyRequest {
    let mut context = json!({
        "routeKey": route, "eventType": if route == "$connect" { "CONNECT" } else { "DISCONNECT" },
        "extendedRequestId": "x", "requestTime": "01/Dec/2026:10:00:00 +0000",
        "messageDirection": "IN", "stage": "live", "connectedAt": 1_796_119_200_000_i64,
        "requestTimeEpoch": 1_796_119_200_001_i64, "identity": {"sourceIp": "192.0.2.1"},
        "requestId": "r", "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "connectionId": CONNECTION, "apiId": "abcdef123"
    });
    if let Some(authorizer) = authorizer {
        context["authorizer"] = authorizer;
    }
    serde_json::from_value(json!({
        "headers": {"Host": "abcdef123.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abcdef123.execute-api.us-east-1.amazonaws.com"]},
        "requestContext": context,
        "isBase64Encoded": false
    }))
    .unwrap()
}

async fn connections(repo: &Arc<dyn Repository>, user: UserId) -> Vec<(String, i64)> {
    repo.connections(user, now() as i64)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.expires_at))
        .collect()
}

/// Records what is posted.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, Value)>>);

#[async_trait]
impl Post for Recorder {
    async fn post(&self, id: &str, data: &str) -> Result<(), PostError> {
        self.0
            .lock()
            .unwrap()
            .push((id.to_owned(), serde_json::from_str(data).unwrap()));
        Ok(())
    }

    async fn close(&self, id: &str) -> Result<(), PostError> {
        panic!("{id} was closed: no connection here has expired");
    }
}

async fn authorizer_allows_valid_cognito_tokens_only(backend: Backend) {
    let repo = repo(backend).await;
    let authorizer = authorizer(&repo).await;
    let andrew = USERS[0].uuid.to_string();
    let good = claims();
    let response = authorizer
        .authorize(&authorizer_event(
            json!({"token": rs256(&good, "key-1"), "poll": "off"}),
        ))
        .await
        .unwrap();
    // Exactly what API Gateway reads from an authorizer.
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["principalId"], andrew.as_str());
    assert_eq!(
        response["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [METHOD_ARN]}]})
    );
    assert_eq!(
        response["context"],
        json!({"user": andrew, "expires_at": good.exp})
    );

    let mut expired = good.clone();
    expired.exp = now() - 60;
    let mut id_token = good.clone();
    id_token.token_use = Some("id".into());
    let mut stranger = good.clone();
    stranger.sub = "a-sub-with-no-user".into();
    for (name, query) in [
        ("no token", json!({})),
        ("empty token", json!({"token": ""})),
        ("not a token", json!({"token": "abc"})),
        ("expired", json!({"token": rs256(&expired, "key-1")})),
        ("id token", json!({"token": rs256(&id_token, "key-1")})),
        ("unknown key", json!({"token": rs256(&good, "key-2")})),
        ("no such user", json!({"token": rs256(&stranger, "key-1")})),
    ] {
        let response = authorizer
            .authorize(&authorizer_event(query))
            .await
            .unwrap();
        let response = serde_json::to_value(&response).unwrap();
        assert_eq!(
            response["policyDocument"]["Statement"][0]["Effect"], "Deny",
            "{name}"
        );
        assert_eq!(response["context"], json!({}), "{name}");
    }
    assert!(
        connections(&repo, UserId::from(USERS[0].uuid))
            .await
            .is_empty(),
        "authorizing writes nothing"
    );
}

dm_store::on_both_backends!(
    authorizer_allows_valid_cognito_tokens_only,
    connect_is_notified_then_disconnect_forgets,
);

async fn first_conversation(repo: &Arc<dyn Repository>, user: UserId) -> GroupId {
    repo.conversations(user, &PageRequest::first(1))
        .await
        .unwrap()
        .items[0]
        .group
}

async fn connect_is_notified_then_disconnect_forgets(backend: Backend) {
    let repo = repo(backend).await;
    let authorizer = authorizer(&repo).await;
    let (andrew, bayko) = (UserId::from(USERS[0].uuid), UserId::from(USERS[1].uuid));
    let token = claims();
    let allowed = authorizer
        .authorize(&authorizer_event(json!({"token": rs256(&token, "key-1")})))
        .await
        .unwrap();
    // API Gateway hands the context to the routes with `principalId` beside it.
    let mut context = allowed.context.clone();
    context["principalId"] = json!(allowed.principal_id);
    context["integrationLatency"] = json!(38);
    let connected = route(&*repo, &route_event("$connect", Some(context.clone())))
        .await
        .unwrap();
    assert_eq!(connected.status_code, 200);
    assert_eq!(
        connections(&repo, andrew).await,
        vec![(CONNECTION.to_owned(), token.exp as i64)],
        "recorded until the token expires"
    );
    assert!(connections(&repo, bayko).await.is_empty());

    // The stream's notifier now reaches the connection, and only it.
    let group = first_conversation(&repo, andrew).await;
    let message = repo
        .messages(group, andrew, &PageRequest::first(1))
        .await
        .unwrap()
        .items
        .pop()
        .unwrap();
    let posted = Arc::new(Recorder::default());
    let written = repo.group(group, andrew).await.unwrap();
    ConnectionNotifier::new(repo.clone(), posted.clone())
        .notify(&Update {
            group,
            members: written.members.clone(),
            group_changed: None,
            gone: Vec::new(),
            rows: repo
                .conversations(andrew, &PageRequest::default())
                .await
                .unwrap()
                .items,
            messages: vec![message.clone()],
            rows_show: Some(message.clone()),
            marks: vec![],
            changed: true,
            edited: Vec::new(),
            deleted: Vec::new(),
        })
        .await;
    let posted = posted.0.lock().unwrap().clone();
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(posted.iter().all(|(id, _)| id == CONNECTION));
    assert_eq!(posted[0].1["type"], "message");
    assert_eq!(posted[0].1["message"]["uuid"], message.id.to_string());
    assert_eq!(posted[1].1["type"], "conversation");
    assert_eq!(posted[1].1["conversation"]["handle"], "bayko");

    let gone = route(&*repo, &route_event("$disconnect", Some(context.clone())))
        .await
        .unwrap();
    assert_eq!(gone.status_code, 200);
    assert!(connections(&repo, andrew).await.is_empty());
    // A repeated disconnect (API Gateway retries) answers the same.
    let again = route(&*repo, &route_event("$disconnect", Some(context)))
        .await
        .unwrap();
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn routes_without_the_authorizers_context_change_nothing() {
    let repo = repo(Backend::Memory).await;
    let andrew = USERS[0].uuid.to_string();
    let exp = now() + 600;
    for (name, authorizer) in [
        ("no authorizer", None),
        (
            "no user",
            Some(json!({"principalId": andrew, "expires_at": exp})),
        ),
        (
            "not a uuid",
            Some(json!({"principalId": "x", "user": "x", "expires_at": exp})),
        ),
        (
            "no expiry",
            Some(json!({"principalId": andrew, "user": andrew})),
        ),
    ] {
        let response = route(&*repo, &route_event("$connect", authorizer))
            .await
            .unwrap();
        assert_eq!(response.status_code, 401, "{name}");
    }
    assert!(
        connections(&repo, UserId::from(USERS[0].uuid))
            .await
            .is_empty()
    );
    // Context values may come as strings.
    let stringly = json!({"principalId": andrew, "user": andrew, "expires_at": exp.to_string()});
    let response = route(&*repo, &route_event("$connect", Some(stringly.clone())))
        .await
        .unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(
        connections(&repo, UserId::from(USERS[0].uuid)).await,
        vec![(CONNECTION.to_owned(), exp as i64)]
    );
    let other = route(&*repo, &route_event("$default", Some(stringly)))
        .await
        .unwrap();
    assert_eq!(other.status_code, 400, "no other route is served");
}
