//! The queue's clock. Due times, leases, completion times and the idempotency window are
//! compared across processes, so on PostgreSQL (several processes, each with a clock of its
//! own) they follow the database's clock; SQLite serves one host, whose clock this process's is.

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use super::sql::stmt;

/// The database's "now" in ms since the epoch, as a PostgreSQL expression (the statement's
/// start: the same value wherever it appears in one statement).
pub const PG_NOW_MS: &str = "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::bigint";

/// Now, in ms since the epoch: the database's clock on PostgreSQL (one round trip), this
/// process's on SQLite.
pub async fn now(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(crate::entities::now_ms());
    }
    let row = db
        .query_one(stmt(backend, &format!("SELECT {PG_NOW_MS} AS now"), vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom("the database did not tell the time".into()))?;
    row.try_get::<i64>("", "now")
}
