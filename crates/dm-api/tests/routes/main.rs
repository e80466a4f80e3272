//! Every route, in-process (`oneshot`) on a seeded memory store, one module
//! per resource or concern.

#[path = "../common/mod.rs"]
mod common;

mod conversations;
mod edits;
mod groups;
mod messages;
mod read_state;
mod service;
mod users;

pub(crate) use std::{sync::Arc, time::Duration};

pub(crate) use axum::{
    body::Body,
    http::{Request, StatusCode},
};
pub(crate) use common::{next_link, seeded};
pub(crate) use dm_store::{PageRequest, Repository};
pub(crate) use dm_stream::{Handler, memory_feed::MemoryFeed};
pub(crate) use serde_json::{Value, json};
pub(crate) use tower::ServiceExt;

pub(crate) async fn andrews_group(app: &common::TestApp) -> String {
    let reply = app.get("/api/message_groups", "andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json[0]["uuid"].as_str().unwrap().to_owned()
}

pub(crate) fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace('#', "%23")))
        .collect::<Vec<_>>()
        .join("&")
}
