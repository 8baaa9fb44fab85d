//! When and about what an event is published: a scheduled time (`deliver_at`) and the key of
//! the entity it is about (`key`), each parsed once here for every entry point.

use serde_json::Value;

/// The longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 200;
/// How far ahead an event may be scheduled.
pub const MAX_SCHEDULE_AHEAD_MS: i64 = 366 * 24 * 3_600_000;

/// The entity an event is about, e.g. `booking-123`: its deliveries carry it
/// (`X-Webhook-Key`), are numbered per webhook and key (`X-Webhook-Sequence`), and go one at a
/// time per key to an ordered webhook.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey(String);

impl EventKey {
    /// 1 to [`MAX_KEY_CHARS`] printable ASCII characters (it is sent as a header value).
    pub fn parse(s: &str) -> Result<EventKey, String> {
        if s.is_empty() {
            return Err("`key` cannot be empty.".into());
        }
        if s.chars().count() > MAX_KEY_CHARS {
            return Err(format!("`key` is longer than {MAX_KEY_CHARS} characters."));
        }
        if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(
                "`key` must be printable ASCII (letters, digits, spaces and punctuation).".into(),
            );
        }
        Ok(EventKey(s.to_string()))
    }

    /// The default key of an event: its `data.id` as text (a string as it is, a number in
    /// decimal), when that makes a valid key.
    pub fn from_data(data: &Value) -> Option<EventKey> {
        match data.get("id")? {
            Value::String(s) => EventKey::parse(s).ok(),
            Value::Number(n) => EventKey::parse(&n.to_string()).ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `deliver_at` (RFC 3339) as ms since the epoch: at most [`MAX_SCHEDULE_AHEAD_MS`] after
/// `now_ms`. A time in the past is kept as it is (the publish sends it at once).
pub fn parse_deliver_at(s: &str, now_ms: i64) -> Result<i64, String> {
    let at = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|_| {
            format!(
                "`deliver_at` must be an RFC 3339 time such as \"2025-01-20T13:45:00Z\"; got \"{}\".",
                s.chars().take(64).collect::<String>()
            )
        })?
        .timestamp_millis();
    if at > now_ms + MAX_SCHEDULE_AHEAD_MS {
        return Err("`deliver_at` is more than 366 days ahead.".into());
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_bounded_and_default_to_data_id() {
        assert!(EventKey::parse("booking-123").is_ok());
        assert!(EventKey::parse("").is_err());
        assert!(EventKey::parse(&"k".repeat(200)).is_ok());
        assert!(EventKey::parse(&"k".repeat(201)).is_err());
        assert!(EventKey::parse("café").is_err());
        assert!(EventKey::parse("a\nb").is_err());
        assert_eq!(
            EventKey::from_data(&json!({"id": 123})).unwrap().as_str(),
            "123"
        );
        assert_eq!(
            EventKey::from_data(&json!({"id": "bk_9"}))
                .unwrap()
                .as_str(),
            "bk_9"
        );
        assert_eq!(EventKey::from_data(&json!({"id": null})), None);
        assert_eq!(EventKey::from_data(&json!({"uid": 1})), None);
    }

    #[test]
    fn deliver_at_is_rfc3339_and_at_most_366_days_ahead() {
        let now = 1_736_000_000_000;
        assert_eq!(
            parse_deliver_at("2025-01-04T14:13:20Z", now).unwrap(),
            1_736_000_000_000
        );
        assert_eq!(
            parse_deliver_at("2025-01-04T15:13:20+01:00", now).unwrap(),
            1_736_000_000_000
        );
        assert!(parse_deliver_at("2020-01-01T00:00:00Z", now).unwrap() < now);
        assert!(parse_deliver_at("tomorrow", now)
            .unwrap_err()
            .contains("deliver_at"));
        assert!(parse_deliver_at("2026-01-06T00:00:00Z", now)
            .unwrap_err()
            .contains("366"));
        assert!(parse_deliver_at("2026-01-04T00:00:00Z", now).is_ok());
    }
}
