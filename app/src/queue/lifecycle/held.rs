//! Held deliveries (issue 15): published while their webhook was paused, kept without a due
//! time, and on re-enabling either sent (held → waiting, due now, in publish order) or
//! discarded (deleted: they were never attempted).

use crate::domain::{DeliveryId, WebhookId};
use crate::entities::delivery;
use crate::queue::sql::stmt;
use crate::queue::{DeliveryStatus, Wakeup};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Value,
};
use std::collections::HashMap;

/// What becomes of a paused webhook's held deliveries when it is switched back on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldChoice {
    /// Send them, oldest first, through the queue.
    Send,
    /// Delete them: nothing is sent.
    Discard,
}

impl HeldChoice {
    pub fn parse(s: &str) -> Option<HeldChoice> {
        match s {
            "send" => Some(HeldChoice::Send),
            "discard" => Some(HeldChoice::Discard),
            _ => None,
        }
    }
}

/// How many deliveries this webhook holds.
pub async fn held_count(db: &impl ConnectionTrait, webhook_id: WebhookId) -> Result<i64, DbErr> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Held))
        .count(db)
        .await? as i64)
}

/// How many deliveries each of these webhooks holds (absent: none).
pub async fn held_counts(
    db: &impl ConnectionTrait,
    ids: &[WebhookId],
) -> Result<HashMap<WebhookId, i64>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(WebhookId, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::WebhookId)
        .column_as(delivery::Column::Id.count(), "n")
        .filter(delivery::Column::WebhookId.is_in(ids.iter().copied()))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Held))
        .group_by(delivery::Column::WebhookId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Applies the owner's choice to a webhook's held deliveries (inside the transaction that
/// switches it on, so that nothing published meanwhile is left held). Send makes them waiting
/// deliveries due now, their due times a millisecond apart in publish (id) order, so the
/// dispatcher takes them oldest first; the caller wakes the dispatcher after the commit.
/// Returns how many were sent or discarded.
pub async fn settle_held(
    txn: &impl ConnectionTrait,
    webhook_id: WebhookId,
    choice: HeldChoice,
    now: i64,
) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    match choice {
        HeldChoice::Discard => Ok(delivery::Entity::delete_many()
            .filter(delivery::Column::WebhookId.eq(webhook_id))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Held))
            .exec(txn)
            .await?
            .rows_affected),
        HeldChoice::Send => {
            let ids: Vec<DeliveryId> = delivery::Entity::find()
                .select_only()
                .column(delivery::Column::Id)
                .filter(delivery::Column::WebhookId.eq(webhook_id))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Held))
                .order_by_asc(delivery::Column::Id)
                .into_tuple()
                .all(txn)
                .await?;
            let mut sent = 0;
            for (c, chunk) in ids.chunks(256).enumerate() {
                // Due a millisecond apart in publish (id) order, so they are claimed oldest
                // first.
                let base = now + (c * 256) as i64;
                let mut cases = String::new();
                let mut values: Vec<Value> = Vec::with_capacity(2 * chunk.len());
                for (i, id) in chunk.iter().enumerate() {
                    cases.push_str(&format!(" WHEN ${} THEN {}", 2 * i + 1, base + i as i64));
                    values.push((*id).into());
                    values.push((*id).into());
                }
                let list: Vec<String> = (0..chunk.len())
                    .map(|i| format!("${}", 2 * i + 2))
                    .collect();
                let sql = format!(
                    // A held scheduled delivery keeps its time, if that is still ahead.
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = \
                       CASE WHEN COALESCE(deliver_at, 0) > (CASE id{cases} END) THEN deliver_at \
                       ELSE (CASE id{cases} END) END \
                     WHERE status = 'held' AND id IN ({})",
                    list.join(",")
                );
                sent += txn
                    .execute(stmt(backend, &sql, values))
                    .await?
                    .rows_affected();
            }
            if sent > 0 {
                crate::queue::notify::announce(txn).await?;
            }
            Ok(sent)
        }
    }
}

/// Wakes this process's dispatcher after held deliveries were sent.
pub fn wake(wakeup: &Wakeup) {
    wakeup.notify();
}
