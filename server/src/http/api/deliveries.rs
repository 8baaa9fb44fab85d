//! The delivery log over the API.

use app::deliveries::{query, LogFilter};
use app::entities::scope::{owned_delivery as owned_delivery_row, owned_webhook};
use app::queue::Resend;
use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::Json;

use super::auth::{ApiAccount, DeliveriesRead, DeliveriesWrite};
use super::error::ApiError;
use super::types::{
    Attempt, Delivery, DeliveryList, DeliveryQuery, DeliveryWithAttempts, ErrorBody, Redelivery,
};
use super::webhooks::owned;

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "deliveries", operation_id = "listDeliveries", security(("bearer" = ["deliveries:read"])),
    params(("id" = i64, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "list", account_id = %account.account_id))]
pub async fn list(
    State(state): State<AppState>,
    account: ApiAccount<DeliveriesRead>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<DeliveryList>, ApiError> {
    let Query(q) = Query::<DeliveryQuery>::try_from_uri(&uri)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let webhook = owned(&state, account.account_id, &id).await?;
    let filter = LogFilter::parse(
        q.status.as_deref().unwrap_or_default(),
        q.event.as_deref().unwrap_or_default(),
        q.cursor.as_deref().unwrap_or_default(),
    )
    .map_err(|m| ApiError::unprocessable("invalid_filter", m))?;
    let limit = q.limit.unwrap_or(app::deliveries::PAGE_SIZE);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_filter",
            "`limit` must be between 1 and 100.",
        ));
    }
    let page = query::list(&state.db, webhook.id, &filter, limit).await?;
    Ok(Json(DeliveryList {
        data: page
            .rows
            .into_iter()
            .map(|r| Delivery::from_row(r, webhook.id.0))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One of the account's deliveries, by id, and its webhook.
async fn owned_delivery(
    state: &AppState,
    account_id: app::domain::AccountId,
    id: &str,
) -> Result<
    (
        app::entities::delivery::Model,
        app::entities::webhook::Model,
    ),
    ApiError,
> {
    let id: app::domain::DeliveryId = id.parse().map_err(|_| ApiError::not_found())?;
    let d = owned_delivery_row(&state.db, account_id, id).await?;
    let webhook = owned_webhook(&state.db, account_id, d.webhook_id).await?;
    Ok((d, webhook))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries", operation_id = "getDelivery", security(("bearer" = ["deliveries:read"])),
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryWithAttempts), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "get", account_id = %account.account_id))]
pub async fn get(
    State(state): State<AppState>,
    account: ApiAccount<DeliveriesRead>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryWithAttempts>, ApiError> {
    let (d, webhook) = owned_delivery(&state, account.account_id, &id).await?;
    let detail = query::detail(&state.db, &webhook, d.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(DeliveryWithAttempts::new(
        Delivery::from_row(detail.delivery, webhook.id.0),
        detail.event_id,
        detail.body_raw,
        detail
            .attempts
            .into_iter()
            .map(|a| Attempt {
                number: a.number,
                trigger: a.trigger,
                started_at: super::types::rfc3339(a.started_at),
                duration_ms: a.duration_ms,
                request_headers: a.request_headers.into_iter().collect(),
                response_status: a.response_status,
                response_headers: a.response_headers.into_iter().collect(),
                response_body: a.response_body,
                error_kind: a.error_kind,
                error_message: a.error_message,
            })
            .collect(),
    )))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/redeliver", tag = "deliveries", operation_id = "redeliver", security(("bearer" = ["deliveries:write"])),
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 202, body = Redelivery), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "redeliver", account_id = %account.account_id))]
pub async fn redeliver(
    State(state): State<AppState>,
    account: ApiAccount<DeliveriesWrite>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Redelivery>), ApiError> {
    let (d, webhook) = owned_delivery(&state, account.account_id, &id).await?;
    let done = app::queue::resend(&state.db, &state.wakeup, webhook.id, d.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let status = match done {
        Resend::Redelivering => "redelivering",
        Resend::RetryingNow => "retrying_now",
        Resend::InFlight => "in_flight",
        Resend::Held => "held",
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(Redelivery {
            status: status.into(),
        }),
    ))
}
