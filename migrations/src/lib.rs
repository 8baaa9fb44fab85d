//! Database schema, as SeaORM migrations. The same migrations run on SQLite and PostgreSQL.
//!
//! Timestamps are stored as `BIGINT` milliseconds since the Unix epoch: the same type and the
//! same ordering on both engines, and cheap to compare in the delivery queue's hot index.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts;
mod m20261122_000002_webhooks;
mod m20261122_000003_delivery_queue;
mod m20261122_000004_delivery_log;
mod m20261202_000005_storage_probe;
mod m20261202_000006_scheduled_and_ordered;
mod m20261202_000007_held_and_alerts;
mod m20261203_000008_alerts;
mod m20261203_000009_formats;
mod m20261203_000010_api_key_scopes;
mod m20261204_000011_templates;
mod m20261204_000012_operator;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_webhooks::Migration),
            Box::new(m20261122_000003_delivery_queue::Migration),
            Box::new(m20261122_000004_delivery_log::Migration),
            Box::new(m20261202_000005_storage_probe::Migration),
            Box::new(m20261202_000006_scheduled_and_ordered::Migration),
            Box::new(m20261202_000007_held_and_alerts::Migration),
            Box::new(m20261203_000008_alerts::Migration),
            Box::new(m20261203_000009_formats::Migration),
            Box::new(m20261203_000010_api_key_scopes::Migration),
            Box::new(m20261204_000011_templates::Migration),
            Box::new(m20261204_000012_operator::Migration),
        ]
    }
}
