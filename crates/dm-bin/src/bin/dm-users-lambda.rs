//! `dm-users-lambda`: the Cognito post-confirmation trigger as an AWS Lambda
//! function (`provided.al2023`). Configure with `DM_TABLE`; see
//! `deploy/template.yaml` and the library's docs.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation;
use dm_bin::telemetry::{self, Format};
use dm_store::DynamoRepository;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(Format::Lambda, "info");
    let table = std::env::var("DM_TABLE").map_err(|_| "DM_TABLE must name the table")?;
    let config = dm_store::client::sdk_config(None).await;
    let repo = DynamoRepository::new(&config, table)?;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<CognitoEventUserPoolsPostConfirmation>| {
            let repo = &repo;
            async move {
                dm_users_lambda::handle(repo, event.payload)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}
