//! [`ManagementApi`]: [`Post`] through API Gateway's management API
//! (`aws-sdk-apigatewaymanagement`), and the one mapping of its errors.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::SdkError;

use super::notifier::{Post, PostError};

/// API Gateway's management API (`aws-sdk-apigatewaymanagement`), at the
/// WebSocket API's callback URL on AWS or at `dm-api` locally.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// Posts through `client`, configured with the callback URL as its endpoint.
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self { client }
    }

    /// A client for the callback URL `endpoint`
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or
    /// `http://127.0.0.1:4567` for `dm-api`), from `sdk`'s credentials and region.
    pub fn at(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self::new(aws_sdk_apigatewaymanagement::Client::from_conf(config))
    }
}

#[async_trait]
impl Post for ManagementApi {
    async fn close(&self, id: &str) -> Result<(), PostError> {
        use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
        let sent = self
            .client
            .delete_connection()
            .connection_id(id)
            .send()
            .await;
        sent.map(|_| ())
            .map_err(|e| post_error(e, |e| matches!(e, DeleteConnectionError::GoneException(_))))
    }

    async fn post(&self, id: &str, data: &str) -> Result<(), PostError> {
        use aws_sdk_apigatewaymanagement::{
            operation::post_to_connection::PostToConnectionError, primitives::Blob,
        };
        let sent = self
            .client
            .post_to_connection()
            .connection_id(id)
            .data(Blob::new(data.as_bytes()))
            .send()
            .await;
        sent.map(|_| ())
            .map_err(|e| post_error(e, |e| matches!(e, PostToConnectionError::GoneException(_))))
    }
}

/// The one mapping of the management API's errors: the operation's
/// `GoneException` (as `gone` recognises it) is [`PostError::Gone`], any
/// other failure [`PostError::Failed`].
fn post_error<E, R>(err: SdkError<E, R>, gone: impl Fn(&E) -> bool) -> PostError
where
    E: std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(e) if gone(e) => PostError::Gone,
        _ => PostError::Failed(
            aws_sdk_apigatewaymanagement::error::DisplayErrorContext(err).to_string(),
        ),
    }
}
