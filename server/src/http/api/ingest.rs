//! `POST /api/v1/events`: the scheduling app publishes an event; it is fanned out to the
//! account's subscribed webhooks and answered `202` once stored.

use app::domain::EventType;
use app::queue::{PublishError, PublishRequest, Targets};
use app::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::ApiAccount;
use super::error::ApiError;

/// The largest request body accepted (bigger ones get `413`).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = super::types::PublishEvent,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A repeat within 24 hours returns the first answer and creates nothing")),
    responses(
        (status = 202, description = "Stored and queued for every active subscribed webhook", body = super::types::Published),
        (status = 400, description = "Malformed JSON", body = super::types::ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = super::types::ErrorBody),
        (status = 413, description = "Body over 256 KiB", body = super::types::ErrorBody),
        (status = 422, description = "Unknown event type, `data` not an object, or an Idempotency-Key reused for another event", body = super::types::ErrorBody),
        (status = 503, description = "Storage unavailable (full disk, database unreachable); nothing was stored — retry after `Retry-After` seconds", body = super::types::ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "publish_event", account_id = %account.account_id))]
pub async fn publish_event(
    State(state): State<AppState>,
    account: ApiAccount,
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
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(mut obj) = value else {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "The body must be a JSON object: {\"event\": \"booking.created\", \"data\": {…}}.",
        ));
    };
    let event_type = match obj.get("event") {
        Some(Value::String(name)) => {
            EventType::parse(name).map_err(|m| ApiError::unprocessable("unknown_event_type", m))?
        }
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
        .publish(PublishRequest {
            account_id: account.account_id,
            event_type,
            data,
            idempotency_key,
            targets: Targets::Subscribed,
        })
        .await
        .map_err(|e| match e {
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
        })?;

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
