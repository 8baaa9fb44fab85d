//! Where incidents open and end (server only). An incident opens inside the recorder's
//! transaction that saw its cause, so it is recorded exactly when the webhook's state changes;
//! at most one is open per webhook and kind (a unique partial index), so repeated failures do
//! not open it again: the account is told once per incident. It ends when the webhook succeeds
//! again or is re-enabled.

use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::domain::WebhookId;
use crate::entities::alert_incident::IncidentKind;
use crate::queue::sql::stmt;

/// Opens an incident of `kind` for the webhook, unless one is open already (or the webhook is
/// an alert endpoint). It carries the webhook's name and URL, `reason`, `last_error` and the
/// time of its last success, and both channels are due at once. Returns whether it opened.
pub async fn open(
    txn: &impl ConnectionTrait,
    webhook_id: WebhookId,
    kind: IncidentKind,
    reason: &str,
    last_error: Option<&str>,
    now: i64,
) -> Result<bool, DbErr> {
    let backend = txn.get_database_backend();
    // SQLite needs the WHERE of an INSERT … SELECT before its ON CONFLICT (it has one).
    let sql = "INSERT INTO alert_incidents \
          (account_id, webhook_id, kind, webhook_name, webhook_url, reason, last_error, \
           last_success_at, opened_at, mail_due_at, mail_attempts, hook_due_at) \
        SELECT w.account_id, w.id, $2, w.name, w.url, $3, $4, \
          (SELECT d.completed_at FROM deliveries d \
            WHERE d.webhook_id = w.id AND d.status = 'succeeded' ORDER BY d.id DESC LIMIT 1), \
          $5, $5, 0, $5 \
        FROM webhooks w WHERE w.id = $1 AND w.alerts = false \
        ON CONFLICT DO NOTHING";
    let values: Vec<Value> = vec![
        webhook_id.into(),
        kind.as_str().into(),
        reason.into(),
        last_error.map(str::to_string).into(),
        now.into(),
    ];
    let opened = txn
        .execute(stmt(backend, sql, values))
        .await?
        .rows_affected()
        > 0;
    if opened && kind == IncidentKind::Disabled {
        // The warning before it is superseded: its notice gives way to this one (it stays
        // open, so it is not told again).
        txn.execute(stmt(
            backend,
            "UPDATE alert_incidents SET dismissed_at = $2 \
             WHERE webhook_id = $1 AND kind = 'failing' AND resolved_at IS NULL \
               AND dismissed_at IS NULL",
            vec![webhook_id.into(), now.into()],
        ))
        .await?;
    }
    Ok(opened)
}

/// Ends the open incidents of these webhooks (they succeeded again, or were re-enabled).
/// Notifications not sent yet are not sent any more.
pub async fn resolve(
    txn: &impl ConnectionTrait,
    webhooks: &[WebhookId],
    now: i64,
) -> Result<u64, DbErr> {
    if webhooks.is_empty() {
        return Ok(0);
    }
    let backend = txn.get_database_backend();
    let mut ids = webhooks.to_vec();
    ids.sort_unstable();
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "UPDATE alert_incidents SET resolved_at = $1, mail_due_at = NULL, hook_due_at = NULL \
         WHERE resolved_at IS NULL AND webhook_id IN ({})",
        placeholders.join(",")
    );
    let mut values: Vec<Value> = vec![now.into()];
    values.extend(ids.into_iter().map(Value::from));
    Ok(txn
        .execute(stmt(backend, &sql, values))
        .await?
        .rows_affected())
}
