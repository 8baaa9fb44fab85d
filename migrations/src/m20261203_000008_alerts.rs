//! Alerts (issue 15, part 3): the incidents of failing webhooks and the outbox of their
//! notifications.
//!
//! * `alert_incidents`: one row per webhook and kind (`failing`: the streak passed half the
//!   auto-disable threshold; `disabled`: paused automatically) and incident; at most one open
//!   (`resolved_at IS NULL`) per webhook and kind (a unique partial index), so an incident is
//!   told once. It carries what the notice says (name, URL, reason, last error, last success)
//!   and the outbox of its two channels: `mail_due_at` (when the next try of the e-mail is
//!   due; NULL: nothing more to send), `mail_attempts`, `mailed_at`, `mail_error`, and
//!   `hook_due_at` / `hook_queued_at` (the alert webhook's delivery, queued once).
//! * `accounts.alert_mail`, `accounts.alert_hook`: the owner's switches of the two channels.
//! * `webhooks.alerts`: the account's alert endpoint, a webhook row hidden from the account's
//!   list (it is delivered and signed like any other).

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_accounts::Accounts;
use crate::m20261122_000002_webhooks::Webhooks;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AlertIncidents {
    Table,
    Id,
    AccountId,
    WebhookId,
    Kind,
    WebhookName,
    WebhookUrl,
    Reason,
    LastError,
    LastSuccessAt,
    OpenedAt,
    ResolvedAt,
    DismissedAt,
    MailDueAt,
    MailAttempts,
    MailedAt,
    MailError,
    HookDueAt,
    HookQueuedAt,
}

#[derive(DeriveIden)]
enum AccountAlerts {
    #[sea_orm(iden = "accounts")]
    Table,
    AlertMail,
    AlertHook,
}

#[derive(DeriveIden)]
enum WebhookAlerts {
    #[sea_orm(iden = "webhooks")]
    Table,
    Alerts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let add =
            |table: DynIden, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        for stmt in [
            add(
                AccountAlerts::Table.into_iden(),
                ColumnDef::new(AccountAlerts::AlertMail)
                    .boolean()
                    .not_null()
                    .default(true)
                    .to_owned(),
            ),
            add(
                AccountAlerts::Table.into_iden(),
                ColumnDef::new(AccountAlerts::AlertHook)
                    .boolean()
                    .not_null()
                    .default(true)
                    .to_owned(),
            ),
            add(
                WebhookAlerts::Table.into_iden(),
                ColumnDef::new(WebhookAlerts::Alerts)
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
                    .table(AlertIncidents::Table)
                    .col(
                        ColumnDef::new(AlertIncidents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AlertIncidents::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertIncidents::WebhookId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AlertIncidents::Kind).string().not_null())
                    .col(
                        ColumnDef::new(AlertIncidents::WebhookName)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertIncidents::WebhookUrl)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AlertIncidents::Reason).string().not_null())
                    .col(ColumnDef::new(AlertIncidents::LastError).string())
                    .col(ColumnDef::new(AlertIncidents::LastSuccessAt).big_integer())
                    .col(
                        ColumnDef::new(AlertIncidents::OpenedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AlertIncidents::ResolvedAt).big_integer())
                    .col(ColumnDef::new(AlertIncidents::DismissedAt).big_integer())
                    .col(ColumnDef::new(AlertIncidents::MailDueAt).big_integer())
                    .col(
                        ColumnDef::new(AlertIncidents::MailAttempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(AlertIncidents::MailedAt).big_integer())
                    .col(ColumnDef::new(AlertIncidents::MailError).string())
                    .col(ColumnDef::new(AlertIncidents::HookDueAt).big_integer())
                    .col(ColumnDef::new(AlertIncidents::HookQueuedAt).big_integer())
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertIncidents::Table, AlertIncidents::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertIncidents::Table, AlertIncidents::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_alert_incidents_account")
                    .table(AlertIncidents::Table)
                    .col(AlertIncidents::AccountId)
                    .col(AlertIncidents::ResolvedAt)
                    .to_owned(),
            )
            .await?;
        // Partial indexes (the same syntax on both engines): one open incident per webhook and
        // kind, and the outbox's due rows.
        let db = manager.get_connection();
        for sql in [
            "CREATE UNIQUE INDEX idx_alert_incidents_open ON alert_incidents (webhook_id, kind) \
             WHERE resolved_at IS NULL",
            "CREATE INDEX idx_alert_incidents_mail_due ON alert_incidents (mail_due_at) \
             WHERE mail_due_at IS NOT NULL",
            "CREATE INDEX idx_alert_incidents_hook_due ON alert_incidents (hook_due_at) \
             WHERE hook_due_at IS NOT NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AlertIncidents::Table).to_owned())
            .await?;
        for (table, col) in [
            (
                AccountAlerts::Table.into_iden(),
                AccountAlerts::AlertMail.into_iden(),
            ),
            (
                AccountAlerts::Table.into_iden(),
                AccountAlerts::AlertHook.into_iden(),
            ),
            (
                WebhookAlerts::Table.into_iden(),
                WebhookAlerts::Alerts.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
