//! The Lambda side: a DynamoDB event in, a partial batch response out.

use aws_lambda_events::{
    event::dynamodb::Event,
    streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse},
};

use crate::{Handler, decode};

/// Handles one Lambda invocation. Every record of the batch is handled; when
/// some fail, the response names the first failed record's sequence number,
/// and Lambda (with `ReportBatchItemFailures`) retries from it.
pub async fn handle_event(handler: &Handler, event: &Event) -> DynamoDbEventResponse {
    let events = decode::from_lambda(&event.records);
    let outcome = handler.handle(&events).await;
    tracing::info!(
        records = outcome.records,
        messages = outcome.messages,
        moved = outcome.moved,
        already_current = outcome.already_current,
        skipped = outcome.skipped,
        failed_at = outcome.failed_at.as_deref(),
        "batch handled"
    );
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence) = outcome.failed_at {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    response
}
