//! Formats (issue 13, part 1).
//!
//! * `webhooks.format`: the shape of the webhook's requests (`standard`, `slack`, `discord`,
//!   `teams`; see `app::domain::WebhookFormat`). Existing webhooks stay `standard`.
//! * `webhooks.headers`: the custom headers sent with every request, a JSON array of
//!   `[name, sealed value]` (values sealed like the signing secret); NULL: none.
//! * `webhooks.filter`: a boolean expression over the event (`app::domain::filter`); events it
//!   does not match create no delivery. NULL: every event.
//! * `attempts.request_body`: the exact body an attempt sent when it differs from the stored
//!   event (a chat format), so the delivery log and its signature checker show the bytes that
//!   were signed. NULL for `standard`: the event's body is what was sent.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Format,
    Headers,
    Filter,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    RequestBody,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .add_column(
                        ColumnDef::new(Webhooks::Format)
                            .string()
                            .not_null()
                            .default("standard"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .add_column(ColumnDef::new(Webhooks::Headers).text())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .add_column(ColumnDef::new(Webhooks::Filter).text())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .add_column(ColumnDef::new(Attempts::RequestBody).text())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Attempts::Table)
                    .drop_column(Attempts::RequestBody)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .drop_column(Webhooks::Headers)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .drop_column(Webhooks::Filter)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Webhooks::Table)
                    .drop_column(Webhooks::Format)
                    .to_owned(),
            )
            .await
    }
}
