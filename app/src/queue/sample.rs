use serde_json::{json, Value};

/// The `data` of a `webhook.test` event: a realistic booking with the fields of the contract's
/// example, dated a few days after `now_ms`.
pub fn sample_booking(now_ms: i64) -> Value {
    let start = chrono::DateTime::from_timestamp_millis(now_ms + 5 * 86_400_000)
        .unwrap_or_default()
        .date_naive();
    json!({
        "id": 123,
        "event_type": "30-min-consultation",
        "date": start.format("%Y-%m-%d").to_string(),
        "time": "14:00",
        "duration": 30,
        "invitee": { "name": "Jane Smith", "email": "jane@example.com" },
        "location": "Zoom",
        "meeting_link": "https://zoom.us/j/1234567890",
        "test": true
    })
}
