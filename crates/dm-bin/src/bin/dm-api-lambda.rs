//! The API as an AWS Lambda function behind an API Gateway HTTP API: the same
//! axum router, through `lambda_http`. Configured by the environment
//! variables of `dm-api` (`DM_STORE=dynamodb`, `DM_TABLE`, `DM_AUTH=cognito`,
//! `DM_COGNITO_REGION`, `DM_COGNITO_USER_POOL_ID`, `DM_COGNITO_CLIENT_ID`,
//! `DM_CORS_ORIGINS`); see `deploy/template.yaml`.

use dm_bin::api::{lambda_store, state};
use dm_bin::telemetry::{self, Format};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(Format::Lambda, "info");
    let (config, repo) = lambda_store().await?;
    let app = dm_api::app(state(&config, repo)?);
    lambda_http::run(app).await
}
