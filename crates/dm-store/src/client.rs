//! The one AWS SDK configuration of every DynamoDB and DynamoDB Streams
//! client: the repository's, the poller's, and the tools'.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::{
    Client,
    config::{Credentials, Region},
};

/// The AWS SDK configuration from its default chain.
///
/// Without `endpoint_url` everything comes from the default chain, as in
/// production. With it (DynamoDB Local), requests go there, and a fresh
/// machine with no AWS setup still works:
///
/// - credentials come from the default chain's environment variables,
///   profile (with SSO and `credential_process`), web identity and container
///   providers, so setting `AWS_ENDPOINT_URL_DYNAMODB` never replaces real
///   credentials (on Lambda they are in the environment); only when none of
///   them has any are requests signed with fixed `local` credentials;
/// - the region comes from the environment or the profile, else `us-east-1`.
///
/// The instance metadata service is not asked for either: against a local
/// endpoint it only adds delay and errors. DynamoDB Local runs with
/// `-sharedDb`, so whichever credentials and region sign the requests, the
/// AWS CLI, boto3 and these tools see the same tables. The same
/// configuration serves the DynamoDB Streams client of the poller.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    use aws_config::{
        ecs::EcsCredentialsProvider,
        environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider},
        meta::{credentials::CredentialsProviderChain, region::RegionProviderChain},
        profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider},
        web_identity_token::WebIdentityTokenCredentialsProvider,
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(Region::from_static("us-east-1"));
        let credentials = CredentialsProviderChain::first_try(
            "Environment",
            EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else("Profile", ProfileFileCredentialsProvider::builder().build())
        .or_else(
            "WebIdentityToken",
            WebIdentityTokenCredentialsProvider::builder().build(),
        )
        .or_else("EcsContainer", EcsCredentialsProvider::builder().build())
        .or_else(
            LOCAL_CREDENTIALS,
            Credentials::new("local", "local", None, None, LOCAL_CREDENTIALS),
        );
        loader = loader
            .endpoint_url(url)
            .region(region)
            .credentials_provider(credentials);
    }
    loader.load().await
}

/// The provider name of the fixed credentials used against a local endpoint
/// when the default chain has none.
pub const LOCAL_CREDENTIALS: &str = "dm-local";

/// A DynamoDB client configured by [`sdk_config`].
pub async fn connect(endpoint_url: Option<&str>) -> Client {
    Client::new(&sdk_config(endpoint_url).await)
}
