//! The one mapping of AWS SDK failures to [`StoreError`], and the one
//! throttling classification, for every DynamoDB (and DynamoDB Streams) call.

use std::fmt;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::StoreError;

/// Whether a DynamoDB error code means "slow down": the one throttling
/// classification, for the repository's and the stream handler's decisions.
pub fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "Throttling"
            | "ThrottledException"
            | "SlowDown"
    )
}

/// Maps any SDK failure to a [`StoreError`]: throttling, server errors and
/// network failures are retryable; the rest are backend errors. The text is
/// for logs only.
pub fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) if is_throttling(code) => StoreError::Throttled(detail),
            Some("TransactionConflictException") => StoreError::TransactionCancelled {
                reasons: vec!["TransactionConflict".into()],
            },
            Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable(detail),
            _ => StoreError::Backend(detail),
        },
        _ => StoreError::Backend(detail),
    }
}
