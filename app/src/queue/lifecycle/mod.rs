//! A delivery's life: every change of a delivery's state is made here, and only here.
//!
//! ```text
//!   publish (queue::publish)        publish with deliver_at (a scheduled delivery: shown as
//!            │  └─ handed off ──┐   `scheduled` until its first try is due)
//!            ▼    (due now, the │               │
//!                 dispatcher of │               │
//!                 this process  └─► in flight   │
//!                 free: no claim)               │
//!   ┌────────────►  waiting  ◄──────────────────┘
//!   │        (pending, no lease;  ──────── claim ───────►  in flight
//!   │         due at next_attempt_at)              (pending, leased: `lease_token` set,
//!   │             ▲       ▲                         next_attempt_at = end of the lease)
//!   │  reschedule │       └──── release / lease ends ┘   │   │   │
//!   │ (resend: due│             (stopping worker; a      │   │   │
//!   │  now)       │              crashed one's lease     │   │   │
//!   │             │              runs out, claim again)  │   │   │
//!   │             └─────── record: retry due at T ───────┘   │   │
//!   │                                                        │   │ record: 2xx → succeeded
//!   │                                                        │   │ record: no tries left → failed
//!   │                                                        ▼   │
//!   ├──────── redeliver (resend: one manual try) ──── succeeded | failed (final)
//!   │         replay (bulk, by filter: one try each,     ▲   │ cancel (event deleted, or its
//!   │         trigger `replay`, same delivery ids)       │   │ booking cancelled): an attempt
//!   │                                                    │   │ in flight still ends; a 2xx is
//!   │   waiting ── cancel ──► cancelled (final) ◄────────┼───┘ recorded as succeeded, anything
//!   │                                                    └──── else leaves it cancelled
//!   │
//!   │   publish to a paused webhook ──► held (no due time, not sent)
//!   │                                     │  re-enable, discard → deleted
//!   └──── re-enable, send (due now, ◄─────┘
//!         a ms apart in publish order)
//! ```
//!
//! * [`claim_due`] leases due waiting deliveries to this worker ([`Claimed`], holding a
//!   [`Lease`]); [`load_jobs`] reads what an attempt needs. A delivery published due now in a
//!   process whose dispatcher can start it at once is written already leased and handed to
//!   that dispatcher after the commit, job and all, instead ([`handoff`]). A delivery of an ordered webhook
//!   that has a key is claimed only when no earlier delivery of the same webhook and key is
//!   still pending (other than one scheduled for later): one at a time per key, in sequence.
//! * A [`Lease`] is the only way to write an in-flight delivery: [`record_attempts`] (the
//!   outcome of a try, which names its lease) and [`release`] change a row only while its
//!   lease token still matches, so a worker whose lease was taken over changes nothing.
//! * [`resend`] is the owner's hand: a waiting delivery is due now, a final one is reopened
//!   for one manual try; an in-flight one is left alone.
//! * [`cancel_event`] and [`cancel_scheduled_for_key`] end what has not been delivered of an
//!   event ([`cancel`]); [`set_ordered`] switches order per key for a webhook's pending rows.
//! * [`replay`] reopens a webhook's final deliveries that match a filter, through the same
//!   reopening as [`resend`] (at most [`REPLAY_CAP`] a call).
//! * Held deliveries ([`held`]): [`settle_held`] sends or discards them when their webhook is
//!   switched back on, inside that switch's transaction.
//! * In flight is defined once: [`delivery::Model::in_flight`]; what the log shows once:
//!   [`delivery::Model::shown_status`] (and its SQL twin, [`shown_status_sql`]).
//!
//! A new state is one variant of [`DeliveryStatus`] and the transitions into and out of it,
//! here.

mod cancel;
mod claim;
pub mod handoff;
pub mod held;
mod record;
mod redeliver;

pub use cancel::{cancel_event, cancel_scheduled_for_key, set_ordered, CANCELLED_BY};
pub use claim::{
    claim_due, claim_due_within, load_jobs, next_due, next_due_at, release, Claimed, Job, Room,
};
pub use held::{held_count, held_counts, settle_held, wake, HeldChoice};
pub use record::{record_attempts, AttemptOutcome, AutoDisable, Next, Recorded, HOUR_MS};
pub use redeliver::{replay, resend, ReplayFilter, Replayed, Resend, REPLAY_CAP};

use super::{DeliveryStatus, ShownStatus};
use crate::domain::DeliveryId;
use crate::entities::delivery;

/// A worker's hold on one in-flight delivery: the delivery and the token of the claim. Only
/// [`claim_due`] makes one; recording an attempt or releasing the delivery presents it, and
/// changes the row only if the token still matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    delivery_id: DeliveryId,
    token: i64,
}

impl Lease {
    pub fn delivery_id(&self) -> DeliveryId {
        self.delivery_id
    }

    /// The claim's token (as stored in `deliveries.lease_token`).
    pub fn token(&self) -> i64 {
        self.token
    }
}

impl delivery::Model {
    /// Sent at this moment: pending and leased to a worker.
    pub fn in_flight(&self) -> bool {
        self.status == DeliveryStatus::Pending && self.lease_token.is_some()
    }

    /// When a waiting delivery's next try is due (`None` when in flight or final).
    pub fn waiting_until(&self) -> Option<i64> {
        (self.status == DeliveryStatus::Pending && self.lease_token.is_none())
            .then_some(self.next_attempt_at)
            .flatten()
    }

    /// Scheduled: pending, never tried, not in flight, and its time has not come.
    pub fn is_scheduled(&self, now_ms: i64) -> bool {
        self.status == DeliveryStatus::Pending
            && self.attempt_count == 0
            && self.lease_token.is_none()
            && self.deliver_at.is_some_and(|t| t > now_ms)
    }

    /// The status the log and the API show.
    pub fn shown_status(&self, now_ms: i64) -> ShownStatus {
        match self.status {
            _ if self.is_scheduled(now_ms) => ShownStatus::Scheduled,
            DeliveryStatus::Pending => ShownStatus::Pending,
            DeliveryStatus::Succeeded => ShownStatus::Succeeded,
            DeliveryStatus::Failed => ShownStatus::Failed,
            DeliveryStatus::Cancelled => ShownStatus::Cancelled,
            DeliveryStatus::Held => ShownStatus::Held,
        }
    }
}

/// The SQL condition (over the columns of one `deliveries` row, unqualified) that a row shows
/// as `shown` at `now` — the same rule as [`delivery::Model::shown_status`].
pub fn shown_status_sql(shown: ShownStatus, now: i64) -> String {
    let scheduled = format!(
        "(status = 'pending' AND attempt_count = 0 AND lease_token IS NULL \
         AND COALESCE(deliver_at, 0) > {now})"
    );
    match shown {
        ShownStatus::Scheduled => scheduled,
        ShownStatus::Pending => format!("(status = 'pending' AND NOT {scheduled})"),
        ShownStatus::Succeeded => "status = 'succeeded'".into(),
        ShownStatus::Failed => "status = 'failed'".into(),
        ShownStatus::Cancelled => "status = 'cancelled'".into(),
        ShownStatus::Held => "status = 'held'".into(),
    }
}
