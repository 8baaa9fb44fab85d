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
    /// RFC 3339: deliver at this time (at most 366 days ahead; a past time means now). The
    /// body's `timestamp` is then this time.
    #[schema(example = "2025-01-20T13:45:00Z")]
    pub deliver_at: Option<String>,
    /// The entity the event is about (1–200 printable ASCII characters; default `data.id` as
    /// text). Sent as `X-Webhook-Key`, with `X-Webhook-Sequence` numbering the deliveries per
    /// webhook and key; ordered webhooks send one key's deliveries one at a time.
    #[schema(example = "booking-123")]
    pub key: Option<String>,
    /// Default true: an `event.cancelled`, `booking.cancelled` or `event.rescheduled` cancels the
    /// still-undelivered scheduled `event.reminder` and `event.follow_up` events of its key.
    pub cancel_scheduled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CancelledEvent {
    /// The event's id.
    pub id: String,
    /// How many of its deliveries were cancelled now (0 when all had ended).
    pub cancelled: u64,
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
    /// Deliveries with the same key are sent one at a time, in publish order.
    pub ordered: bool,
    /// The shape of the requests: `standard` (the JSON event), `slack`, `discord` or `teams`
    /// (a readable message for that app's incoming webhook), or `template` (the owner's own).
    #[schema(example = "standard")]
    pub format: String,
    /// Custom headers sent with every request: the names, each value shown as `***` (values
    /// are secrets and are never returned).
    #[schema(example = json!({"Authorization": "***"}))]
    pub headers: BTreeMap<String, String>,
    /// Only events this expression matches are sent (Jinja syntax over `event` and `data`);
    /// absent: every event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "data.event_type == \"sales-demo\" and data.duration >= 30")]
    pub filter: Option<String>,
    /// The body template (format `template`; kept while another format is chosen).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "{\"contact\": {{ data.invitee.email }}}")]
    pub template: Option<String>,
    /// The template's Content-Type: `application/json`, `application/x-www-form-urlencoded`
    /// or `text/plain`.
    #[schema(example = "application/json")]
    pub content_type: String,
    /// RFC 3339.
    pub created_at: String,
    /// Why the webhook was paused automatically, while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The signing secret: returned on create and on rotate only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Deliveries held while the webhook is paused; switching it on with `active: true` needs
    /// `held: "send" | "discard"` when this is not 0.
    pub held_count: i64,
}

impl Webhook {
    /// `secret`: the decrypted signing secret, on create and rotate only.
    pub fn from_model(
        m: app::entities::webhook::Model,
        secret: Option<String>,
        held_count: i64,
    ) -> Webhook {
        let headers = m
            .header_names()
            .into_iter()
            .map(|n| (n, app::domain::custom_headers::MASK.to_string()))
            .collect();
        Webhook {
            held_count,
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
            ordered: m.ordered,
            headers,
            filter: m.filter.clone(),
            template: m.template.clone(),
            content_type: m
                .content_type
                .as_deref()
                .and_then(|c| app::domain::BodyType::parse(c).ok())
                .unwrap_or_default()
                .as_str()
                .to_string(),
            format: m.format,
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
    /// Send deliveries with the same key one at a time, in publish order (default false).
    pub ordered: Option<bool>,
    /// `standard`, `slack`, `discord`, `teams` or `template`. Omitted: the app's format when `url` is a
    /// Slack, Discord or Microsoft Teams incoming-webhook address, else `standard`.
    #[schema(example = "slack")]
    pub format: Option<String>,
    /// Custom headers, name → value (at most 20; Content-Type, Content-Length, Host,
    /// User-Agent, hop-by-hop and `X-Webhook-*` / `Webhook-*` names are refused). Values are
    /// sealed at rest and shown as `***`.
    #[schema(example = json!({"Authorization": "Bearer crm-token"}))]
    pub headers: Option<BTreeMap<String, String>>,
    /// A boolean expression over `event` (the type) and `data` (Jinja syntax, e.g.
    /// `data.event_type == "sales-demo" and data.duration >= 30`): events it does not match
    /// create no delivery. Checked on save: syntax, and every `data` field against the event
    /// catalog.
    pub filter: Option<String>,
    /// With `format: "template"`, required: the body, in Jinja syntax over `event`,
    /// `timestamp` and `data`. For JSON each value prints as JSON (quotes included), so
    /// `{"email": {{ data.invitee.email }}}`. Checked on save: syntax (line and column),
    /// variables against the event catalog, and the output for each subscribed type's example
    /// (valid JSON for `application/json`).
    #[schema(example = "{\"contact\": {{ data.invitee.email }}, \"kind\": {{ event }}}")]
    pub template: Option<String>,
    /// The template's Content-Type: `application/json` (default),
    /// `application/x-www-form-urlencoded` (values percent-encoded) or `text/plain`.
    #[schema(example = "application/json")]
    pub content_type: Option<String>,
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
    pub ordered: Option<bool>,
    /// `standard`, `slack`, `discord`, `teams` or `template`.
    #[schema(example = "discord")]
    pub format: Option<String>,
    /// Replaces the whole set of custom headers (`{}` removes them all); a value of `***`
    /// keeps that header's stored value. Omitted: unchanged.
    #[schema(example = json!({"Authorization": "***", "X-Api-Key": "new-key"}))]
    pub headers: Option<BTreeMap<String, String>>,
    /// The filter (see `CreateWebhook`); `""` removes it. Omitted: unchanged.
    pub filter: Option<String>,
    /// The template (see `CreateWebhook`). Omitted: unchanged.
    pub template: Option<String>,
    /// The template's Content-Type (see `CreateWebhook`). Omitted: unchanged.
    pub content_type: Option<String>,
    /// With `active: true` on a paused webhook that holds deliveries (`held_count` > 0),
    /// required: `send` (they are sent, in publish order) or `discard` (they are deleted).
    /// Missing then: `422 validation_failed` naming `held`, and nothing changes.
    #[schema(example = "send")]
    pub held: Option<String>,
}

/// A bulk replay of a webhook's deliveries. Every field is optional.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// `failed` (default) or `succeeded`: only deliveries in this state now are replayed.
    pub status: Option<String>,
    /// Only this event type.
    pub event: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Created at or before this time (RFC 3339).
    pub until: Option<String>,
    /// Count only; queue nothing.
    pub dry_run: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayResult {
    /// Deliveries matching the filter now.
    pub matched: u64,
    /// Queued again by this call (0 on a dry run): at most `cap`, oldest first; call again
    /// for the rest.
    pub queued: u64,
    /// The most one call queues (10 000).
    pub cap: u64,
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
    /// `scheduled` (waiting for its `deliver_at`), `pending`, `succeeded`, `failed`,
    /// `cancelled` or `held` (kept while the webhook is paused).
    pub status: String,
    /// A scheduled delivery's time (RFC 3339).
    pub deliver_at: Option<String>,
    /// The event's key (`X-Webhook-Key`) and this delivery's number among the webhook's
    /// deliveries with that key (`X-Webhook-Sequence`).
    pub key: Option<String>,
    pub sequence: Option<i64>,
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
            deliver_at: r.deliver_at.map(rfc3339),
            key: r.key,
            sequence: r.sequence,
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
    /// `auto`, `manual` (Redeliver) or `replay` (a bulk replay).
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

/// One delivery: the fields of `Delivery`, with `attempts` the list of attempts instead of
/// their count, and the event's id and the exact body.
// Spelled out, not `#[serde(flatten)]` over `Delivery`: its integer `attempts` made the answer
// carry that key twice and the document an `allOf` no value satisfies (and no client generator
// accepts).
#[derive(Serialize, ToSchema)]
pub struct DeliveryWithAttempts {
    pub id: String,
    pub webhook_id: i64,
    pub event_type: String,
    /// `scheduled` (waiting for its `deliver_at`), `pending`, `succeeded`, `failed`,
    /// `cancelled` or `held` (kept while the webhook is paused).
    pub status: String,
    /// A scheduled delivery's time (RFC 3339).
    pub deliver_at: Option<String>,
    /// The event's key (`X-Webhook-Key`) and this delivery's number among the webhook's
    /// deliveries with that key (`X-Webhook-Sequence`).
    pub key: Option<String>,
    pub sequence: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_duration_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    /// While pending: when the next try is due (RFC 3339).
    pub next_attempt_at: Option<String>,
    pub event_id: String,
    /// The exact body sent.
    pub body: String,
    /// Newest first.
    pub attempts: Vec<Attempt>,
}

impl DeliveryWithAttempts {
    pub fn new(d: Delivery, event_id: String, body: String, attempts: Vec<Attempt>) -> Self {
        DeliveryWithAttempts {
            id: d.id,
            webhook_id: d.webhook_id,
            event_type: d.event_type,
            status: d.status,
            deliver_at: d.deliver_at,
            key: d.key,
            sequence: d.sequence,
            last_status_code: d.last_status_code,
            last_duration_ms: d.last_duration_ms,
            last_error: d.last_error,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            event_id,
            body,
            attempts,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    /// `redelivering` (a manual attempt of a finished delivery), `retrying_now` (a pending
    /// delivery's next try brought forward), `in_flight` (being sent already) or `held` (kept
    /// while its webhook is paused: nothing done).
    pub status: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `scheduled`, `pending`, `succeeded`, `failed`, `cancelled` or `held`.
    pub status: Option<String>,
    /// An event type.
    pub event: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<u64>,
}

/// Which test event to send. Every field is optional.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `webhook.test` (the default) or a type the webhook subscribes to; its catalog example is
    /// sent, with `"test": true` in `data`.
    #[schema(example = "booking.created")]
    pub event: Option<String>,
}

/// One event type of the catalog.
#[derive(Serialize, ToSchema)]
pub struct EventTypeInfo {
    /// e.g. `booking.created`.
    pub name: String,
    /// When it fires.
    pub description: String,
    /// False for `webhook.test`, which is sent on demand only.
    pub subscribable: bool,
    /// The JSON Schema (2020-12) of its `data`; fields not listed may appear.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
    /// An example event as delivered in the standard format.
    #[schema(value_type = Object)]
    pub example: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeInfo>,
}
