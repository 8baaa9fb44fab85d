//! The JSON shapes of the API (also its OpenAPI schemas).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An event for the account's subscribed webhooks. (The schema of the ingest body; the handler
/// reads the JSON itself so that each kind of mistake gets its own error code.)
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PublishEvent {
    /// One of the 13 event types, e.g. `booking.created`.
    #[schema(example = "booking.created")]
    pub event: String,
    /// The event's data, sent to receivers as it is.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Published {
    /// The event's id.
    pub id: String,
    /// How many webhooks it is being delivered to.
    pub deliveries: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `validation_failed`.
    pub code: String,
    pub message: String,
    /// With `validation_failed`: a message per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub timeout_secs: i32,
    pub retry_attempts: i32,
    pub description: String,
    /// RFC 3339.
    pub created_at: String,
    /// Why the webhook was paused automatically, while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The signing secret: returned on create and on rotate only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl Webhook {
    /// `secret`: the decrypted signing secret, on create and rotate only.
    pub fn from_model(m: app::entities::webhook::Model, secret: Option<String>) -> Webhook {
        Webhook {
            events: app::webhooks::ssr::event_names(&m),
            secret,
            disabled_reason: m.disabled_reason.clone().filter(|_| !m.active),
            id: m.id.0,
            name: m.name,
            url: m.url,
            active: m.active,
            timeout_secs: m.timeout_secs,
            retry_attempts: m.retry_attempts,
            description: m.description,
            created_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub data: Vec<Webhook>,
}

/// A new webhook. Omitted fields take their defaults (active, 30 s, 3 retries).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub name: String,
    /// `https://` only.
    pub url: String,
    /// At least one of the 12 business event types (`webhook.test` is sent on demand).
    pub events: Vec<String>,
    pub active: Option<bool>,
    /// 1–300, default 30.
    pub timeout_secs: Option<i64>,
    /// 0–10, default 3.
    pub retry_attempts: Option<i64>,
    pub description: Option<String>,
}

/// Changes to a webhook: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
    pub timeout_secs: Option<i64>,
    pub retry_attempts: Option<i64>,
    pub description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Secret {
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub delivery_id: String,
    /// False when no attempt finished within the webhook's timeout (it continues).
    pub finished: bool,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub duration_ms: Option<i32>,
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: i64,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_duration_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    /// While pending: when the next try is due (RFC 3339).
    pub next_attempt_at: Option<String>,
}

impl Delivery {
    pub fn from_row(r: app::deliveries::DeliveryRow, webhook_id: i64) -> Delivery {
        Delivery {
            id: r.id,
            webhook_id,
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_duration_ms: r.last_duration_ms,
            last_error: r.last_error,
            created_at: rfc3339(r.created_at),
            next_attempt_at: r.next_attempt_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub data: Vec<Delivery>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Attempt {
    pub number: i32,
    /// `auto` or `manual`.
    pub trigger: String,
    pub started_at: String,
    pub duration_ms: i32,
    pub request_headers: BTreeMap<String, String>,
    pub response_status: Option<i32>,
    pub response_headers: BTreeMap<String, String>,
    /// At most the first 16 KiB.
    pub response_body: Option<String>,
    /// `timeout`, `connect`, `dns`, `tls`, `redirect`, `status`, `blocked` or `io`.
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub event_id: String,
    /// The exact body sent.
    pub body: String,
    /// Newest first.
    pub attempts: Vec<Attempt>,
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    /// `redelivering` (a manual attempt of a finished delivery), `retrying_now` (a pending
    /// delivery's next try brought forward) or `in_flight` (being sent already).
    pub status: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// An event type.
    pub event: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<u64>,
}
