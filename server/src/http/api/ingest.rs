//! `POST /api/v1/events`: the scheduling app publishes an event (now, or scheduled with
//! `deliver_at`); it is fanned out to the account's subscribed webhooks and answered `202` once
//! stored. `DELETE /api/v1/events/{id}` cancels what of it has not been delivered.

use app::domain::{AccountId, EventKey, EventType};
use app::queue::{PublishError, PublishRequest, Targets};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::{ApiAccount, EventsPublish};
use super::error::ApiError;

/// The largest request body accepted (bigger ones get `413`).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

#[utoipa::path(post, path = "/api/v1/events", tag = "events", operation_id = "publishEvent", security(("bearer" = ["events:publish"])),
    request_body = super::types::PublishEvent,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A repeat within 24 hours returns the first answer and creates nothing")),
    responses(
        (status = 202, description = "Stored and queued for every active subscribed webhook (due at `deliver_at` when given)", body = super::types::Published),
        (status = 400, description = "Malformed JSON", body = super::types::ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = super::types::ErrorBody),
        (status = 413, description = "Body over 256 KiB", body = super::types::ErrorBody),
        (status = 422, description = "Unknown event type, `data` not an object, a bad `deliver_at`, `key` or `cancel_scheduled` (code `validation_failed`, naming the field), or an Idempotency-Key reused for another event", body = super::types::ErrorBody),
        (status = 503, description = "Storage unavailable (full disk, database unreachable); nothing was stored — retry after `Retry-After` seconds", body = super::types::ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "publish_event", account_id = %account.account_id))]
pub async fn publish_event(
    State(state): State<AppState>,
    account: ApiAccount<EventsPublish>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_EVENT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "The request body is larger than {} KiB.",
                    MAX_EVENT_BYTES / 1024
                ),
            )
        })?;
    let mut obj = json_object(&bytes)?;
    let now = app::queue::clock::now(&state.db)
        .await
        .unwrap_or_else(|_| app::entities::now_ms());
    let fields = EventFields::parse(&mut obj, now)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map(str::to_string).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "The Idempotency-Key must be visible ASCII.",
            )
        })?),
    };

    let published = state
        .publisher
        .publish(fields.request(account.account_id, idempotency_key))
        .await
        .map_err(publish_error)?;

    if !published.replayed {
        crate::metrics::metrics().events_published.inc();
    }
    let mut res = (
        StatusCode::ACCEPTED,
        Json(json!({ "id": published.event_id.to_string(), "deliveries": published.deliveries })),
    )
        .into_response();
    if published.replayed {
        res.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}

#[utoipa::path(delete, path = "/api/v1/events/{id}", tag = "events", operation_id = "cancelEvent", security(("bearer" = ["events:publish"])),
    params(("id" = String, Path, description = "Event id (from the publish answer)")),
    responses(
        (status = 200, description = "Its undelivered deliveries are cancelled (a request already in flight still ends; a 2xx then counts as delivered)", body = super::types::CancelledEvent),
        (status = 401, description = "Missing or invalid API key", body = super::types::ErrorBody),
        (status = 404, description = "No such event in this account", body = super::types::ErrorBody),
        (status = 503, description = "Storage unavailable; nothing was changed", body = super::types::ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "cancel_event", account_id = %account.account_id))]
pub async fn cancel_event(
    State(state): State<AppState>,
    account: ApiAccount<EventsPublish>,
    Path(id): Path<String>,
) -> Result<Json<super::types::CancelledEvent>, ApiError> {
    let event_id: app::domain::EventId = id.parse().map_err(|_| ApiError::not_found())?;
    let now = app::queue::clock::now(&state.db).await?;
    let cancelled = {
        let _turn = state.gate.enter().await;
        app::queue::cancel_event(&state.db, account.account_id, event_id, now).await?
    }
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(super::types::CancelledEvent {
        id: event_id.to_string(),
        cancelled,
    }))
}

/// A request body that must be a JSON object.
pub fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "The body must be a JSON object: {\"event\": \"booking.created\", \"data\": {…}}.",
        ));
    };
    Ok(obj)
}

/// One event's fields as published (`event`, `data`, `deliver_at`, `key`,
/// `cancel_scheduled`), checked: the one reading of them for the single and the batch routes.
pub struct EventFields {
    event_type: EventType,
    data: Value,
    deliver_at: Option<i64>,
    key: Option<EventKey>,
    cancel_scheduled: bool,
}

impl EventFields {
    /// Reads the fields from `obj` (taking `data` out of it); `now` bounds `deliver_at`.
    pub fn parse(obj: &mut serde_json::Map<String, Value>, now: i64) -> Result<Self, ApiError> {
        let event_type = match obj.get("event") {
            Some(Value::String(name)) => EventType::parse(name)
                .map_err(|m| ApiError::unprocessable("unknown_event_type", m))?,
            _ => {
                return Err(ApiError::unprocessable(
                    "unknown_event_type",
                    "`event` must be one of the event type names, e.g. \"booking.created\".",
                ))
            }
        };
        let data = match obj.remove("data") {
            Some(d @ Value::Object(_)) => d,
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_data",
                    "`data` must be a JSON object.",
                ))
            }
        };
        let deliver_at = match obj.get("deliver_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                app::domain::parse_deliver_at(s, now)
                    .map_err(|m| ApiError::invalid_field("deliver_at", m))?,
            ),
            Some(_) => return Err(ApiError::invalid_field(
                "deliver_at",
                "`deliver_at` must be an RFC 3339 time as a string, e.g. \"2025-01-20T13:45:00Z\".",
            )),
        };
        let key = match obj.get("key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(EventKey::parse(s).map_err(|m| ApiError::invalid_field("key", m))?)
            }
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "key",
                    "`key` must be a string, e.g. \"booking-123\".",
                ))
            }
        };
        let cancel_scheduled = match obj.get("cancel_scheduled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "cancel_scheduled",
                    "`cancel_scheduled` must be true or false.",
                ))
            }
        };
        Ok(EventFields {
            event_type,
            data,
            deliver_at,
            key,
            cancel_scheduled,
        })
    }

    /// The publish of these fields for `account_id`.
    pub fn request(self, account_id: AccountId, idempotency_key: Option<String>) -> PublishRequest {
        PublishRequest {
            idempotency_key,
            deliver_at: self.deliver_at,
            key: self.key,
            cancel_scheduled: self.cancel_scheduled,
            ..PublishRequest::now(account_id, self.event_type, self.data, Targets::Subscribed)
        }
    }
}

/// A publish's failure as the API answers it.
pub fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::BadIdempotencyKey => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            e.to_string(),
        ),
        PublishError::DataNotObject => ApiError::unprocessable("invalid_data", e.to_string()),
        PublishError::IdempotencyKeyReused => ApiError::unprocessable(
            "idempotency_key_reused",
            "This Idempotency-Key was already used within 24 hours for a different event \
             (another type or other data); use a new key for a new event.",
        ),
        PublishError::StorageUnavailable => ApiError::storage_unavailable(),
        PublishError::Db(db) => db.into(),
        other => ApiError::internal(other),
    }
}
