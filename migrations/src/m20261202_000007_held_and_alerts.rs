//! Issue 15: deliveries held for a paused webhook (`status = 'held'`, no due time) and bulk
//! replay (`replay`: the next attempt is a replay the owner asked for; recorded with trigger
//! `replay`, one try, like a manual redelivery).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    WebhookId,
    Status,
    Replay,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(
                        ColumnDef::new(Deliveries::Replay)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // Held counts and the replay's match: one webhook's deliveries of one status, in id
        // (publish) order.
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_webhook_status")
                    .table(Deliveries::Table)
                    .col(Deliveries::WebhookId)
                    .col(Deliveries::Status)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deliveries_webhook_status")
                    .table(Deliveries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .drop_column(Deliveries::Replay)
                    .to_owned(),
            )
            .await
    }
}
