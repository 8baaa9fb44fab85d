//! Events, their deliveries (the durable queue) and every delivery attempt.
//!
//! The queue is the `deliveries` table itself: a pending delivery is due when
//! `next_attempt_at <= now`. A worker claims it by pushing `next_attempt_at` forward by a lease
//! and stamping `lease_token`; a crashed worker's claim therefore expires by itself.

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_accounts::Accounts;
use crate::m20261122_000002_webhooks::Webhooks;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    AccountId,
    EventType,
    Body,
    IdempotencyKey,
    DeliveryCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventId,
    WebhookId,
    AccountId,
    EventType,
    Status,
    AttemptCount,
    NextAttemptAt,
    LeaseToken,
    LastStatusCode,
    LastError,
    LastDurationMs,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Id,
    DeliveryId,
    WebhookId,
    Number,
    Trigger,
    StartedAt,
    DurationMs,
    RequestHeaders,
    ResponseStatus,
    ResponseHeaders,
    ResponseBody,
    ErrorKind,
    ErrorMessage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Events::AccountId).big_integer().not_null())
                    .col(ColumnDef::new(Events::EventType).string().not_null())
                    .col(ColumnDef::new(Events::Body).text().not_null())
                    .col(ColumnDef::new(Events::IdempotencyKey).string().null())
                    .col(ColumnDef::new(Events::DeliveryCount).integer().not_null())
                    .col(ColumnDef::new(Events::CreatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_idempotency")
                    .table(Events::Table)
                    .col(Events::AccountId)
                    .col(Events::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_created")
                    .table(Events::Table)
                    .col(Events::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(
                        ColumnDef::new(Deliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Deliveries::EventId).uuid().not_null())
                    .col(
                        ColumnDef::new(Deliveries::WebhookId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Deliveries::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Deliveries::EventType).string().not_null())
                    .col(ColumnDef::new(Deliveries::Status).string().not_null())
                    .col(
                        ColumnDef::new(Deliveries::AttemptCount)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Deliveries::NextAttemptAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Deliveries::LeaseToken).big_integer().null())
                    .col(ColumnDef::new(Deliveries::LastStatusCode).integer().null())
                    .col(ColumnDef::new(Deliveries::LastError).text().null())
                    .col(ColumnDef::new(Deliveries::LastDurationMs).integer().null())
                    .col(
                        ColumnDef::new(Deliveries::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Deliveries::CompletedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The delivery log of one webhook, newest first (keyset pagination on the v7 UUID).
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_webhook")
                    .table(Deliveries::Table)
                    .col(Deliveries::WebhookId)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_event")
                    .table(Deliveries::Table)
                    .col(Deliveries::EventId)
                    .to_owned(),
            )
            .await?;
        // The queue: only pending rows are in this (partial) index, so it stays small however
        // many deliveries have completed. Same syntax on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_deliveries_due ON deliveries (next_attempt_at) \
                 WHERE status = 'pending'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(
                        ColumnDef::new(Attempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Attempts::DeliveryId).uuid().not_null())
                    .col(ColumnDef::new(Attempts::WebhookId).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::Number).integer().not_null())
                    .col(ColumnDef::new(Attempts::Trigger).string().not_null())
                    .col(ColumnDef::new(Attempts::StartedAt).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::DurationMs).integer().not_null())
                    .col(ColumnDef::new(Attempts::RequestHeaders).text().not_null())
                    .col(ColumnDef::new(Attempts::ResponseStatus).integer().null())
                    .col(ColumnDef::new(Attempts::ResponseHeaders).text().null())
                    .col(ColumnDef::new(Attempts::ResponseBody).text().null())
                    .col(ColumnDef::new(Attempts::ErrorKind).string().null())
                    .col(ColumnDef::new(Attempts::ErrorMessage).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attempts::Table, Attempts::DeliveryId)
                            .to(Deliveries::Table, Deliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attempts_delivery")
                    .table(Attempts::Table)
                    .col(Attempts::DeliveryId)
                    .col(Attempts::Number)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Attempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
