//! The event catalog: for each of the 13 event types, when it fires, a JSON Schema of its
//! `data` (the contract's fields; receivers must accept fields not listed) and a realistic
//! example. Served at `GET /api/v1/event-types`, shown on `/settings/event-types`, and what
//! **Send test event** sends for the type the owner picks.

use serde_json::{json, Value};

use super::EventType;

/// The moment the catalog's examples are dated from: the contract's own example timestamp, so
/// the catalog reads the same everywhere (its booking is on 2025-01-20 at 14:00).
pub const CATALOG_NOW_MS: i64 = 1_736_937_000_000;

/// The whole event as delivered in the standard format, for the type's catalog example.
pub fn example_event(t: EventType) -> Value {
    json!({
        "event": t.as_str(),
        "timestamp": "2025-01-15T10:30:00Z",
        "data": example(t, CATALOG_NOW_MS),
    })
}

/// The booking fields of the contract's example payload.
fn booking_properties() -> Value {
    json!({
        "id": {"type": ["integer", "string"], "description": "The booking's id."},
        "event_type": {"type": "string", "description": "The slug of the kind of meeting booked.", "examples": ["30-min-consultation"]},
        "date": {"type": "string", "format": "date", "description": "The meeting's day (YYYY-MM-DD)."},
        "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "Its start, 24-hour HH:MM."},
        "duration": {"type": "integer", "minimum": 1, "description": "Minutes."},
        "invitee": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string", "format": "email"}
            },
            "required": ["name", "email"]
        },
        "location": {"type": "string", "description": "Where it takes place, e.g. Zoom or an address."},
        "meeting_link": {"type": "string", "format": "uri"}
    })
}

fn payment_properties() -> Value {
    json!({
        "id": {"type": ["integer", "string"], "description": "The payment's id."},
        "booking_id": {"type": ["integer", "string"], "description": "The booking paid for."},
        "amount": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "description": "Decimal, in `currency`."},
        "currency": {"type": "string", "description": "ISO 4217, e.g. USD."},
        "event_type": {"type": "string"},
        "invitee": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}}
        }
    })
}

fn schema_of(t: EventType, properties: Value, required: &[&str]) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{} data", t.as_str()),
        "description": t.description(),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": true
    })
}

/// The JSON Schema of the event's `data`.
pub fn schema(t: EventType) -> Value {
    let booking_required = ["id", "event_type", "date", "time", "duration", "invitee"];
    match t {
        EventType::PaymentCompleted | EventType::PaymentFailed | EventType::PaymentRefunded => {
            let mut p = payment_properties();
            if t == EventType::PaymentFailed {
                p["failure_reason"] = json!({"type": "string"});
            }
            if t == EventType::PaymentRefunded {
                p["refunded_at"] = json!({"type": "string", "format": "date-time"});
            }
            schema_of(t, p, &["id", "amount", "currency"])
        }
        _ => {
            let mut p = booking_properties();
            match t {
                EventType::EventRescheduled => {
                    p["previous_date"] = json!({"type": "string", "format": "date"});
                    p["previous_time"] = json!({"type": "string"});
                }
                EventType::EventCancelled | EventType::BookingCancelled => {
                    p["reason"] = json!({"type": "string", "description": "Why, as the person who cancelled gave it."});
                }
                EventType::WebhookTest => {
                    p["test"] = json!({"type": "boolean", "const": true});
                }
                _ => {}
            }
            schema_of(t, p, &booking_required)
        }
    }
}

/// A realistic `data` for the type, dated a few days after `now_ms` (a reminder: the meeting is
/// today; a follow-up: it was yesterday).
pub fn example(t: EventType, now_ms: i64) -> Value {
    let day = |offset_days: i64| {
        chrono::DateTime::from_timestamp_millis(now_ms + offset_days * 86_400_000)
            .unwrap_or_default()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string()
    };
    let mut booking = json!({
        "id": 123,
        "event_type": "30-min-consultation",
        "date": day(5),
        "time": "14:00",
        "duration": 30,
        "invitee": {"name": "Jane Smith", "email": "jane@example.com"},
        "location": "Zoom",
        "meeting_link": "https://zoom.us/j/1234567890"
    });
    let payment = |extra: Value| {
        let mut p = json!({
            "id": 9001,
            "booking_id": 123,
            "amount": "49.00",
            "currency": "USD",
            "event_type": "30-min-consultation",
            "invitee": {"name": "Jane Smith", "email": "jane@example.com"}
        });
        if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
            p.extend(extra);
        }
        p
    };
    match t {
        EventType::PaymentCompleted => payment(json!({})),
        EventType::PaymentFailed => payment(json!({"failure_reason": "card_declined"})),
        EventType::PaymentRefunded => {
            payment(json!({"refunded_at": format!("{}T09:15:00Z", day(1))}))
        }
        EventType::EventRescheduled => {
            booking["previous_date"] = json!(day(3));
            booking["previous_time"] = json!("10:00");
            booking
        }
        EventType::EventCancelled | EventType::BookingCancelled => {
            booking["reason"] = json!("Something came up, sorry!");
            booking
        }
        EventType::EventReminder => {
            booking["date"] = json!(day(0));
            booking
        }
        EventType::EventFollowUp => {
            booking["date"] = json!(day(-1));
            booking
        }
        EventType::EventUpdated => {
            booking["location"] = json!("Google Meet");
            booking["meeting_link"] = json!("https://meet.google.com/abc-defg-hij");
            booking
        }
        EventType::WebhookTest => {
            booking["test"] = json!(true);
            booking
        }
        _ => booking,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_has_its_schemas_required_fields_with_the_declared_types() {
        for t in EventType::ALL {
            let (s, e) = (schema(t), example(t, 1_736_935_800_000));
            for field in s["required"].as_array().unwrap() {
                let name = field.as_str().unwrap();
                assert!(e.get(name).is_some(), "{t}: example lacks {name}");
            }
            for (name, value) in e.as_object().unwrap() {
                let Some(declared) = s["properties"].get(name) else {
                    panic!("{t}: {name} is not in the schema");
                };
                let types: Vec<&str> = match &declared["type"] {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("{t}.{name}: no type"),
                };
                let actual = match value {
                    Value::String(_) => "string",
                    Value::Number(n) if n.is_i64() => "integer",
                    Value::Bool(_) => "boolean",
                    Value::Object(_) => "object",
                    other => panic!("{t}.{name}: unexpected {other}"),
                };
                assert!(
                    types.contains(&actual),
                    "{t}.{name}: {actual} not in {types:?}"
                );
            }
        }
    }

    #[test]
    fn the_catalog_booking_is_the_contracts_example() {
        let e = example_event(EventType::BookingCreated);
        assert_eq!(e["data"]["date"], "2025-01-20");
        assert_eq!(e["data"]["time"], "14:00");
        assert_eq!(e["data"]["invitee"]["name"], "Jane Smith");
    }

    #[test]
    fn the_test_event_is_marked_and_dated_ahead() {
        let e = example(EventType::WebhookTest, 1_736_935_800_000);
        assert_eq!(e["test"], true);
        assert_eq!(e["date"], "2025-01-20");
    }
}
