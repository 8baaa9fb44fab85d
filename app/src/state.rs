//! What server functions and handlers share (server only).

use axum::extract::FromRef;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;

use crate::api_keys::ssr::KeyCache;
use crate::domain::TargetPolicy;
use crate::error::AppError;
use crate::queue::{Publisher, Wakeup, WriteGate};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    /// Wakes this process's dispatcher when work is queued.
    pub wakeup: Wakeup,
    /// Which webhook targets are allowed (loopback and plain http only in insecure mode).
    pub policy: TargetPolicy,
    /// Writes events with group commit.
    pub publisher: Publisher,
    /// Serializes the queue's writes on SQLite.
    pub gate: WriteGate,
    /// Recently checked API keys.
    pub api_keys: KeyCache,
    /// Seals and opens the webhooks' signing secrets.
    pub secrets: crate::secrets::SecretBox,
    /// Whether storage is failing now (full disk, database unreachable).
    pub storage: crate::storage::StorageHealth,
    /// Log-in attempts per account and per address, sign-ups per address.
    pub login_limiter: std::sync::Arc<crate::auth::limiter::AuthLimiter>,
    /// Where a request's client address is read from (the peer, or a trusted proxy's header).
    pub client_addr: crate::auth::client_addr::ClientAddrPolicy,
    /// The product's branding, log-in and embedding settings, and the links' clock.
    pub portal: std::sync::Arc<crate::operator::portal::Portal>,
    /// Recently checked operator keys.
    pub operator_keys: crate::operator::keys::OperatorKeys,
}

/// The state, from a server function's context (provided by `leptos_routes`).
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}
