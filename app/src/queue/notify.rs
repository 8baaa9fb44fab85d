//! Waking the dispatchers of other processes: on PostgreSQL, new work is announced with
//! `NOTIFY` (sent when the transaction commits) and every dispatching process `LISTEN`s, so a
//! publish on one instance reaches a worker on another at once instead of at its next poll.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use std::time::Duration;

use super::Wakeup;

/// The notification channel.
pub const CHANNEL: &str = "skw_deliveries";

/// Announces new due work (inside the transaction that queued it, where there is one).
pub async fn announce(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(&format!("NOTIFY {CHANNEL}"))
            .await?;
    }
    Ok(())
}

/// Listens for announcements (PostgreSQL only) and turns each into a wake-up of this process's
/// dispatcher; reconnects after losing its connection. Returns at once on SQLite.
pub async fn listen(db: DatabaseConnection, wakeup: Wakeup) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    loop {
        match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    // Whatever was announced while not listening is found by the next claim.
                    wakeup.notify();
                    loop {
                        match listener.recv().await {
                            Ok(_) => wakeup.notify(),
                            Err(e) => {
                                tracing::warn!(error = %e, "lost the notification connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open the notification connection"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
