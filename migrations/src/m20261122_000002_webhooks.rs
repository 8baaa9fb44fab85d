//! The account owners' webhooks.

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_accounts::Accounts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Webhooks {
    Table,
    Id,
    AccountId,
    Name,
    Url,
    Description,
    /// Comma-separated event type names, e.g. `booking.created,payment.failed`.
    Events,
    Active,
    TimeoutSecs,
    RetryAttempts,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(
                        ColumnDef::new(Webhooks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Webhooks::AccountId).big_integer().not_null())
                    .col(ColumnDef::new(Webhooks::Name).string().not_null())
                    .col(ColumnDef::new(Webhooks::Url).text().not_null())
                    .col(ColumnDef::new(Webhooks::Description).text().not_null())
                    .col(ColumnDef::new(Webhooks::Events).text().not_null())
                    .col(ColumnDef::new(Webhooks::Active).boolean().not_null())
                    .col(ColumnDef::new(Webhooks::TimeoutSecs).integer().not_null())
                    .col(ColumnDef::new(Webhooks::RetryAttempts).integer().not_null())
                    .col(ColumnDef::new(Webhooks::Secret).text().not_null())
                    .col(ColumnDef::new(Webhooks::PreviousSecret).text().null())
                    .col(
                        ColumnDef::new(Webhooks::PreviousSecretExpiresAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Webhooks::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Webhooks::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhooks_account")
                    .table(Webhooks::Table)
                    .col(Webhooks::AccountId)
                    .col(Webhooks::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}
