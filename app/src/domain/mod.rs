//! The webhooks domain: values with a `parse` constructor that every entry point (forms, JSON
//! API, CLI, dispatcher) goes through, so validation exists in exactly one place.
//!
//! The pure parts compile for both the server and the browser (the form can show the same event
//! catalogue); signing and secret generation are server-only.

mod account_input;
mod api_scope;
#[cfg(feature = "ssr")]
pub mod catalog;
pub mod custom_headers;
mod event_type;
#[cfg(feature = "ssr")]
mod external_id;
mod field_errors;
#[cfg(feature = "ssr")]
pub mod filter;
mod format;
mod ids;
#[cfg(feature = "ssr")]
mod jinja;
#[cfg(feature = "ssr")]
pub mod outgoing;
mod schedule;
mod signing_secret;
mod target;
pub mod template;
mod text;
mod webhook_draft;
mod webhook_url;

pub mod signature_check;
#[cfg(feature = "ssr")]
pub mod signing;

pub use account_input::{Email, Password};
pub use api_scope::{ApiScope, ApiScopes};
pub use event_type::{EventFamily, EventSet, EventType};
#[cfg(feature = "ssr")]
pub use external_id::ExternalId;
pub use field_errors::FieldErrors;
#[cfg(feature = "ssr")]
pub use format::Message;
pub use format::WebhookFormat;
pub use ids::{AccountId, ApiKeyId, IncidentId, UserId, WebhookId};
#[cfg(feature = "ssr")]
pub use ids::{DeliveryId, EventId};
pub use schedule::{parse_deliver_at, EventKey, MAX_KEY_CHARS, MAX_SCHEDULE_AHEAD_MS};
pub use signing_secret::{mask as signing_secret_mask, SigningSecret};
pub use target::{check_resolved, classify_ip, TargetPolicy};
pub use template::BodyType;
pub use text::{check_visible, is_format_char};
pub use webhook_draft::{
    WebhookDraft, WebhookInput, DEFAULT_RETRY_ATTEMPTS, DEFAULT_TIMEOUT_SECS, MAX_DESCRIPTION_LEN,
    MAX_NAME_LEN,
};
pub use webhook_url::WebhookUrl;
