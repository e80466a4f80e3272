//! Which DynamoDB and which table: the argument group of `cargo xtask`'s
//! table commands and of the stream poller.

use clap::Args;

/// Which DynamoDB and which table: the one argument group of every command
/// that works on the table (`cargo xtask ...`, the poller), flattened into each.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// DynamoDB (and DynamoDB Streams) endpoint; DynamoDB Local at http://127.0.0.1:8000 when neither this nor --prod is given.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", conflicts_with = "prod")]
    pub endpoint_url: Option<String>,
    /// Use real DynamoDB through the AWS default credential and region chain (no endpoint override).
    #[arg(long)]
    pub prod: bool,
    /// The table.
    #[arg(long, env = "DM_TABLE", default_value = dm_store::schema::DEFAULT_TABLE)]
    pub table: String,
}

/// Where DynamoDB Local listens when nothing else is said.
pub const LOCAL_ENDPOINT: &str = "http://127.0.0.1:8000";

impl Target {
    /// DynamoDB Local at `endpoint`, table `table`.
    pub fn local(endpoint: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            endpoint_url: Some(endpoint.into()),
            prod: false,
            table: table.into(),
        }
    }

    /// The endpoint to use; `None` for production.
    pub fn endpoint(&self) -> Option<String> {
        if self.prod {
            None
        } else {
            Some(
                self.endpoint_url
                    .clone()
                    .unwrap_or_else(|| LOCAL_ENDPOINT.to_owned()),
            )
        }
    }

    /// Where this target is, for messages.
    pub fn describe(&self) -> String {
        match self.endpoint() {
            Some(url) => format!("table {} on {url}", self.table),
            None => format!("table {} on AWS DynamoDB", self.table),
        }
    }
}
