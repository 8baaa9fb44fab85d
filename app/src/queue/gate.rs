use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

/// Serializes this process's queue writes on SQLite (one writer at a time anyway), so that
/// they wait their turn in a queue here instead of in SQLite's busy handler, which sleeps in
/// steps of milliseconds. On PostgreSQL writes run concurrently and the gate is open.
#[derive(Clone, Debug, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

impl WriteGate {
    pub fn for_database(db: &DatabaseConnection) -> WriteGate {
        match db.get_database_backend() {
            DbBackend::Sqlite => WriteGate(Some(Arc::default())),
            _ => WriteGate(None),
        }
    }

    /// Waits for this process's turn to write (at once where the gate is open).
    pub async fn enter(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.0 {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }
}
