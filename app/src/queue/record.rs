use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::DeliveryStatus;
use crate::entities::{attempt, delivery};

/// What becomes of a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    /// Pending again, due at this time (ms since the epoch).
    RetryAt(i64),
    /// No tries left.
    Failed,
}

/// One attempt, as it happened, and its consequence for the delivery.
#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    pub delivery_id: Uuid,
    /// The token of the claim this attempt was made under.
    pub lease_token: i64,
    pub webhook_id: i64,
    /// 1 for a delivery's first attempt.
    pub number: i32,
    pub started_at: i64,
    pub duration_ms: i32,
    /// JSON object of the request headers sent.
    pub request_headers: String,
    pub response_status: Option<i32>,
    pub response_headers: Option<String>,
    pub response_body: Option<String>,
    pub error_kind: Option<&'static str>,
    pub error_message: Option<String>,
    pub next: Next,
}

/// Records a batch of attempts and moves their deliveries on, in one transaction.
///
/// Returns, per outcome, whether this worker still held the delivery; when it did not (its lease
/// ran out and another worker took it over), the attempt is still recorded — it happened — but
/// the delivery's state is left to the new holder.
pub async fn record_attempts(
    db: &DatabaseConnection,
    outcomes: &[AttemptOutcome],
) -> Result<Vec<bool>, DbErr> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let now = crate::entities::now_ms();
    let txn = db.begin().await?;
    let mut held = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        let (status, next_at, completed_at) = match o.next {
            Next::Succeeded => (DeliveryStatus::Succeeded, None, Some(now)),
            Next::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
            Next::Failed => (DeliveryStatus::Failed, None, Some(now)),
        };
        let res = delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                delivery::Column::AttemptCount,
                Expr::col(delivery::Column::AttemptCount).add(1),
            )
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(next_at))
            .col_expr(
                delivery::Column::LeaseToken,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                delivery::Column::LastStatusCode,
                Expr::value(o.response_status),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(o.error_message.clone()),
            )
            .col_expr(delivery::Column::LastDurationMs, Expr::value(o.duration_ms))
            .col_expr(delivery::Column::CompletedAt, Expr::value(completed_at))
            .filter(delivery::Column::Id.eq(o.delivery_id))
            .filter(delivery::Column::LeaseToken.eq(o.lease_token))
            .exec(&txn)
            .await?;
        held.push(res.rows_affected == 1);
    }
    attempt::Entity::insert_many(outcomes.iter().map(|o| attempt::ActiveModel {
        id: Default::default(),
        delivery_id: Set(o.delivery_id),
        webhook_id: Set(o.webhook_id),
        number: Set(o.number),
        trigger: Set("auto".to_string()),
        started_at: Set(o.started_at),
        duration_ms: Set(o.duration_ms),
        request_headers: Set(o.request_headers.clone()),
        response_status: Set(o.response_status),
        response_headers: Set(o.response_headers.clone()),
        response_body: Set(o.response_body.clone()),
        error_kind: Set(o.error_kind.map(str::to_string)),
        error_message: Set(o.error_message.clone()),
    }))
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(held)
}
