//! Storage faults: telling a database that cannot be written or reached (full disk, lost
//! connection, locked file) from other database errors, and remembering, per process, whether
//! storage is failing right now — what `/readyz`, the pages and the API answer by.
//!
//! * [`is_unavailable`] classifies a [`DbErr`]: these errors are the storage's, not the
//!   request's, and retrying later is the cure (`503 storage_unavailable` + `Retry-After`).
//! * [`StorageHealth`] is set by every part that meets such an error (publishing, recording
//!   attempts, claiming, `/readyz`, a page that failed) and cleared only by [`StorageHealth::probe`], which
//!   the server runs every second while storage is failing. A small write that happens to fit
//!   (an attempt row in a page with room) does not end an outage that refuses new pages; the
//!   probe's 8 KiB row needs new pages, as a real publish does.

use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbErr, RuntimeErr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::entities::now_ms;

/// What the API's `Retry-After` says while storage is unavailable, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whether `e` means the storage cannot be used now (as opposed to a bad statement or a
/// constraint): the connection is lost or refused, the pool timed out, the disk is full, the
/// file is locked or unwritable.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout | ConnAcquireErr::ConnectionClosed) => {
            true
        }
        DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

/// Whether `e` is a transaction the database failed to break a race between writers
/// (PostgreSQL: deadlock `40P01`, serialization failure `40001`). Nothing is wrong with the
/// statement or the storage: the same transaction run again succeeds ([`retry_conflicts`]).
pub fn is_conflict(e: &DbErr) -> bool {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            db.code().is_some_and(|code| conflict_code(&code))
        }
        _ => false,
    }
}

fn conflict_code(code: &str) -> bool {
    code == "40P01" || code == "40001"
}

/// How many times [`retry_conflicts`] runs a transaction that keeps losing races.
pub const CONFLICT_TRIES: u32 = 4;

/// Runs `op` (a whole transaction) again when it fails with a [conflict](is_conflict), after a
/// short random pause, up to [`CONFLICT_TRIES`] times in all; any other result is returned as
/// it is. `what` names the transaction in the log.
pub async fn retry_conflicts<T, Fut>(what: &str, mut op: impl FnMut() -> Fut) -> Result<T, DbErr>
where
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    let mut tries = 1;
    loop {
        match op().await {
            Err(e) if is_conflict(&e) && tries < CONFLICT_TRIES => {
                tracing::warn!(error = %e, what, tries, "transaction lost a race; running it again");
                // 5–10 ms, then 10–20, 20–40: the other side has usually finished by then.
                let base = 5u64 << (tries - 1);
                let jitter = u64::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos()),
                ) % base;
                tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// SQLite result codes (numeric, possibly extended) and PostgreSQL SQLSTATEs of storage faults.
fn unavailable_code(code: &str) -> bool {
    // SQLSTATEs have five characters; SQLite's codes (extended ones included) at most four.
    if code.len() < 5 {
        let Ok(n) = code.parse::<i32>() else {
            return false;
        };
        // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_READONLY 8, SQLITE_IOERR 10, SQLITE_FULL 13,
        // SQLITE_CANTOPEN 14; extended codes carry the primary one in their low byte.
        return matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14);
    }
    // Connection exceptions (08…), insufficient resources (53…: disk full, out of memory, too
    // many connections), operator intervention (57P01–57P03: shut down, cannot connect now),
    // system errors (58…: I/O).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code.starts_with("58")
}

/// Whether storage is failing now, and since when; when the dispatcher last completed a pass.
#[derive(Clone, Debug, Default)]
pub struct StorageHealth(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// ms since the epoch of the first failure of the current outage; 0 while healthy.
    failing_since: AtomicI64,
    /// The last storage error, as logged (never shown to users: only its class is).
    last_error: Mutex<Option<String>>,
    /// ms since the epoch of the dispatcher's last completed claim pass; 0 before the first.
    last_claim_pass: AtomicI64,
}

/// What [`StorageHealth::failing`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    pub since_ms: i64,
    pub error: String,
}

impl StorageHealth {
    /// Writes and deletes the probe row: a success ends an outage, a storage fault starts (or
    /// continues) one; other errors say nothing about the storage.
    pub async fn probe(&self, db: &DatabaseConnection) {
        match probe(db).await {
            Ok(()) => self.recovered(),
            Err(e) => self.observe_err(&e),
        }
    }

    /// Notes an error: starts (or continues) an outage if it is a storage fault.
    pub fn observe_err(&self, e: &DbErr) {
        if is_unavailable(e) {
            self.failed(e);
        }
    }

    pub fn failed(&self, e: &DbErr) {
        let now = now_ms();
        if self
            .0
            .failing_since
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            tracing::error!(error = %e, "storage unavailable");
        }
        *self.0.last_error.lock().expect("health poisoned") = Some(e.to_string());
    }

    pub fn recovered(&self) {
        let since = self.0.failing_since.swap(0, Ordering::SeqCst);
        if since != 0 {
            tracing::warn!(after_ms = now_ms() - since, "storage available again");
        }
    }

    /// The current outage, if storage is failing.
    pub fn failing(&self) -> Option<Outage> {
        match self.0.failing_since.load(Ordering::SeqCst) {
            0 => None,
            since_ms => Some(Outage {
                since_ms,
                error: self
                    .0
                    .last_error
                    .lock()
                    .expect("health poisoned")
                    .clone()
                    .unwrap_or_default(),
            }),
        }
    }

    /// The dispatcher completed a pass of its loop (claimed, or had no room to claim).
    pub fn claim_pass(&self) {
        self.0.last_claim_pass.store(now_ms(), Ordering::SeqCst);
    }

    /// When the dispatcher last completed a pass (ms since the epoch), if it ever did.
    pub fn last_claim_pass(&self) -> Option<i64> {
        match self.0.last_claim_pass.load(Ordering::SeqCst) {
            0 => None,
            at => Some(at),
        }
    }
}

/// Writes and deletes one row of 8 KiB in a transaction: succeeds only if the database is
/// reachable, writable and has room for new pages.
async fn probe(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let id = now_ms();
    txn.execute(crate::queue::sql::stmt(
        backend,
        "INSERT INTO storage_probe (id, filler) VALUES ($1, $2)",
        vec![id.into(), "x".repeat(8192).into()],
    ))
    .await?;
    txn.execute(crate::queue::sql::stmt(
        backend,
        "DELETE FROM storage_probe WHERE id = $1",
        vec![id.into()],
    ))
    .await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_codes_are_recognised() {
        for code in [
            "5", "13", "10", "3082", "261", "08006", "57P01", "53100", "58030",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["19", "787", "2067", "23503", "23505", "42601", "40001"] {
            assert!(!unavailable_code(code), "{code}");
        }
        assert!(conflict_code("40P01") && conflict_code("40001"));
        assert!(!conflict_code("23505") && !conflict_code("40002"));
    }

    #[test]
    fn an_outage_starts_once_and_ends_with_a_success() {
        let h = StorageHealth::default();
        assert_eq!(h.failing(), None);
        h.observe_err(&DbErr::Conn(RuntimeErr::Internal("refused".into())));
        let first = h.failing().expect("failing");
        h.observe_err(&DbErr::Conn(RuntimeErr::Internal("again".into())));
        let second = h.failing().expect("still failing");
        assert_eq!(first.since_ms, second.since_ms);
        assert!(second.error.contains("again"));
        // A constraint error says nothing about the storage.
        h.observe_err(&DbErr::Custom("constraint".into()));
        assert!(h.failing().is_some());
        h.recovered();
        assert_eq!(h.failing(), None);
    }
}
