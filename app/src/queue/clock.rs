//! The queue's clock. Due times, leases, completion times and the idempotency window are
//! compared across processes, so on PostgreSQL (several processes, each with a clock of its
//! own) they follow the database's clock; SQLite serves one host, whose clock this process's is.

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use super::sql::stmt;

/// The database's "now" in ms since the epoch, as a PostgreSQL expression (the statement's
/// start: the same value wherever it appears in one statement).
pub const PG_NOW_MS: &str = "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::bigint";

/// How long a measured offset between this process's clock and the database's is used.
const OFFSET_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Now, in ms since the epoch: the database's clock on PostgreSQL (this process's clock plus
/// its offset from the database's, measured at most every 5 s: one round trip then, none
/// otherwise), this process's on SQLite.
pub async fn now(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    use std::sync::Mutex;
    static OFFSET: Mutex<Option<(std::time::Instant, i64)>> = Mutex::new(None);
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(crate::entities::now_ms());
    }
    if let Some((at, offset)) = *OFFSET.lock().expect("clock poisoned") {
        if at.elapsed() < OFFSET_TTL {
            return Ok(crate::entities::now_ms() + offset);
        }
    }
    let row = db
        .query_one(stmt(backend, &format!("SELECT {PG_NOW_MS} AS now"), vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom("the database did not tell the time".into()))?;
    let db_now = row.try_get::<i64>("", "now")?;
    let after = crate::entities::now_ms();
    // The database read its clock between `before` and `after`: measured against `after`
    // (and a millisecond of rounding), the estimate is never ahead of the database, so what
    // is stamped "now" is due at once.
    *OFFSET.lock().expect("clock poisoned") = Some((std::time::Instant::now(), db_now - after - 1));
    Ok(db_now)
}
