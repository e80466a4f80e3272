//! The WebSocket API's `$connect` authorizer as an AWS Lambda function: the
//! Cognito access token of the `token` query parameter, checked, and its
//! user allowed (`dm_api::gateway_ws`). Configured by the environment
//! variables of `dm-api` (`DM_STORE=dynamodb`, `DM_TABLE`, `DM_AUTH=cognito`,
//! `DM_COGNITO_REGION`, `DM_COGNITO_USER_POOL_ID`, `DM_COGNITO_CLIENT_ID`);
//! see `deploy/template.yaml`.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use dm_api::gateway_ws::Authorizer;
use dm_bin::api::{lambda_store, verifier};
use dm_bin::telemetry::{self, Format};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(Format::Lambda, "info");
    let (config, repo) = lambda_store().await?;
    let authorizer = Authorizer::new(repo, verifier(&config)?);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            let authorizer = authorizer.clone();
            async move {
                authorizer
                    .authorize(&event.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}
