//! Any request body, query string and idempotency key: parsing never panics,
//! and a body either passes every check or lists at least one failure.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use dm_api::{error::ApiError, input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(serde_json::Value::Object(body)) = serde_json::from_slice::<serde_json::Value>(data) {
        match input::new_message(&body) {
            Ok(checked) => assert!(!checked.text.as_str().trim().is_empty()),
            Err(ApiError::Invalid(codes)) => assert!(!codes.is_empty()),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = input::page(Some(&text));
    let _ = input::group_id(&text);
    let _ = input::path_handle(&text);
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", value);
        let _ = input::idempotency_key(&headers);
    }
});
