use serde::{Deserialize, Serialize};

use crate::deliveries::{DeliveryRow, HourBucket};
use crate::domain::WebhookInput;

/// A row of the webhooks list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSummary {
    pub id: crate::domain::WebhookId,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: i64,
    /// Why it was paused automatically, if it was.
    pub disabled_reason: Option<String>,
    pub last_delivery: Option<DeliveryRow>,
    /// Succeeded and total finished deliveries over the last 24 hours.
    pub succeeded_24h: i64,
    pub finished_24h: i64,
    /// Deliveries kept while it is paused (sent or discarded when it is switched back on).
    pub held_count: i64,
}

/// One webhook, for its edit page. The secret itself is only sent when asked for (Reveal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDetail {
    pub id: crate::domain::WebhookId,
    pub name: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    pub timeout_secs: i32,
    pub retry_attempts: i32,
    pub secret_masked: String,
    pub secret: Option<String>,
    /// While the previous secret still signs (after a rotation): until when.
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When and why it was paused automatically, if it was.
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    /// The last 24 hours of finished deliveries, hour by hour.
    pub hourly: Vec<HourBucket>,
    /// Deliveries with the same key go one at a time, in publish order.
    pub ordered: bool,
    /// The shape of its requests (`domain::WebhookFormat::as_str`).
    pub format: String,
    /// The names of its custom headers (their values never leave the server).
    pub header_names: Vec<String>,
    /// Only events this expression matches are sent; empty: every event.
    pub filter: String,
    /// With a filter: the account's last events of the subscribed types, and whether the
    /// filter matches each (newest first).
    pub filter_preview: Vec<FilterCheck>,
    /// The body template (kept when another format is chosen) and its Content-Type.
    pub template: String,
    pub content_type: String,
    /// Deliveries scheduled for later (not yet due).
    pub scheduled: u64,
    /// Deliveries kept while it is paused (sent or discarded when it is switched back on).
    pub held_count: i64,
}

impl WebhookDetail {
    pub fn to_input(&self) -> WebhookInput {
        WebhookInput {
            name: self.name.clone(),
            url: self.url.clone(),
            events: self.events.clone(),
            active: self.active,
            timeout_secs: self.timeout_secs.to_string(),
            retry_attempts: self.retry_attempts.to_string(),
            description: self.description.clone(),
            ordered: self.ordered,
            format: self.format.clone(),
            headers: crate::domain::custom_headers::masked_text(&self.header_names),
            filter: self.filter.clone(),
            template: self.template.clone(),
            content_type: self.content_type.clone(),
        }
    }
}

/// The first attempt of a test event, as the edit page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub delivery_id: String,
    /// False while no attempt has finished yet.
    pub finished: bool,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub duration_ms: Option<i32>,
    pub error: Option<String>,
    /// When the next automatic retry is due, if the attempt failed and tries are left.
    pub retry_at: Option<i64>,
}

/// One recent event and what the webhook's filter says of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCheck {
    pub event_type: String,
    pub created_at: i64,
    /// A short description of the event (`domain::Message`'s summary).
    pub summary: String,
    pub matched: bool,
}

/// An event the preview can render: a type's catalog example or one of the account's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewSource {
    /// `example:<type>` or `event:<id>`.
    pub value: String,
    pub label: String,
}

/// The request a webhook would send for one event, as built by the dispatcher's own code:
/// body and headers byte for byte, but for the delivery id and time (each delivery's own) and
/// the custom header values (shown as `***`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPreview {
    /// What can be previewed (the subscribed types' examples, then the account's recent events).
    pub sources: Vec<PreviewSource>,
    /// The source shown (one of `sources`).
    pub source: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Why this event would not be sent (the filter leaves it out, the template fails on it).
    pub note: Option<String>,
}
