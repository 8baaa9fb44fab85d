use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::DeliveryStatus;
use crate::entities::{attempt, delivery, delivery_stat, webhook};

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
    /// `auto` (the schedule) or `manual` (a redelivery the owner asked for).
    pub trigger: &'static str,
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

/// When a webhook is switched off automatically: every delivery that finished during `after_ms`
/// failed, and there were at least `min_failures` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoDisable {
    pub after_ms: i64,
    pub min_failures: i32,
}

impl Default for AutoDisable {
    /// Three days of nothing but failures, at least ten of them.
    fn default() -> Self {
        AutoDisable {
            after_ms: 3 * 24 * 3600 * 1000,
            min_failures: 10,
        }
    }
}

pub const HOUR_MS: i64 = 3_600_000;

/// Records a batch of attempts and moves their deliveries on, in one transaction; counts the
/// finished ones per webhook and hour, and applies the auto-disable rule.
///
/// Returns, per outcome, whether this worker still held the delivery; when it did not (its lease
/// ran out and another worker took it over), the attempt is still recorded — it happened — but
/// the delivery's state is left to the new holder.
pub async fn record_attempts(
    db: &DatabaseConnection,
    outcomes: &[AttemptOutcome],
    rule: AutoDisable,
) -> Result<Vec<bool>, DbErr> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let now = crate::entities::now_ms();
    let txn = db.begin().await?;
    let mut held = Vec::with_capacity(outcomes.len());
    // (webhook, hour) -> (succeeded, failed); webhook -> last final outcome in this batch.
    let mut counts: BTreeMap<(i64, i64), (i32, i32)> = BTreeMap::new();
    let mut finals: BTreeMap<i64, Vec<bool>> = BTreeMap::new();
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
            .col_expr(delivery::Column::Manual, Expr::value(false))
            .filter(delivery::Column::Id.eq(o.delivery_id))
            .filter(delivery::Column::LeaseToken.eq(o.lease_token))
            .exec(&txn)
            .await?;
        let ours = res.rows_affected == 1;
        held.push(ours);
        if ours {
            let ok = match o.next {
                Next::Succeeded => Some(true),
                Next::Failed => Some(false),
                Next::RetryAt(_) => None,
            };
            if let Some(ok) = ok {
                let c = counts
                    .entry((o.webhook_id, now - now % HOUR_MS))
                    .or_default();
                if ok {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
                finals.entry(o.webhook_id).or_default().push(ok);
            }
        }
    }
    attempt::Entity::insert_many(outcomes.iter().map(|o| attempt::ActiveModel {
        id: Default::default(),
        delivery_id: Set(o.delivery_id),
        webhook_id: Set(o.webhook_id),
        number: Set(o.number),
        trigger: Set(o.trigger.to_string()),
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
    for ((webhook_id, hour_start), (succeeded, failed)) in counts {
        count_finished(&txn, webhook_id, hour_start, succeeded, failed).await?;
    }
    for (webhook_id, results) in finals {
        update_health(&txn, webhook_id, &results, now, rule).await?;
    }
    txn.commit().await?;
    Ok(held)
}

async fn count_finished(
    txn: &DatabaseTransaction,
    webhook_id: i64,
    hour_start: i64,
    succeeded: i32,
    failed: i32,
) -> Result<(), DbErr> {
    delivery_stat::Entity::insert(delivery_stat::ActiveModel {
        webhook_id: Set(webhook_id),
        hour_start: Set(hour_start),
        succeeded: Set(succeeded),
        failed: Set(failed),
    })
    .on_conflict(
        OnConflict::columns([
            delivery_stat::Column::WebhookId,
            delivery_stat::Column::HourStart,
        ])
        .value(
            delivery_stat::Column::Succeeded,
            Expr::col((delivery_stat::Entity, delivery_stat::Column::Succeeded)).add(succeeded),
        )
        .value(
            delivery_stat::Column::Failed,
            Expr::col((delivery_stat::Entity, delivery_stat::Column::Failed)).add(failed),
        )
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// A success clears the failure streak; failures extend it, and a streak longer than the rule
/// allows switches the webhook off (it then gets no new deliveries).
async fn update_health(
    txn: &DatabaseTransaction,
    webhook_id: i64,
    results: &[bool],
    now: i64,
    rule: AutoDisable,
) -> Result<(), DbErr> {
    // Only the failures after the batch's last success extend the streak.
    let trailing_failures = results.iter().rev().take_while(|ok| !**ok).count() as i32;
    if trailing_failures < results.len() as i32 {
        webhook::Entity::update_many()
            .col_expr(
                webhook::Column::FailingSince,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(webhook::Column::ConsecutiveFailures, Expr::value(0))
            .filter(webhook::Column::Id.eq(webhook_id))
            .exec(txn)
            .await?;
    }
    if trailing_failures == 0 {
        return Ok(());
    }
    webhook::Entity::update_many()
        .col_expr(
            webhook::Column::ConsecutiveFailures,
            Expr::col(webhook::Column::ConsecutiveFailures).add(trailing_failures),
        )
        .col_expr(
            webhook::Column::FailingSince,
            Func::coalesce([
                Expr::col(webhook::Column::FailingSince).into(),
                Expr::val(now).into(),
            ])
            .into(),
        )
        .filter(webhook::Column::Id.eq(webhook_id))
        .exec(txn)
        .await?;
    let days = rule.after_ms as f64 / 86_400_000.0;
    webhook::Entity::update_many()
        .col_expr(webhook::Column::Active, Expr::value(false))
        .col_expr(webhook::Column::DisabledAt, Expr::value(now))
        .col_expr(
            webhook::Column::DisabledReason,
            Expr::value(format!(
                "Every delivery failed for {days:.1} days (at least {} failures), so it was paused automatically.",
                rule.min_failures
            )),
        )
        .filter(webhook::Column::Id.eq(webhook_id))
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::FailingSince.lte(now - rule.after_ms))
        .filter(webhook::Column::ConsecutiveFailures.gte(rule.min_failures))
        .exec(txn)
        .await?;
    Ok(())
}
