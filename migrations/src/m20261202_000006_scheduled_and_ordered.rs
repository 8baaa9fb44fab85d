//! Scheduled deliveries and order per key (issue 14).
//!
//! * `events.deliver_at` / `deliveries.deliver_at`: when a scheduled event is due (NULL: sent
//!   at once). A scheduled delivery is an ordinary pending one whose `next_attempt_at` is that
//!   time, so the claim's index serves it unchanged.
//! * `events.key` / `deliveries.key`: the entity the event is about (e.g. `booking-123`).
//! * `deliveries.sequence`: its number per webhook and key (1, 2, 3, …), from
//!   `delivery_sequences`, a counter per webhook and key that lives as long as the webhook.
//! * `webhooks.ordered` and its copy `deliveries.ordered` (kept in step when the owner switches
//!   it): deliveries of one key go one at a time, in sequence order.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_webhooks::Webhooks;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    DeliverAt,
    Key,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    DeliverAt,
    Key,
    Sequence,
    Ordered,
}

#[derive(DeriveIden)]
enum WebhookOrder {
    #[sea_orm(iden = "webhooks")]
    Table,
    Ordered,
}

#[derive(DeriveIden)]
enum DeliverySequences {
    Table,
    WebhookId,
    Key,
    Last,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let add =
            |table: DynIden, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        for stmt in [
            add(
                Events::Table.into_iden(),
                ColumnDef::new(Events::DeliverAt)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            add(
                Events::Table.into_iden(),
                ColumnDef::new(Events::Key).string().null().to_owned(),
            ),
            add(
                Deliveries::Table.into_iden(),
                ColumnDef::new(Deliveries::DeliverAt)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            add(
                Deliveries::Table.into_iden(),
                ColumnDef::new(Deliveries::Key).string().null().to_owned(),
            ),
            add(
                Deliveries::Table.into_iden(),
                ColumnDef::new(Deliveries::Sequence)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            add(
                Deliveries::Table.into_iden(),
                ColumnDef::new(Deliveries::Ordered)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            add(
                WebhookOrder::Table.into_iden(),
                ColumnDef::new(WebhookOrder::Ordered)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
        ] {
            manager.alter_table(stmt).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(DeliverySequences::Table)
                    .col(
                        ColumnDef::new(DeliverySequences::WebhookId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeliverySequences::Key).string().not_null())
                    .col(
                        ColumnDef::new(DeliverySequences::Last)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(DeliverySequences::WebhookId)
                            .col(DeliverySequences::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliverySequences::Table, DeliverySequences::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Partial indexes (same text on both engines): only scheduled events, and only the
        // pending deliveries of ordered webhooks, are in them, so ordinary publishing pays
        // nothing for them.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_events_scheduled_key ON events (account_id, key) \
             WHERE deliver_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_order ON deliveries (webhook_id, key, sequence) \
             WHERE ordered AND status = 'pending'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_order")
            .await?;
        db.execute_unprepared("DROP INDEX idx_events_scheduled_key")
            .await?;
        manager
            .drop_table(Table::drop().table(DeliverySequences::Table).to_owned())
            .await?;
        let drop =
            |table: DynIden, col: DynIden| Table::alter().table(table).drop_column(col).to_owned();
        for stmt in [
            drop(
                WebhookOrder::Table.into_iden(),
                WebhookOrder::Ordered.into_iden(),
            ),
            drop(
                Deliveries::Table.into_iden(),
                Deliveries::Ordered.into_iden(),
            ),
            drop(
                Deliveries::Table.into_iden(),
                Deliveries::Sequence.into_iden(),
            ),
            drop(Deliveries::Table.into_iden(), Deliveries::Key.into_iden()),
            drop(
                Deliveries::Table.into_iden(),
                Deliveries::DeliverAt.into_iden(),
            ),
            drop(Events::Table.into_iden(), Events::Key.into_iden()),
            drop(Events::Table.into_iden(), Events::DeliverAt.into_iden()),
        ] {
            manager.alter_table(stmt).await?;
        }
        Ok(())
    }
}
