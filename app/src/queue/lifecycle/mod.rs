//! A delivery's life: every change of a delivery's state is made here, and only here.
//!
//! ```text
//!               publish (queue::publish)
//!                        │
//!                        ▼
//!   ┌────────────►  waiting  ──────── claim ───────►  in flight
//!   │        (pending, no lease;               (pending, leased: `lease_token` set,
//!   │         due at next_attempt_at)           next_attempt_at = end of the lease)
//!   │             ▲       ▲                          │   │   │
//!   │  reschedule │       └──── release / lease ends ┘   │   │
//!   │ (resend: due│             (stopping worker; a      │   │
//!   │  now)       │              crashed one's lease     │   │
//!   │             │              runs out, claim again)  │   │
//!   │             └─────── record: retry due at T ───────┘   │
//!   │                                                        │ record: 2xx → succeeded
//!   │                                                        │ record: no tries left → failed
//!   │                                                        ▼
//!   └──────── redeliver (resend: one manual try) ──── succeeded | failed (final)
//! ```
//!
//! * [`claim_due`] leases due waiting deliveries to this worker ([`Claimed`], holding a
//!   [`Lease`]); [`load_jobs`] reads what an attempt needs.
//! * A [`Lease`] is the only way to write an in-flight delivery: [`record_attempts`] (the
//!   outcome of a try, which names its lease) and [`release`] change a row only while its
//!   lease token still matches, so a worker whose lease was taken over changes nothing.
//! * [`resend`] is the owner's hand: a waiting delivery is due now, a final one is reopened
//!   for one manual try; an in-flight one is left alone.
//! * In flight is defined once: [`delivery::Model::in_flight`].
//!
//! A new state (held, scheduled, cancelled) is one variant of [`DeliveryStatus`] and the
//! transitions into and out of it, here.

mod claim;
mod record;
mod redeliver;

pub use claim::{claim_due, load_jobs, next_due_at, release, Claimed, Job, Room};
pub use record::{record_attempts, AttemptOutcome, AutoDisable, Next, Recorded, HOUR_MS};
pub use redeliver::{resend, Resend};

use super::DeliveryStatus;
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
}
