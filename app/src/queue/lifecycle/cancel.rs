//! Cancelling what has not been delivered, and switching order per key.
//!
//! A cancel ends every pending delivery of the events it names: a waiting one is never sent;
//! one in flight keeps its lease, so its attempt is still recorded when it ends — a `2xx` as
//! succeeded (it was delivered), anything else leaves it cancelled, with no retry (see
//! `record::advance`).

use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::{AccountId, EventId, EventType, WebhookId};
use crate::queue::sql::stmt;

/// Publishing one of these for a key cancels that key's scheduled reminders and follow-ups
/// (unless the publish says `cancel_scheduled: false`).
pub const CANCELLED_BY: [EventType; 3] = [
    EventType::EventCancelled,
    EventType::BookingCancelled,
    EventType::EventRescheduled,
];

/// The scheduled event types such a publish cancels.
const CANCELLABLE: [EventType; 2] = [EventType::EventReminder, EventType::EventFollowUp];

/// Cancels the pending deliveries of one of the account's events. `None`: the account has no
/// such event; otherwise how many deliveries were cancelled (0 when all had ended).
pub async fn cancel_event(
    db: &impl ConnectionTrait,
    account_id: AccountId,
    event_id: EventId,
    now: i64,
) -> Result<Option<u64>, DbErr> {
    let backend = db.get_database_backend();
    let found = db
        .query_one(stmt(
            backend,
            "SELECT id FROM events WHERE id = $1 AND account_id = $2",
            vec![event_id.into(), account_id.into()],
        ))
        .await?;
    if found.is_none() {
        return Ok(None);
    }
    let n = db
        .execute(stmt(
            backend,
            "UPDATE deliveries SET status = 'cancelled', completed_at = $1 \
             WHERE event_id = $2 AND account_id = $3 AND status = 'pending'",
            vec![now.into(), event_id.into(), account_id.into()],
        ))
        .await?
        .rows_affected();
    Ok(Some(n))
}

/// Cancels the pending deliveries of the account's scheduled reminders and follow-ups about
/// `key` (run inside the publish that cancels them), except those of the events in `spare`
/// (published after the cancelling one, in the same batch). Other keys' are untouched.
pub async fn cancel_scheduled_for_key(
    txn: &impl ConnectionTrait,
    account_id: AccountId,
    key: &str,
    spare: &[EventId],
    now: i64,
) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    let types = CANCELLABLE
        .iter()
        .map(|t| format!("'{}'", t.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values: Vec<sea_orm::Value> = vec![now.into(), account_id.into(), key.into()];
    let spare_sql = if spare.is_empty() {
        String::new()
    } else {
        let ps: Vec<String> = (0..spare.len()).map(|n| format!("${}", n + 4)).collect();
        values.extend(spare.iter().map(|id| (*id).into()));
        format!(" AND id NOT IN ({})", ps.join(", "))
    };
    // The partial index idx_events_scheduled_key (account_id, key) WHERE deliver_at IS NOT NULL
    // finds the events.
    let sql = format!(
        "UPDATE deliveries SET status = 'cancelled', completed_at = $1 \
         WHERE status = 'pending' AND event_id IN ( \
           SELECT id FROM events WHERE account_id = $2 AND key = $3 \
           AND deliver_at IS NOT NULL AND event_type IN ({types}){spare_sql})"
    );
    Ok(txn
        .execute(stmt(backend, &sql, values))
        .await?
        .rows_affected())
}

/// Switches order per key for a webhook's pending deliveries (its later ones copy the
/// webhook's setting when published). Run in the transaction that changes the webhook.
pub async fn set_ordered(
    txn: &impl ConnectionTrait,
    webhook_id: WebhookId,
    ordered: bool,
) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    Ok(txn
        .execute(stmt(
            backend,
            "UPDATE deliveries SET ordered = $1 WHERE webhook_id = $2 AND status = 'pending' \
             AND ordered <> $1",
            vec![ordered.into(), webhook_id.into()],
        ))
        .await?
        .rows_affected())
}
