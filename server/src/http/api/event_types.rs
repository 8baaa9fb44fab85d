//! The event catalog over the API, and sample events for Zapier / Make.

use app::domain::{catalog, EventType};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::auth::{ApiAccount, DeliveriesRead, WebhooksRead};
use super::error::ApiError;
use super::types::{ErrorBody, EventTypeInfo, EventTypeList};

#[utoipa::path(get, path = "/api/v1/event-types", tag = "events", security(("bearer" = ["webhooks:read"])),
    operation_id = "listEventTypes",
    responses((status = 200, description = "The 13 event types: description, JSON Schema of `data`, an example", body = EventTypeList),
        (status = 401, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "event_types", account_id = %_account.account_id))]
pub async fn list(_account: ApiAccount<WebhooksRead>) -> Json<EventTypeList> {
    Json(EventTypeList {
        data: EventType::ALL
            .into_iter()
            .map(|t| EventTypeInfo {
                name: t.as_str().to_string(),
                description: t.description().to_string(),
                subscribable: t != EventType::WebhookTest,
                schema: catalog::schema(t),
                example: catalog::example_event(t),
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/event-types/{type}/samples", tag = "events", security(("bearer" = ["deliveries:read"])),
    operation_id = "listEventSamples",
    params(("type" = String, Path, description = "An event type, e.g. `booking.created`")),
    responses((status = 200, description = "A JSON array (not wrapped): the account's last three events of this type as delivered (`{event, timestamp, data}`, newest first, test sends left out), or the catalog's example when there are none — Zapier's \"perform list\"", body = [Object]),
        (status = 401, body = ErrorBody), (status = 404, description = "No such event type", body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "event_samples", account_id = %account.account_id))]
pub async fn samples(
    State(state): State<AppState>,
    account: ApiAccount<DeliveriesRead>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let t = EventType::parse(&name)
        .map_err(|e| ApiError::new(axum::http::StatusCode::NOT_FOUND, "unknown_event_type", e))?;
    Ok(Json(
        app::event_types::samples::samples(&state.db, account.account_id, t).await?,
    ))
}
