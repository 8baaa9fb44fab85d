//! Send test event: queue a test event (`webhook.test`, or a type the webhook subscribes to,
//! with the catalog's example) for one webhook and report its first attempt.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::time::Duration;

use crate::domain::{catalog, AccountId, DeliveryId, EventKey, EventSet, EventType, WebhookId};
use crate::entities::{attempt, delivery, now_ms};
use crate::error::AppError;
use crate::queue::{PublishError, PublishRequest, Targets};
use crate::state::AppState;
use crate::webhooks::model::TestOutcome;

/// Which type a test sends: `webhook.test` (empty input), or one the webhook subscribes to;
/// anything else is an error for the `event` field.
pub fn test_event_type(
    model: &crate::entities::webhook::Model,
    input: &str,
) -> Result<EventType, AppError> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(EventType::WebhookTest);
    }
    let t = EventType::parse(input).map_err(|e| AppError::field("event", e))?;
    let subscribed = EventSet::from_stored(&model.events);
    if t == EventType::WebhookTest || subscribed.contains(t) {
        Ok(t)
    } else {
        Err(AppError::field(
            "event",
            format!(
                "This webhook is not subscribed to {t}: subscribe it first, or send webhook.test."
            ),
        ))
    }
}

/// Queues a test event for one webhook and waits for its first attempt. Its `data` is the
/// catalog's example with `"test": true`; it cancels nothing and has a key of its own, so it
/// never waits behind (or holds up) a real booking's deliveries.
pub async fn send_test(
    state: &AppState,
    account_id: AccountId,
    id: WebhookId,
    event: &str,
) -> Result<TestOutcome, AppError> {
    let model = crate::entities::scope::owned_webhook(&state.db, account_id, id).await?;
    let event_type = test_event_type(&model, event)?;
    let mut data = catalog::example(event_type, now_ms());
    data["test"] = serde_json::Value::Bool(true);
    let mut request = PublishRequest::now(account_id, event_type, data, Targets::Only(model.id));
    request.cancel_scheduled = false;
    request.key = EventKey::parse("webhook-test").ok();
    let published = state
        .publisher
        .publish(request)
        .await
        .map_err(|e| match e {
            PublishError::WebhookNotFound => AppError::NotFound,
            PublishError::StorageUnavailable => AppError::Unavailable,
            PublishError::Db(db) => db.into(),
            other => {
                tracing::error!(error = %other, "test event refused");
                AppError::Internal
            }
        })?;
    let delivery_id = *published.delivery_ids.first().ok_or(AppError::Internal)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(model.timeout_secs as u64 + 5);
    loop {
        let out = outcome(&state.db, model.id, delivery_id).await?;
        if out.finished || tokio::time::Instant::now() >= deadline {
            return Ok(out);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first attempt of one of this webhook's deliveries.
pub async fn outcome(
    db: &DatabaseConnection,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
) -> Result<TestOutcome, AppError> {
    let d = delivery::Entity::find_by_id(delivery_id)
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let first = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(attempt::Column::Number)
        .one(db)
        .await?;
    let retry_at = d.waiting_until();
    Ok(match first {
        None => TestOutcome {
            delivery_id: delivery_id.to_string(),
            finished: false,
            succeeded: false,
            status_code: None,
            duration_ms: None,
            error: None,
            retry_at: None,
        },
        Some(a) => TestOutcome {
            delivery_id: delivery_id.to_string(),
            finished: true,
            succeeded: a.error_kind.is_none(),
            status_code: a.response_status,
            duration_ms: Some(a.duration_ms),
            error: a.error_message,
            retry_at,
        },
    })
}
