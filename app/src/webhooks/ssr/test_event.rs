//! Send test event: queue `webhook.test` for one webhook and report its first attempt.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::time::Duration;

use crate::domain::{AccountId, DeliveryId, EventType, WebhookId};
use crate::entities::{attempt, delivery, now_ms};
use crate::error::AppError;
use crate::queue::{self, PublishError, PublishRequest, Targets};
use crate::state::AppState;
use crate::webhooks::model::TestOutcome;

/// Queues `webhook.test` for one webhook and waits for its first attempt.
pub async fn send_test(
    state: &AppState,
    account_id: AccountId,
    id: WebhookId,
) -> Result<TestOutcome, AppError> {
    let model = crate::entities::scope::owned_webhook(&state.db, account_id, id).await?;
    let data = queue::sample_booking(now_ms());
    let published = state
        .publisher
        .publish(PublishRequest::now(
            account_id,
            EventType::WebhookTest,
            data,
            Targets::Only(model.id),
        ))
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
