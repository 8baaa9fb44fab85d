//! SeaORM entities, one module per table (schema in the `migrations` crate).
//!
//! Timestamps are `i64` milliseconds since the Unix epoch (see `migrations`).

pub mod account;
pub mod alert_incident;
pub mod api_key;
pub mod attempt;
pub mod delivery;
pub mod delivery_stat;
pub mod event;
pub mod login_link;
pub mod operator_key;
pub mod scope;
pub mod session;
pub mod user;
pub mod webhook;

/// Milliseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
