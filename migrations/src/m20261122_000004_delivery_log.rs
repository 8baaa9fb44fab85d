//! What the delivery log and the webhook health need: manual redeliveries, auto-disable
//! bookkeeping, hourly outcome counters, and indexes for the log's filters.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_webhooks::Webhooks;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    WebhookId,
    Id,
    EventType,
    /// The next attempt is a manual redelivery: recorded, never retried automatically.
    Manual,
}

#[derive(DeriveIden)]
enum WebhookHealth {
    /// When the webhook was switched off automatically, and why.
    DisabledAt,
    DisabledReason,
    /// Since when every finished delivery has failed (cleared by a success).
    FailingSince,
    ConsecutiveFailures,
}

#[derive(DeriveIden)]
enum DeliveryStats {
    Table,
    WebhookId,
    /// The hour (ms since the epoch, a multiple of 3 600 000) the deliveries finished in.
    HourStart,
    Succeeded,
    Failed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(
                        ColumnDef::new(Deliveries::Manual)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(WebhookHealth::DisabledAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(WebhookHealth::DisabledReason)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(WebhookHealth::FailingSince)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(WebhookHealth::ConsecutiveFailures)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(DeliveryStats::Table)
                    .col(
                        ColumnDef::new(DeliveryStats::WebhookId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryStats::HourStart)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryStats::Succeeded)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeliveryStats::Failed).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(DeliveryStats::WebhookId)
                            .col(DeliveryStats::HourStart),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliveryStats::Table, DeliveryStats::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The queue index also carries the webhook, so a claim can skip the deliveries of
        // webhooks already at their in-flight cap without reading the rows.
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_deliveries_due")
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_deliveries_due ON deliveries (next_attempt_at, webhook_id) \
                 WHERE status = 'pending'",
            )
            .await?;
        // The log filtered by status or by event type, newest first, keyset-paginated. Failed
        // deliveries get a partial index of their own (they are few, and finishing a delivery
        // successfully then costs no index write); succeeded ones are most rows, so scanning
        // the log's own index finds them at once; pending ones are the newest.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_deliveries_webhook_failed ON deliveries (webhook_id, id) \
                 WHERE status = 'failed'",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_webhook_event")
                    .table(Deliveries::Table)
                    .col(Deliveries::WebhookId)
                    .col(Deliveries::EventType)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryStats::Table).to_owned())
            .await?;
        let conn = manager.get_connection();
        conn.execute_unprepared("DROP INDEX idx_deliveries_due")
            .await?;
        conn.execute_unprepared(
            "CREATE INDEX idx_deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending'",
        )
        .await?;
        for idx in [
            "idx_deliveries_webhook_status",
            "idx_deliveries_webhook_event",
        ] {
            manager
                .drop_index(Index::drop().name(idx).table(Deliveries::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .drop_column(Deliveries::Manual)
                    .to_owned(),
            )
            .await?;
        for col in [
            WebhookHealth::DisabledAt,
            WebhookHealth::DisabledReason,
            WebhookHealth::FailingSince,
            WebhookHealth::ConsecutiveFailures,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
