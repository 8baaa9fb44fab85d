//! Connecting to the database (SQLite or PostgreSQL, by URL), and migrating it (`migrate`
//! only: the other commands refuse a database with migrations pending, see [`open`]).
//!
//! The pools are built here rather than by SeaORM so that a connection whose transaction
//! state is unknown never goes back to the pool (see [`release_only_clean`]).

use crate::config::defaults;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectOptions, DatabaseConnection, DbErr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a request may wait for a database connection, and (SQLite) for the write lock:
/// past it the request fails with `storage_unavailable` instead of hanging.
pub const STORAGE_WAIT: Duration = Duration::from_secs(5);

/// Options of [`connect_with`].
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// Connections in the pool (`None`: [`defaults::SQLITE_POOL_SIZE`] or
    /// [`defaults::POSTGRES_POOL_SIZE`]).
    pub pool_size: Option<NonZeroU32>,
    /// SQLite only, for fault tests: the most pages the database file may have (`PRAGMA
    /// max_page_count`, applied to every connection each time it is taken from the pool), so
    /// a test can make the database "full" and give it room again without root or a tmpfs.
    pub page_limit: Option<PageLimit>,
}

/// A shared, changeable `max_page_count` (0 = no limit).
#[derive(Clone, Debug, Default)]
pub struct PageLimit(Arc<AtomicU32>);

impl PageLimit {
    pub fn set(&self, pages: u32) {
        self.0.store(pages, Ordering::SeqCst);
    }
    pub fn lift(&self) {
        self.set(0);
    }
    fn pragma(&self) -> String {
        match self.0.load(Ordering::SeqCst) {
            0 => "PRAGMA max_page_count = 4294967294".to_string(),
            n => format!("PRAGMA max_page_count = {n}"),
        }
    }
}

/// Connects and brings the schema up to date: the `migrate` command (the only command that
/// changes the schema) and the tests.
///
/// SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is in the WAL file when it
/// returns, so it survives the process being killed (SIGKILL); only an operating-system crash
/// or power loss can drop the last commits before a checkpoint. Foreign keys are enforced.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, DbOptions::default()).await
}

/// As [`connect`], with the pool size chosen (see [`DbOptions`]).
pub async fn connect_with(url: &str, options: DbOptions) -> Result<DatabaseConnection, DbErr> {
    pool(url, options, true).await
}

/// Why [`open`] gave no database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Db(#[from] DbErr),
    #[error(
        "the database is not migrated to this version ({} migrations pending: {}); run `schedulingkit-webhooks migrate` first",
        .0.len(),
        .0.join(", ")
    )]
    NotMigrated(Vec<String>),
}

/// Connects to a database whose schema is up to date, without changing it: `serve` and the
/// account and API key commands. A database with migrations pending is refused: only
/// `migrate` ([`connect`]) migrates, so several processes starting at once never race to
/// change the schema, and a new version is rolled out by migrating first.
pub async fn open(url: &str, options: DbOptions) -> Result<DatabaseConnection, OpenError> {
    let db = pool(url, options, false).await?;
    let pending = pending_migrations(&db).await?;
    if !pending.is_empty() {
        db.close().await?;
        return Err(OpenError::NotMigrated(pending));
    }
    Ok(db)
}

/// The migrations this version has that the database has not had, by name. Reads only (a
/// database that never was migrated has all of them pending).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    use migrations::SchemaManager;
    let table = Migrator::migration_table_name().to_string();
    if !SchemaManager::new(db).has_table(&table).await? {
        return Ok(Migrator::migrations()
            .iter()
            .map(|m| m.name().to_string())
            .collect());
    }
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect())
}

/// The pool of `url`, with the schema brought up to date first when `migrate`.
async fn pool(url: &str, options: DbOptions, migrate: bool) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(STORAGE_WAIT)
        .acquire_timeout(STORAGE_WAIT);
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(url)?;
        opts.max_connections(
            options
                .pool_size
                .unwrap_or(defaults::SQLITE_POOL_SIZE)
                .get(),
        )
        .min_connections(1);
        // Schema changes go through one connection: a pooled SQLite connection that did not
        // make a change can still see the old schema when it prepares the next statement.
        if migrate {
            let mut single = opts.clone();
            single.max_connections(1).min_connections(1);
            let db = sqlite_pool(url, single, None).await?;
            Migrator::up(&db, None).await?;
            db.close().await?;
        }
        return sqlite_pool(url, opts, options.page_limit).await;
    }
    let size = options
        .pool_size
        .unwrap_or(defaults::POSTGRES_POOL_SIZE)
        .get();
    // Two connections kept open, or one in a pool of one.
    opts.max_connections(size).min_connections(size.min(2));
    let pg: sqlx::postgres::PgConnectOptions = url.parse().map_err(conn_err)?;
    let pg = sqlx::ConnectOptions::disable_statement_logging(pg);
    // (sqlx counts a PostgreSQL transaction as ended as soon as it queues the ROLLBACK, and a
    // connection whose ROLLBACK fails is broken and closed: no check needed on release.)
    let pool = opts
        .sqlx_pool_options::<sqlx::Postgres>()
        .connect_with(pg)
        .await
        .map_err(conn_err)?;
    let db = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    if migrate {
        Migrator::up(&db, None).await?;
    }
    Ok(db)
}

async fn sqlite_pool(
    url: &str,
    opts: ConnectOptions,
    page_limit: Option<PageLimit>,
) -> Result<DatabaseConnection, DbErr> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let sqlite: SqliteConnectOptions = url.parse().map_err(conn_err)?;
    let sqlite = sqlx::ConnectOptions::disable_statement_logging(sqlite)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(STORAGE_WAIT)
        .foreign_keys(true)
        // No commit checkpoints the WAL (SQLite's default makes the commit that passes 1000
        // pages copy them and fsync twice, holding the write lock for milliseconds): the
        // serving process does it in the background ([`checkpoint`]). After a checkpoint the
        // WAL file is cut back to 64 MiB at most.
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", "67108864");
    let pool = opts
        .sqlx_pool_options::<sqlx::Sqlite>()
        .before_acquire(move |conn, _| {
            let pragma = page_limit.as_ref().map(PageLimit::pragma);
            Box::pin(async move {
                if !outside_any_transaction(conn) {
                    return Ok(false);
                }
                if let Some(pragma) = pragma {
                    sqlx::Executor::execute(&mut *conn, pragma.as_str()).await?;
                }
                Ok(true)
            })
        })
        .connect_with(sqlite)
        .await
        .map_err(conn_err)?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// How often the serving process checkpoints an SQLite WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// SQLite: copies what the WAL holds into the database file (`PASSIVE`: it waits for nobody,
/// and no writer waits for it), outside any commit. A no-op on PostgreSQL.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await?;
    }
    Ok(())
}

/// Hands out a pooled SQLite connection only when it is outside any transaction; the pool
/// closes it otherwise and opens a fresh one.
///
/// sqlx counts a connection's transaction depth itself. When SQLite rolls a transaction back
/// on its own (it does on `SQLITE_FULL` and some I/O errors), the `ROLLBACK` sqlx then sends
/// fails and its count stays at 1: the next `begin()` on that connection opens a SAVEPOINT
/// instead of a transaction, whose rollback (`ROLLBACK TO`) leaves the write transaction open
/// — and the connection, back in the pool, holds SQLite's write lock for good ("database is
/// locked" for everybody else until a restart). A connection that is still counted as in a
/// transaction once the pending rollback has run is closed instead (closing rolls back);
/// the pool opens a fresh one.
///
/// Checked when the connection is taken from the pool: by then sqlx has pinged it twice (on
/// release and before acquiring), so any rollback queued on it has run and the count is
/// final — and the check costs no round trip. (The connection cannot hold the lock before:
/// that takes its next, SAVEPOINT, transaction.)
fn outside_any_transaction(conn: &sqlx::SqliteConnection) -> bool {
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a transaction");
        return false;
    }
    true
}

fn conn_err(e: sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))
}

/// Creates the directory of a SQLite file URL (`sqlite://data/x.db` → `data/`).
fn ensure_sqlite_dir(url: &str) -> Result<(), DbErr> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    Ok(())
}
