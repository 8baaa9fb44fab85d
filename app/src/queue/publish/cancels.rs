//! What a batch's cancelling events cancel: an `event.cancelled`, `booking.cancelled` or
//! `event.rescheduled` about a key ends that key's scheduled reminders and follow-ups of the
//! same account — those published before it (a reminder later in the same batch stays).

use sea_orm::{ConnectionTrait, DbErr};

use super::rows::Rows;
use super::PublishRequest;
use crate::queue::lifecycle::{cancel_scheduled_for_key, CANCELLED_BY};

pub(super) async fn apply(
    txn: &impl ConnectionTrait,
    reqs: &[PublishRequest],
    rows: &Rows,
    now: i64,
) -> Result<(), DbErr> {
    for (pos, (i, _, key)) in rows.keyed_events.iter().enumerate() {
        let req = &reqs[*i];
        if !req.cancel_scheduled || !CANCELLED_BY.contains(&req.event_type) {
            continue;
        }
        // Events of this batch published after this one, about the same key and account.
        let later: Vec<_> = rows.keyed_events[pos + 1..]
            .iter()
            .filter(|(j, _, k)| k == key && reqs[*j].account_id == req.account_id)
            .map(|(_, id, _)| *id)
            .collect();
        let n = cancel_scheduled_for_key(txn, req.account_id, key.as_str(), &later, now).await?;
        if n > 0 {
            tracing::debug!(key = %key, cancelled = n, "scheduled deliveries cancelled");
        }
    }
    Ok(())
}
