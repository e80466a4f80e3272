//! The WebSocket API's `$connect` and `$disconnect` routes as an AWS Lambda
//! function: each connection the authorizer allowed is recorded in the table
//! until its token expires, and forgotten when it closes
//! (`dm_api::gateway_ws`). Configured by `DM_STORE=dynamodb` and `DM_TABLE`
//! (the authorizer checked the token); see `deploy/template.yaml`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use dm_api::gateway_ws::route;
use dm_bin::api::lambda_store;
use dm_bin::telemetry::{self, Format};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(Format::Lambda, "info");
    let (_, repo) = lambda_store().await?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let repo = repo.clone();
            async move {
                route(&*repo, &event.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}
