//! Retention: events older than the configured age go, with their deliveries and attempts (by
//! cascade), in small batches so that no statement holds the database for long. An event with a
//! delivery still pending is kept until that delivery ends.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::sql::stmt;
use super::WriteGate;
use crate::entities::now_ms;

/// Events removed per statement.
pub const BATCH: i64 = 200;

/// Deletes events (and so their deliveries and attempts) created before `now - max_age_ms`,
/// and hourly counters older than two days. Returns how many events went.
pub async fn prune(
    db: &DatabaseConnection,
    gate: &WriteGate,
    max_age_ms: i64,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let cutoff = now_ms() - max_age_ms;
    let total = delete_events_where(
        db,
        gate,
        "prune old events",
        "e.created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending') \
         ORDER BY e.created_at",
        cutoff.into(),
    )
    .await?;
    let _turn = gate.enter().await;
    db.execute(stmt(
        backend,
        "DELETE FROM delivery_stats WHERE hour_start < $1",
        vec![(now_ms() - 48 * 3_600_000).into()],
    ))
    .await?;
    Ok(total)
}

/// Deletes every event of an account (and so what is left of their deliveries and attempts),
/// in batches, as [`prune`] does: a large account's delete never holds the database for long.
pub async fn delete_account_events(
    db: &DatabaseConnection,
    gate: &WriteGate,
    account_id: crate::domain::AccountId,
) -> Result<u64, DbErr> {
    delete_events_where(
        db,
        gate,
        "delete an account's events",
        "e.account_id = $1",
        account_id.into(),
    )
    .await
}

/// Deletes the events that `condition` (on `e`, with its value as `$1`) picks, [`BATCH`] per
/// statement, each behind the write gate, letting other writers in between; how many went.
async fn delete_events_where(
    db: &DatabaseConnection,
    gate: &WriteGate,
    what: &'static str,
    condition: &str,
    value: sea_orm::Value,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE {condition} LIMIT $2)"
    );
    let mut total = 0;
    loop {
        let deleted = {
            let _turn = gate.enter().await;
            crate::storage::retry_conflicts(what, || {
                db.execute(stmt(backend, &sql, vec![value.clone(), BATCH.into()]))
            })
            .await?
            .rows_affected()
        };
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}
