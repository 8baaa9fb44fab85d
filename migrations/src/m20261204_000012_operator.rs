//! The operator API (issue 18): `accounts.external_id`, the product's own id of an account
//! (unique; NULL for accounts made by sign-up), `operator_keys` (the product's back end's
//! credentials, stored hashed like API keys), and `login_links` (one-time log-in links, stored
//! by the hash of their token).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    ExternalId,
}

#[derive(DeriveIden)]
enum OperatorKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginLinks {
    Table,
    Id,
    TokenHash,
    AccountId,
    Path,
    ReturnUrl,
    Embedded,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::ExternalId).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_accounts_external_id")
                    .table(Accounts::Table)
                    .col(Accounts::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OperatorKeys::Table)
                    .col(
                        ColumnDef::new(OperatorKeys::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OperatorKeys::Name).string().not_null())
                    .col(ColumnDef::new(OperatorKeys::Prefix).string().not_null())
                    .col(
                        ColumnDef::new(OperatorKeys::KeyHash)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OperatorKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OperatorKeys::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(OperatorKeys::RevokedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginLinks::Table)
                    .col(
                        ColumnDef::new(LoginLinks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LoginLinks::TokenHash)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(LoginLinks::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LoginLinks::Path).string().not_null())
                    .col(ColumnDef::new(LoginLinks::ReturnUrl).string().null())
                    .col(
                        ColumnDef::new(LoginLinks::Embedded)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(LoginLinks::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginLinks::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LoginLinks::UsedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoginLinks::Table, LoginLinks::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_links_expires")
                    .table(LoginLinks::Table)
                    .col(LoginLinks::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginLinks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OperatorKeys::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_accounts_external_id")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::ExternalId)
                    .to_owned(),
            )
            .await
    }
}
