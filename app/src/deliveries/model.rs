use serde::{Deserialize, Serialize};

/// Deliveries per page of the log.
pub const PAGE_SIZE: u64 = 50;

/// A row of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub event_type: String,
    /// `scheduled`, `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// A scheduled delivery: when it was (or is) due first.
    pub deliver_at: Option<i64>,
    /// The entity the event is about (`X-Webhook-Key`) and the delivery's number among this
    /// webhook's deliveries with that key (`X-Webhook-Sequence`).
    pub key: Option<String>,
    pub sequence: Option<i64>,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_duration_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// When pending and waiting: when the next try is due.
    pub next_attempt_at: Option<i64>,
    /// Being sent right now.
    pub in_flight: bool,
}

impl DeliveryRow {
    pub fn is_pending(&self) -> bool {
        self.status == "pending"
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPage {
    pub rows: Vec<DeliveryRow>,
    /// Pass as `cursor` to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One attempt, as the detail page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub number: i32,
    /// `auto` or `manual`.
    pub trigger: String,
    pub started_at: i64,
    pub duration_ms: i32,
    pub request_headers: Vec<(String, String)>,
    pub response_status: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDetail {
    pub delivery: DeliveryRow,
    pub webhook_id: crate::domain::WebhookId,
    pub webhook_name: String,
    pub url: String,
    pub event_id: String,
    /// The exact body sent (`raw`) and the same, indented for reading (`pretty`).
    pub body_raw: String,
    pub body_pretty: String,
    /// Newest first.
    pub attempts: Vec<AttemptView>,
}

/// Succeeded and failed deliveries that finished in one hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourBucket {
    pub hour_start: i64,
    pub succeeded: i32,
    pub failed: i32,
}

/// The log's filters and position, as parsed from the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFilter {
    pub status: Option<String>,
    pub event: Option<String>,
    pub cursor: Option<String>,
}

impl LogFilter {
    /// Empty strings mean "any"; unknown values are errors.
    pub fn parse(status: &str, event: &str, cursor: &str) -> Result<LogFilter, String> {
        let status = match status.trim() {
            "" | "all" => None,
            s @ ("scheduled" | "pending" | "succeeded" | "failed" | "cancelled" | "held") => {
                Some(s.to_string())
            }
            other => {
                return Err(format!(
                    "Unknown status \"{other}\": use scheduled, pending, succeeded, failed, cancelled or held."
                ))
            }
        };
        let event = match event.trim() {
            "" | "all" => None,
            e => Some(crate::domain::EventType::parse(e)?.as_str().to_string()),
        };
        let cursor = match cursor.trim() {
            "" => None,
            c if c.len() == 36 && c.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-') => {
                Some(c.to_string())
            }
            _ => return Err("The cursor is not one this API gave out.".into()),
        };
        Ok(LogFilter {
            status,
            event,
            cursor,
        })
    }

    /// The query string of this filter, for links (`?status=…&event=…&cursor=…`).
    pub fn query(&self, cursor: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.status {
            parts.push(format!("status={s}"));
        }
        if let Some(e) = &self.event {
            parts.push(format!("event={e}"));
        }
        if let Some(c) = cursor {
            parts.push(format!("cursor={c}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_strictly() {
        assert_eq!(LogFilter::parse("", "", "").unwrap(), LogFilter::default());
        let f = LogFilter::parse(
            "failed",
            "booking.created",
            "01234567-89ab-cdef-0123-456789abcdef",
        )
        .unwrap();
        assert_eq!(f.status.as_deref(), Some("failed"));
        assert_eq!(
            f.query(Some("x")),
            "?status=failed&event=booking.created&cursor=x"
        );
        assert!(LogFilter::parse("done", "", "").is_err());
        assert!(LogFilter::parse("", "booking.exploded", "").is_err());
        assert!(LogFilter::parse("", "", "'; drop table").is_err());
    }
}
