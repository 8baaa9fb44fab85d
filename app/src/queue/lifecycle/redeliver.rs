use crate::domain::{DeliveryId, WebhookId};
use crate::entities::delivery;
use crate::queue::{DeliveryStatus, Wakeup};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// What a request to send a delivery again did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// A finished delivery gets one manual attempt now (recorded, not retried automatically).
    Redelivering,
    /// A pending delivery's next automatic try was moved to now.
    RetryingNow,
    /// It is being sent at this moment; nothing to do.
    InFlight,
}

/// Sends a delivery of this webhook again, now, through the queue. `None` when the webhook has
/// no such delivery.
#[tracing::instrument(name = "resend", skip_all, fields(webhook_id = %webhook_id, delivery_id = %delivery_id))]
pub async fn resend(
    db: &DatabaseConnection,
    wakeup: &Wakeup,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
) -> Result<Option<Resend>, DbErr> {
    let Some(d) = delivery::Entity::find_by_id(delivery_id)
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = crate::queue::clock::now(db).await?;
    let outcome = if d.status == DeliveryStatus::Pending {
        let moved = delivery::Entity::update_many()
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .filter(delivery::Column::Id.eq(delivery_id))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
            .filter(delivery::Column::LeaseToken.is_null())
            .exec(db)
            .await?;
        if moved.rows_affected == 1 {
            Resend::RetryingNow
        } else {
            Resend::InFlight
        }
    } else {
        let reopened = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::Pending),
            )
            .col_expr(delivery::Column::Manual, Expr::value(true))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                delivery::Column::CompletedAt,
                Expr::value(Option::<i64>::None),
            )
            .filter(delivery::Column::Id.eq(delivery_id))
            .filter(delivery::Column::Status.ne(DeliveryStatus::Pending))
            .exec(db)
            .await?;
        if reopened.rows_affected == 1 {
            Resend::Redelivering
        } else {
            Resend::InFlight
        }
    };
    if outcome != Resend::InFlight {
        wakeup.notify();
        // Other instances learn of it too; if that fails, their next poll finds it.
        if let Err(e) = crate::queue::notify::announce(db).await {
            tracing::warn!(error = %e, "NOTIFY failed");
        }
    }
    Ok(Some(outcome))
}
