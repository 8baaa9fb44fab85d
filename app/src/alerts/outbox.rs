//! The outbox of the alerts (server only): what the alert loop of a dispatching process
//! (`server::alerts`) sends, read from `alert_incidents`. Nothing lives only in memory: an
//! incident's e-mail is due from the moment the incident is recorded until it has been sent
//! (or given up after [`MAIL_MAX_ATTEMPTS`]), so a process that dies before sending leaves it
//! due for the next one.
//!
//! * E-mail: a due row is claimed by pushing its due time forward by a lease
//!   ([`MAIL_LEASE_MS`]); sent, it is marked `mailed_at`; failed, it is due again after a
//!   growing pause. A mail whose SMTP answer was lost may be sent twice (at least once).
//! * Alert webhook: a due row becomes one event and one pending delivery of the account's alert
//!   webhook, in one transaction with clearing its due time, so it is queued exactly once; the
//!   ordinary dispatcher signs, sends and retries it.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::json;

use crate::domain::{AccountId, DeliveryId, EventId, IncidentId};
use crate::entities::alert_incident::{self, IncidentKind};
use crate::entities::{account, delivery, event, user};
use crate::queue::DeliveryStatus;

/// A claimed e-mail is not taken up by another process for this long (it has been sent, or
/// failed, well before: SMTP calls are bounded far below it).
pub const MAIL_LEASE_MS: i64 = 5 * 60_000;
/// After this many failed tries the e-mail is given up (the notice on the pages stays).
pub const MAIL_MAX_ATTEMPTS: i32 = 10;

/// An e-mail to send: the incident and who gets it.
#[derive(Clone, Debug)]
pub struct MailJob {
    pub incident: alert_incident::Model,
    pub recipients: Vec<String>,
}

/// The text of an alert, the same in the e-mail and (as fields) in the alert event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertText {
    pub subject: String,
    pub body: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl AlertText {
    /// What the e-mail says (plain ASCII of its own, so it goes out unencoded); `public_url`
    /// is where the owner signs in.
    pub fn of(i: &alert_incident::Model, public_url: &str) -> AlertText {
        let subject = match i.kind {
            IncidentKind::Disabled => {
                format!("Webhook \"{}\" was paused automatically", i.webhook_name)
            }
            IncidentKind::Failing => format!("Webhook \"{}\" keeps failing", i.webhook_name),
        };
        let last_success = i
            .last_success_at
            .map(rfc3339)
            .unwrap_or_else(|| "never".to_string());
        let next = match i.kind {
            IncidentKind::Disabled => "New events are held for it. Fix the endpoint, then re-enable the webhook and choose to send or discard the held events",
            IncidentKind::Failing => "If every delivery keeps failing it will be paused automatically. Check the endpoint and its delivery log",
        };
        let body = format!(
            "Webhook: {name}\nURL: {url}\nReason: {reason}\nLast error: {error}\nLast success: {last_success}\nSince: {opened}\n\n{next}: {base}/settings/webhooks/{id}/edit\n",
            name = i.webhook_name,
            url = i.webhook_url,
            reason = i.reason,
            error = i.last_error.as_deref().unwrap_or("-"),
            opened = rfc3339(i.opened_at),
            base = public_url.trim_end_matches('/'),
            id = i.webhook_id,
        );
        AlertText { subject, body }
    }
}

/// The alert event's `data`.
pub fn event_data(i: &alert_incident::Model) -> serde_json::Value {
    json!({
        "incident_id": i.id,
        "kind": i.kind.as_str(),
        "webhook": { "id": i.webhook_id, "name": i.webhook_name, "url": i.webhook_url },
        "reason": i.reason,
        "last_error": i.last_error,
        "last_success_at": i.last_success_at.map(rfc3339),
        "opened_at": rfc3339(i.opened_at),
    })
}

/// Claims up to `limit` due e-mails, oldest due first. Those of accounts that switched e-mail
/// off (or have no user) are settled as not sent instead.
pub async fn claim_mails(
    db: &DatabaseConnection,
    now: i64,
    limit: u64,
) -> Result<Vec<MailJob>, DbErr> {
    let due = alert_incident::Entity::find()
        .filter(alert_incident::Column::MailDueAt.lte(now))
        .order_by_asc(alert_incident::Column::MailDueAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut jobs = Vec::with_capacity(due.len());
    for incident in due {
        // Taken only if nobody took it meanwhile (another process's loop).
        let claimed = alert_incident::Entity::update_many()
            .col_expr(
                alert_incident::Column::MailDueAt,
                sea_orm::sea_query::Expr::value(now + MAIL_LEASE_MS),
            )
            .filter(alert_incident::Column::Id.eq(incident.id))
            .filter(alert_incident::Column::MailDueAt.eq(incident.mail_due_at))
            .exec(db)
            .await?;
        if claimed.rows_affected == 0 {
            continue;
        }
        let on = account::Entity::find_by_id(incident.account_id)
            .one(db)
            .await?
            .is_some_and(|a| a.alert_mail);
        let recipients = if on {
            recipients(db, incident.account_id).await?
        } else {
            Vec::new()
        };
        if recipients.is_empty() {
            let why = if on {
                "no recipient"
            } else {
                "e-mail alerts are switched off"
            };
            settle_mail(db, incident.id, None, Some(why)).await?;
            continue;
        }
        jobs.push(MailJob {
            incident,
            recipients,
        });
    }
    Ok(jobs)
}

async fn recipients(db: &DatabaseConnection, account: AccountId) -> Result<Vec<String>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::AccountId.eq(account))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect())
}

/// Nothing more to send: `mailed_at` set when it was sent, the reason otherwise.
async fn settle_mail(
    db: &DatabaseConnection,
    id: IncidentId,
    mailed_at: Option<i64>,
    error: Option<&str>,
) -> Result<(), DbErr> {
    alert_incident::Entity::update_many()
        .col_expr(
            alert_incident::Column::MailDueAt,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .col_expr(
            alert_incident::Column::MailedAt,
            sea_orm::sea_query::Expr::value(mailed_at),
        )
        .col_expr(
            alert_incident::Column::MailError,
            sea_orm::sea_query::Expr::value(error.map(str::to_string)),
        )
        .filter(alert_incident::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The e-mail went out.
pub async fn mail_sent(db: &DatabaseConnection, id: IncidentId, now: i64) -> Result<(), DbErr> {
    settle_mail(db, id, Some(now), None).await
}

/// The e-mail failed (`error` is kept): due again at `retry_at`, or given up (`None`). Not made
/// due again if the incident ended meanwhile.
pub async fn mail_failed(
    db: &DatabaseConnection,
    id: IncidentId,
    attempts: i32,
    error: &str,
    retry_at: Option<i64>,
) -> Result<(), DbErr> {
    alert_incident::Entity::update_many()
        .col_expr(
            alert_incident::Column::MailDueAt,
            sea_orm::sea_query::Expr::value(retry_at),
        )
        .col_expr(
            alert_incident::Column::MailAttempts,
            sea_orm::sea_query::Expr::value(attempts),
        )
        .col_expr(
            alert_incident::Column::MailError,
            sea_orm::sea_query::Expr::value(error.to_string()),
        )
        .filter(alert_incident::Column::Id.eq(id))
        .filter(alert_incident::Column::ResolvedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Queues the alert webhook's delivery of up to `limit` due incidents (each in its own
/// transaction with clearing its due time: exactly once). Returns how many were queued (the
/// caller wakes its dispatcher).
pub async fn queue_hooks(db: &DatabaseConnection, now: i64, limit: u64) -> Result<usize, DbErr> {
    let due = alert_incident::Entity::find()
        .filter(alert_incident::Column::HookDueAt.lte(now))
        .order_by_asc(alert_incident::Column::HookDueAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut queued = 0;
    for incident in due {
        let txn = db.begin().await?;
        crate::queue::sql::write_lock_first(&txn).await?;
        // Still due (another process may have queued it meanwhile)?
        let taken = alert_incident::Entity::update_many()
            .col_expr(
                alert_incident::Column::HookDueAt,
                sea_orm::sea_query::Expr::value(Option::<i64>::None),
            )
            .filter(alert_incident::Column::Id.eq(incident.id))
            .filter(alert_incident::Column::HookDueAt.is_not_null())
            .exec(&txn)
            .await?;
        if taken.rows_affected == 0 {
            txn.rollback().await?;
            continue;
        }
        let on = account::Entity::find_by_id(incident.account_id)
            .one(&txn)
            .await?
            .is_some_and(|a| a.alert_hook);
        let hook = super::ssr::alert_webhook(&txn, incident.account_id)
            .await?
            .filter(|h| on && h.active);
        if let Some(hook) = hook {
            enqueue(&txn, &incident, hook.id).await?;
            alert_incident::Entity::update_many()
                .col_expr(
                    alert_incident::Column::HookQueuedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(alert_incident::Column::Id.eq(incident.id))
                .exec(&txn)
                .await?;
            crate::queue::notify::announce(&txn).await?;
            queued += 1;
        }
        txn.commit().await?;
    }
    Ok(queued)
}

/// One event (`webhook.disabled` / `webhook.failing`) and its one delivery to the alert
/// webhook, due now.
async fn enqueue(
    txn: &impl ConnectionTrait,
    incident: &alert_incident::Model,
    hook: crate::domain::WebhookId,
) -> Result<(), DbErr> {
    let now = crate::queue::clock::now(txn).await?;
    let event_type = incident.kind.event_type();
    let body = serde_json::to_string(&json!({
        "event": event_type,
        "timestamp": rfc3339(crate::entities::now_ms()),
        "data": event_data(incident),
    }))
    .expect("a JSON value always serializes");
    let event_id = EventId::new();
    event::Entity::insert(event::ActiveModel {
        id: Set(event_id),
        account_id: Set(incident.account_id),
        event_type: Set(event_type.to_string()),
        body: Set(body),
        idempotency_key: Set(None),
        delivery_count: Set(1),
        created_at: Set(now),
        deliver_at: Set(None),
        key: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    delivery::Entity::insert(delivery::ActiveModel {
        id: Set(DeliveryId::new()),
        event_id: Set(event_id),
        webhook_id: Set(hook),
        account_id: Set(incident.account_id),
        event_type: Set(event_type.to_string()),
        status: Set(DeliveryStatus::Pending),
        attempt_count: Set(0),
        next_attempt_at: Set(Some(now)),
        lease_token: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        last_duration_ms: Set(None),
        created_at: Set(now),
        completed_at: Set(None),
        manual: Set(false),
        deliver_at: Set(None),
        key: Set(None),
        sequence: Set(None),
        ordered: Set(false),
        replay: Set(false),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// No e-mail can be sent (no SMTP server configured): the due ones are settled as not sent.
pub async fn skip_mails(db: &DatabaseConnection, now: i64, why: &str) -> Result<u64, DbErr> {
    Ok(alert_incident::Entity::update_many()
        .col_expr(
            alert_incident::Column::MailDueAt,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .col_expr(
            alert_incident::Column::MailError,
            sea_orm::sea_query::Expr::value(why.to_string()),
        )
        .filter(alert_incident::Column::MailDueAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}
