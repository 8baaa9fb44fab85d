//! The durable delivery queue, shared by the pages (Send test event), the ingest API and the
//! dispatcher: publishing an event (event row + one delivery per subscribed webhook, in one
//! transaction), claiming due deliveries with a lease, and recording attempts. Every change of
//! a delivery's state is in [`lifecycle`] (its head comment draws the state machine).
//!
//! Nothing lives only in memory: the `deliveries` table is the queue. The in-process
//! [`Wakeup`] only shortens the wait of an idle dispatcher.

pub mod clock;
mod gate;
mod lifecycle;
pub mod notify;
mod publish;
pub mod retention;
pub(crate) mod sql;
mod status;
mod wakeup;

pub use gate::WriteGate;
pub use lifecycle::handoff::{Dispatch, Handoff, Reservation};
pub use lifecycle::{
    cancel_event, cancel_scheduled_for_key, claim_due, claim_due_within, held_count, held_counts,
    load_jobs, next_due, next_due_at, record_attempts, release, replay, resend, set_ordered,
    settle_held, shown_status_sql, wake, AttemptOutcome, AutoDisable, Claimed, HeldChoice, Job,
    Lease, Next, Recorded, ReplayFilter, Replayed, Resend, Room, CANCELLED_BY, HOUR_MS, REPLAY_CAP,
};
pub use publish::{
    publish_batch, Destination, PublishError, PublishRequest, Published, Publisher, Targets,
};
pub use status::{AttemptErrorKind, AttemptTrigger, DeliveryStatus, ShownStatus};
pub use wakeup::Wakeup;
