//! What only the binaries need, kept out of the libraries they run.
//!
//! `dm-store`, `dm-stream` and `dm-api` are libraries another service can
//! import without a command-line parser, a Lambda runtime, a log subscriber
//! or an allocator choice. This package holds those, once, and the binaries:
//!
//! - `dm-api` serves the API ([`api::serve`]), `dm-api-lambda` runs the same
//!   router on Lambda;
//! - `dm-stream-poll` follows the table's stream locally ([`poll::PollArgs`]),
//!   `dm-stream-lambda` is the stream handler on Lambda;
//! - `dm-users-lambda` is the Cognito post-confirmation trigger.
//!
//! `cargo xtask` and `dm-bench` use the same pieces: [`target::Target`], the
//! one argument group naming DynamoDB and the table; [`telemetry::init`],
//! the one tracing setup.
//!
//! Every binary linking this crate allocates with mimalloc: about 15% less
//! CPU per request than the system allocator (`cargo xtask bench`).

pub mod api;
pub mod poll;
pub mod target;
pub mod telemetry;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
