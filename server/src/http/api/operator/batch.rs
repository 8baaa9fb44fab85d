//! `POST /api/v1/events/batch`: up to 500 events for one or several accounts, in one request
//! and one commit. Each event is read and checked as the single publish reads its body; a bad
//! event fails alone, named by its index, and the others are published.

use std::collections::HashMap;

use app::domain::ExternalId;
use app::queue::PublishRequest;
use app::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::super::error::ApiError;
use super::super::ingest::{json_object, publish_error, EventFields, MAX_EVENT_BYTES};
use super::super::json::read_limited;
use super::super::types::ErrorBody;
use super::auth::Operator;
use super::types::{BatchResult, BatchResults, EventBatch};

/// The most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 500;
/// The largest batch body.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

#[utoipa::path(post, path = "/api/v1/events/batch", tag = "operator", operation_id = "publishBatch", security(("operatorKey" = [])),
    request_body = EventBatch,
    responses(
        (status = 200, description = "One result per event, in order: `202` with its id, or the error the single publish would have answered (the other events are published)", body = BatchResults),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid operator key", body = ErrorBody),
        (status = 413, description = "Body over 8 MiB", body = ErrorBody),
        (status = 422, description = "`events` missing, empty or over 500", body = ErrorBody),
        (status = 503, description = "Storage unavailable; nothing was stored", body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "publish_batch"))]
pub async fn publish_batch(
    State(state): State<AppState>,
    _op: Operator,
    body: axum::body::Body,
) -> Result<Json<BatchResults>, ApiError> {
    let bytes = read_limited(body, MAX_BATCH_BYTES).await?;
    let mut obj = json_object(&bytes)?;
    let events = match obj.remove("events") {
        Some(Value::Array(events)) => events,
        _ => {
            return Err(ApiError::invalid_field(
                "events",
                "`events` must be an array of events: {\"events\": [{\"account\": …, \"event\": …, \"data\": {…}}]}.",
            ))
        }
    };
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid_field(
            "events",
            format!("A batch holds 1 to {MAX_BATCH_EVENTS} events."),
        ));
    }
    let now = app::queue::clock::now(&state.db)
        .await
        .unwrap_or_else(|_| app::entities::now_ms());
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e.get("account").and_then(Value::as_str))
        .filter(|a| ExternalId::parse(a).is_ok())
        .collect();
    let accounts = app::operator::accounts::ids_of(&state.db, &names).await?;

    let mut results: Vec<Option<BatchResult>> = (0..events.len()).map(|_| None).collect();
    let mut reqs: Vec<PublishRequest> = Vec::new();
    let mut positions: Vec<usize> = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        match request_of(event, now, &accounts) {
            Ok(req) => {
                reqs.push(req);
                positions.push(index);
            }
            Err(e) => results[index] = Some(failed(index, &e)),
        }
    }
    let answers = state.publisher.publish_together(reqs).await;
    for (index, answer) in positions.into_iter().zip(answers) {
        results[index] = Some(match answer {
            Ok(p) => {
                if !p.replayed {
                    crate::metrics::metrics().events_published.inc();
                }
                BatchResult {
                    index,
                    status: StatusCode::ACCEPTED.as_u16(),
                    id: Some(p.event_id.to_string()),
                    deliveries: Some(p.deliveries),
                    replayed: p.replayed,
                    error: None,
                }
            }
            // One commit: storage failing fails them all, and the request says so.
            Err(app::queue::PublishError::StorageUnavailable) => {
                return Err(ApiError::storage_unavailable())
            }
            Err(e) => failed(index, &publish_error(e)),
        });
    }
    Ok(Json(BatchResults {
        results: results.into_iter().flatten().collect(),
    }))
}

fn failed(index: usize, e: &ApiError) -> BatchResult {
    BatchResult {
        index,
        status: e.status.as_u16(),
        id: None,
        deliveries: None,
        replayed: false,
        error: Some(e.detail()),
    }
}

/// One batch item as a publish, or why not.
fn request_of(
    event: Value,
    now: i64,
    accounts: &HashMap<String, app::domain::AccountId>,
) -> Result<PublishRequest, ApiError> {
    let size = serde_json::to_vec(&event).map(|b| b.len()).unwrap_or(0);
    if size > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("This event is larger than {} KiB.", MAX_EVENT_BYTES / 1024),
        ));
    }
    let Value::Object(mut obj) = event else {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "Each event must be a JSON object: {\"account\": …, \"event\": …, \"data\": {…}}.",
        ));
    };
    let account = match obj.get("account") {
        Some(Value::String(a)) => {
            let id = ExternalId::parse(a).map_err(|m| ApiError::invalid_field("account", m))?;
            *accounts.get(id.as_str()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_account",
                    format!("There is no account with the external id {id}."),
                )
            })?
        }
        _ => {
            return Err(ApiError::invalid_field(
                "account",
                "`account` must be the external id of an account, as a string.",
            ))
        }
    };
    let idempotency_key = match obj.get("idempotency_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "idempotency_key",
                "`idempotency_key` must be a string.",
            ))
        }
    };
    Ok(EventFields::parse(&mut obj, now)?.request(account, idempotency_key))
}
