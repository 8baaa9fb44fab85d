//! The durable delivery queue, shared by the pages (Send test event), the ingest API and the
//! dispatcher: publishing an event (event row + one delivery per subscribed webhook, in one
//! transaction), claiming due deliveries with a lease, and recording attempts.
//!
//! Nothing lives only in memory: the `deliveries` table is the queue. The in-process
//! [`Wakeup`] only shortens the wait of an idle dispatcher.

mod claim;
pub mod clock;
mod gate;
pub mod notify;
mod publish;
mod record;
mod redeliver;
pub mod retention;
mod sample;
pub(crate) mod sql;
mod status;
mod wakeup;

pub use claim::{claim_due, load_jobs, next_due_at, release, Claimed, Job, Room};
pub use gate::WriteGate;
pub use publish::{publish_batch, PublishError, PublishRequest, Published, Publisher, Targets};
pub use record::{record_attempts, AttemptOutcome, AutoDisable, Next, Recorded, HOUR_MS};
pub use redeliver::{resend, Resend};
pub use sample::sample_booking;
pub use status::DeliveryStatus;
pub use wakeup::Wakeup;
