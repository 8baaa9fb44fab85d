//! An event as a short human message: what the chat formats show.

use serde_json::Value;

/// One event in words: a title ("New booking"), the one-line summary chat apps notify with
/// ("New booking: Jane Smith — 30-min consultation, Mon 20 Jan 2025 14:00 (30 min, Zoom)"),
/// the details as label/value pairs, and the meeting link when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub title: String,
    pub summary: String,
    pub facts: Vec<(&'static str, String)>,
    pub link: Option<String>,
    pub timestamp: Option<String>,
    pub event_type: String,
}

fn title_of(event_type: &str) -> String {
    match event_type {
        "event.created" => "New event",
        "event.updated" => "Event updated",
        "event.cancelled" => "Event cancelled",
        "event.rescheduled" => "Event rescheduled",
        "event.reminder" => "Reminder",
        "event.follow_up" => "Follow-up",
        "booking.created" => "New booking",
        "booking.confirmed" => "Booking confirmed",
        "booking.cancelled" => "Booking cancelled",
        "payment.completed" => "Payment received",
        "payment.failed" => "Payment failed",
        "payment.refunded" => "Payment refunded",
        "webhook.test" => "Test event",
        "webhook.disabled" => "Webhook paused",
        "webhook.failing" => "Webhook failing",
        other => return other.to_string(),
    }
    .to_string()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn at<'a>(data: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(data, |v, k| v.get(*k))
}

/// `30-min-consultation` → `30-min consultation`: hyphens become spaces except the one joining
/// a number to its unit.
fn humanize_slug(slug: &str) -> String {
    if slug.contains(' ') || !slug.contains('-') {
        return slug.to_string();
    }
    let words: Vec<&str> = slug.split('-').filter(|w| !w.is_empty()).collect();
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            let prev_is_number = words[i - 1].chars().all(|c| c.is_ascii_digit());
            out.push(if prev_is_number { '-' } else { ' ' });
        }
        out.push_str(w);
    }
    out
}

/// `2025-01-20` + `14:00` → `Mon 20 Jan 2025 14:00`; anything unparseable is shown as given.
fn when(data: &Value) -> Option<String> {
    let date = at(data, &["date"]).and_then(text);
    let time = at(data, &["time"]).and_then(text);
    let day = date.as_deref().map(|d| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|n| n.format("%a %-d %b %Y").to_string())
            .unwrap_or_else(|_| d.to_string())
    });
    match (day, time) {
        (Some(d), Some(t)) => Some(format!("{d} {t}")),
        (Some(d), None) => Some(d),
        (None, Some(t)) => Some(t),
        (None, None) => at(data, &["start_time"]).and_then(text),
    }
}

fn amount(data: &Value) -> Option<String> {
    let amount = at(data, &["amount"]).and_then(text)?;
    Some(match at(data, &["currency"]).and_then(text) {
        Some(c) => format!("{amount} {}", c.to_uppercase()),
        None => amount,
    })
}

fn link(data: &Value) -> Option<String> {
    ["meeting_link", "url", "link", "booking_url"]
        .iter()
        .filter_map(|k| at(data, &[k]).and_then(text))
        .find(|u| u.starts_with("https://") || u.starts_with("http://"))
}

impl Message {
    /// Reads the seed JSON (`{"event","timestamp","data"}`); a body that is not JSON still gives
    /// a message naming the event.
    pub fn from_body(event_type: &str, body: &str) -> Message {
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let data = value.get("data").cloned().unwrap_or(Value::Null);
        let timestamp = value.get("timestamp").and_then(text);
        Message::from_data(event_type, &data, timestamp)
    }

    pub fn from_data(event_type: &str, data: &Value, timestamp: Option<String>) -> Message {
        let title = title_of(event_type);
        let who = at(data, &["invitee", "name"])
            .or_else(|| at(data, &["invitee", "email"]))
            .or_else(|| at(data, &["customer", "name"]))
            .and_then(text);
        let email = at(data, &["invitee", "email"]).and_then(text);
        let what = at(data, &["event_type"])
            .and_then(text)
            .map(|s| humanize_slug(&s))
            .or_else(|| at(data, &["title"]).and_then(text));
        let when = when(data);
        let duration = at(data, &["duration"])
            .and_then(text)
            .map(|d| format!("{d} min"));
        let location = at(data, &["location"]).and_then(text);
        let amount = amount(data);
        let reason = at(data, &["reason"])
            .or_else(|| at(data, &["message"]))
            .and_then(text);
        let id = at(data, &["id"]).and_then(text);

        let head = if event_type.starts_with("payment.") {
            [amount.clone(), what.clone()]
        } else {
            [what.clone(), when.clone()]
        };
        let head: Vec<String> = head.into_iter().flatten().collect();
        let extras: Vec<String> = if event_type.starts_with("payment.") {
            Vec::new()
        } else {
            [duration.clone(), location.clone()]
                .into_iter()
                .flatten()
                .collect()
        };
        let mut summary = title.clone();
        let mut sep = ": ";
        if let Some(w) = &who {
            summary.push_str(sep);
            summary.push_str(w);
            sep = " — ";
        }
        if !head.is_empty() {
            summary.push_str(sep);
            summary.push_str(&head.join(", "));
        }
        if !extras.is_empty() {
            summary.push_str(&format!(" ({})", extras.join(", ")));
        }
        if let Some(r) = &reason {
            summary.push_str(&format!(" — {r}"));
        }
        if event_type == "webhook.test" {
            summary = format!(
                "Test event from SchedulingKit: this webhook is set up correctly. {summary}"
            );
        }

        let facts: Vec<(&'static str, String)> = [
            ("Invitee", who),
            (
                "E-mail",
                email.filter(|_| at(data, &["invitee", "name"]).is_some()),
            ),
            ("Event type", what),
            ("When", when),
            ("Duration", duration),
            ("Location", location),
            ("Amount", amount),
            ("Reason", reason),
            ("Booking", id),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();

        Message {
            title,
            summary,
            facts,
            link: link(data),
            timestamp,
            event_type: event_type.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{ "event": "booking.created", "timestamp": "2025-01-15T10:30:00Z", "data": { "id": 123, "event_type": "30-min-consultation", "date": "2025-01-20", "time": "14:00", "duration": 30, "invitee": { "name": "Jane Smith", "email": "jane@example.com" }, "location": "Zoom", "meeting_link": "https://zoom.us/j/123" } }"#;

    #[test]
    fn the_seed_booking_reads_as_the_issue_says() {
        let m = Message::from_body("booking.created", SEED);
        assert_eq!(
            m.summary,
            "New booking: Jane Smith — 30-min consultation, Mon 20 Jan 2025 14:00 (30 min, Zoom)"
        );
        assert_eq!(m.link.as_deref(), Some("https://zoom.us/j/123"));
        assert_eq!(m.timestamp.as_deref(), Some("2025-01-15T10:30:00Z"));
        assert!(m
            .facts
            .contains(&("E-mail", "jane@example.com".to_string())));
    }

    #[test]
    fn each_type_has_its_own_title_and_missing_fields_are_left_out() {
        let m = Message::from_body(
            "booking.cancelled",
            r#"{"data":{"invitee":{"name":"Ann"}}}"#,
        );
        assert_eq!(m.summary, "Booking cancelled: Ann");
        let m = Message::from_body(
            "payment.completed",
            r#"{"data":{"amount":"49.00","currency":"usd","invitee":{"name":"Bo"}}}"#,
        );
        assert_eq!(m.summary, "Payment received: Bo — 49.00 USD");
        let m = Message::from_body("event.reminder", "not json");
        assert_eq!(m.summary, "Reminder");
        assert!(m.link.is_none());
    }

    #[test]
    fn only_web_links_are_linked() {
        let m = Message::from_body(
            "event.created",
            r#"{"data":{"meeting_link":"javascript:alert(1)"}}"#,
        );
        assert!(m.link.is_none());
    }

    #[test]
    fn slugs_read_as_words() {
        assert_eq!(humanize_slug("30-min-consultation"), "30-min consultation");
        assert_eq!(humanize_slug("sales-demo"), "sales demo");
        assert_eq!(humanize_slug("Intro call"), "Intro call");
    }
}
