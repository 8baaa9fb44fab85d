//! Templates (issue 13, item 2): `webhooks.template`, the body template of a webhook whose
//! format is `template` (kept when the format changes, so switching back loses nothing), and
//! `webhooks.content_type`, its body's type (`application/json`,
//! `application/x-www-form-urlencoded` or `text/plain`; NULL is JSON).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Template,
    ContentType,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .add_column(ColumnDef::new(Webhooks::Template).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .add_column(ColumnDef::new(Webhooks::ContentType).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Webhooks::ContentType, Webhooks::Template] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
