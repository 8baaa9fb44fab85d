//! Database work behind the webhook server functions (server only), one module per job. Tenant
//! scope itself is in [`crate::entities::scope`].

mod preview;
mod read;
mod test_event;
mod vetting;
mod write;

pub use preview::{preview, PREVIEW_EVENTS};
pub use read::{all_owned, detail, event_names, list, secret_of};
pub use test_event::{outcome, send_test};
pub use vetting::vet;
pub use write::{
    create, delete, enable, rotate, update, MAX_WEBHOOKS_PER_ACCOUNT, ROTATION_OVERLAP_MS,
};
