//! The webhook settings: list, create, edit, delete, rotate the secret, send a test event.

mod create;
mod edit;
mod fields;
mod list;
mod model;
mod server;
#[cfg(feature = "ssr")]
pub mod ssr;
mod state_badge;

pub use create::CreateWebhookPage;
pub use edit::EditWebhookPage;
pub use list::WebhookListPage;
pub use model::{RequestPreview, TestOutcome, WebhookDetail, WebhookSummary};
pub use server::*;
