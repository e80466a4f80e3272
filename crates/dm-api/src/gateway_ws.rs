//! The live socket on AWS: an API Gateway WebSocket API whose `$connect`
//! route is guarded by a REQUEST authorizer and whose `$connect` and
//! `$disconnect` routes keep the connection items the stream's notifier posts
//! to. `GET /api/ws` (`live.rs`) does the same in one process locally.
//!
//! - [`Authorizer::authorize`] is the authorizer: the access token from the
//!   `token` query parameter (browsers cannot set headers on a WebSocket),
//!   checked as every route checks it, then its user looked up. It allows the
//!   connection with the user's uuid as `principalId` and the token's expiry
//!   in the context, or denies it. API Gateway answers a denied handshake 403.
//! - [`route`] is the integration of both routes: `$connect`
//!   records the connection (`WS#{user}` / `{connectionId}`, expiring with the
//!   token), `$disconnect` forgets it. The authorizer's context reaches both
//!   through `requestContext.authorizer`, so neither reads the token again.

use std::{collections::HashMap, sync::Arc};

use aws_lambda_events::{
    apigw::{
        ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
        ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyResponse,
        ApiGatewayWebsocketProxyRequest,
    },
    iam::{IamPolicyEffect, IamPolicyStatement},
};
use dm_domain::{Connection, UserId};
use dm_store::{Repository, StoreError};
use serde_json::{Value, json};

use crate::{auth::TokenVerifier, error::ApiError};

/// The `$connect` authorizer of the WebSocket API.
#[derive(Debug, Clone)]
pub struct Authorizer {
    repo: Arc<dyn Repository>,
    verifier: Arc<dyn TokenVerifier>,
    users: crate::auth::UserCache,
}

impl Authorizer {
    /// Allows the users of `repo` whose tokens `verifier` accepts.
    pub fn new(repo: Arc<dyn Repository>, verifier: Arc<dyn TokenVerifier>) -> Self {
        Self {
            repo,
            verifier,
            users: crate::auth::UserCache::default(),
        }
    }

    /// The `$connect` authorizer: allows the token's user, or denies.
    ///
    /// # Errors
    ///
    /// The user could not be looked up (the store failed): the handshake
    /// fails with 500 and the client may retry.
    pub async fn authorize(
        &self,
        request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, ApiError> {
        let method = request.method_arn.clone().unwrap_or_default();
        let Some(token) = request
            .query_string_parameters
            .first("token")
            .filter(|t| !t.is_empty())
        else {
            return Ok(policy(
                IamPolicyEffect::Deny,
                "anonymous",
                &method,
                json!({}),
            ));
        };
        match crate::auth::authenticate(&*self.verifier, &*self.repo, &self.users, token).await {
            Ok((user, claims)) => {
                let user = user.uuid.to_string();
                let context = json!({ "user": user, "expires_at": claims.exp });
                Ok(policy(IamPolicyEffect::Allow, &user, &method, context))
            }
            Err(ApiError::Unauthorized(reason)) => {
                tracing::info!(reason, "live connection refused");
                Ok(policy(
                    IamPolicyEffect::Deny,
                    "anonymous",
                    &method,
                    json!({}),
                ))
            }
            Err(e) => Err(e),
        }
    }
}

/// The `$connect` and `$disconnect` integration.
///
/// # Errors
///
/// The store failed: the handshake fails (on `$connect`), or the
/// connection is left to its TTL (on `$disconnect`).
pub async fn route(
    repo: &dyn Repository,
    event: &ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, StoreError> {
    let context = &event.request_context;
    let (Some(id), Some(authorized)) = (
        context.connection_id.as_deref(),
        Authorized::from(&context.authorizer.fields),
    ) else {
        // Only a route without the authorizer gets here: nothing to keep.
        return Ok(status(401));
    };
    match context.route_key.as_deref() {
        Some("$connect") => {
            repo.add_connection(&Connection {
                user: authorized.user,
                id: id.to_owned(),
                expires_at: authorized.expires_at,
            })
            .await?;
            Ok(status(200))
        }
        Some("$disconnect") => {
            repo.remove_connection(authorized.user, id).await?;
            Ok(status(200))
        }
        _ => Ok(status(400)),
    }
}

/// What the authorizer put in the context.
struct Authorized {
    user: UserId,
    expires_at: i64,
}

impl Authorized {
    /// API Gateway passes the context's values as strings or numbers.
    fn from(fields: &HashMap<String, Value>) -> Option<Self> {
        let user = fields.get("user")?.as_str()?.parse().ok()?;
        let expires_at = match fields.get("expires_at")? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        Some(Self { user, expires_at })
    }
}

fn policy(
    effect: IamPolicyEffect,
    principal: &str,
    method_arn: &str,
    context: Value,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![method_arn.into()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".into());
    document.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal.into());
    response.policy_document = document;
    response.context = context;
    response
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}
