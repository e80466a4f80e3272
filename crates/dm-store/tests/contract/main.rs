//! The repository contract: one suite, run against the memory repository and
//! against DynamoDB Local (started by the test binary itself), one module per
//! group of access patterns.
//!
//! Each case is an async function over a [`support::Store`];
//! `dm_store::on_both_backends!` turns every case into one test per backend,
//! so a failure names the module, the backend and the case
//! (`messages::dynamodb::messages_page_back_in_time`).

mod connections;
mod conversations;
mod cruddur;
mod groups;
mod idempotency;
mod messages;
mod migrate;
mod rows;
mod seed;
mod support;
mod users;
