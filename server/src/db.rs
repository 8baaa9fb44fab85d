//! Connecting to the database (SQLite or PostgreSQL, by URL) and migrating it.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Connects and brings the schema up to date.
///
/// SQLite runs in WAL mode with `synchronous=NORMAL`: a commit is in the WAL file when it
/// returns, so it survives the process being killed (SIGKILL); only an operating-system crash
/// or power loss can drop the last commits before a checkpoint. Foreign keys are enforced.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, None).await
}

/// As [`connect`], with the pool size chosen (`None`: 4 for SQLite — writes are batched and
/// there is one writer at a time anyway, and more connections only contend in SQLite's
/// sleeping busy handler; 32 for PostgreSQL).
pub async fn connect_with(url: &str, pool_size: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(url)?;
        opts.max_connections(pool_size.unwrap_or(4).max(1))
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else {
        opts.max_connections(pool_size.unwrap_or(32).max(1))
            .min_connections(2);
    }
    if url.starts_with("sqlite:") {
        // Schema changes go through one connection: a pooled SQLite connection that did not
        // make a change can still see the old schema when it prepares the next statement.
        let mut single = opts.clone();
        single.max_connections(1).min_connections(1);
        let db = Database::connect(single).await?;
        Migrator::up(&db, None).await?;
        db.close().await?;
        return Database::connect(opts).await;
    }
    let db = Database::connect(opts).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
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
