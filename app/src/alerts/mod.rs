//! Alerts (issue 15): the account is told when one of its webhooks is paused automatically (a
//! failure streak reaching the auto-disable threshold, or a 410 answer) and when a streak passes
//! half the threshold — once per incident, which ends when the webhook succeeds again or is
//! re-enabled.
//!
//! * [`incidents`]: where incidents open (inside the recorder's transaction) and end (server
//!   only).
//! * [`outbox`]: what the dispatcher process's alert loop sends, with retries: the e-mail
//!   (written here, sent by `server::alerts` over SMTP) and the alert webhook's delivery,
//!   queued once through the ordinary delivery queue (server only).
//! * [`ssr`]: the notices of an account and its alert settings (server only).
//! * The pages: the notices on the webhook list and in the header ([`notice`]), and the
//!   account's alert settings ([`page`], `/settings/account`).

#[cfg(feature = "ssr")]
pub mod incidents;
mod notice;
#[cfg(feature = "ssr")]
pub mod outbox;
mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{IncidentId, WebhookId};
use crate::error::AppError;

pub use notice::{AlertNotices, HeaderAlerts};
pub use page::AccountSettingsPage;

/// An open incident, as the pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertNotice {
    pub id: IncidentId,
    pub webhook_id: WebhookId,
    pub webhook_name: String,
    pub webhook_url: String,
    /// `disabled` (paused automatically) or `failing` (half-way there).
    pub kind: String,
    pub reason: String,
    pub last_error: Option<String>,
    pub last_success_at: Option<i64>,
    pub opened_at: i64,
}

impl AlertNotice {
    pub fn is_disabled(&self) -> bool {
        self.kind == "disabled"
    }
}

/// The account's alert channels, as its settings page shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    /// E-mails to the account's users (when the server has SMTP configured).
    pub mail: bool,
    /// Deliveries to the alert webhook (when a URL is set).
    pub hook: bool,
    pub hook_url: Option<String>,
    /// The alert webhook's signing secret (`whsec_…`), when there is one.
    pub hook_secret: Option<String>,
    /// Where the e-mails go: the account's users.
    pub recipients: Vec<String>,
}

/// The account's open incidents that are not dismissed, newest first.
#[server(prefix = "/fn", endpoint = "alerts/list")]
pub async fn list_alerts() -> Result<Vec<AlertNotice>, AppError> {
    crate::request::as_user("alerts/list", |cx| async move {
        ssr::open_notices(&cx.state.db, cx.user.account_id).await
    })
    .await
}

/// Hides an open incident's notice (it stays open, so it is not told again).
#[server(prefix = "/fn", endpoint = "alerts/dismiss")]
pub async fn dismiss_alert(id: IncidentId) -> Result<(), AppError> {
    crate::request::as_user("alerts/dismiss", |cx| async move {
        ssr::dismiss(&cx.state.db, cx.user.account_id, id).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "alerts/settings")]
pub async fn get_alert_settings() -> Result<AlertSettings, AppError> {
    crate::request::as_user("alerts/settings", |cx| async move {
        ssr::settings(&cx.state.db, &cx.state.secrets, cx.user.account_id).await
    })
    .await
}

/// Saves the account's alert channels: the two switches (checkboxes: present = on) and the
/// alert webhook's URL (empty: none).
#[server(prefix = "/fn", endpoint = "alerts/save-settings")]
pub async fn save_alert_settings(
    #[server(default)] mail: Option<String>,
    #[server(default)] hook: Option<String>,
    #[server(default)] hook_url: String,
) -> Result<(), AppError> {
    crate::request::as_user("alerts/save-settings", |cx| async move {
        let url = match hook_url.trim() {
            "" => None,
            url => Some(
                crate::domain::WebhookUrl::parse(url, cx.state.policy)
                    .map_err(|e| AppError::field("hook_url", e))?,
            ),
        };
        ssr::save(
            &cx.state.db,
            &cx.state.secrets,
            cx.user.account_id,
            mail.is_some(),
            hook.is_some(),
            url,
        )
        .await
    })
    .await
}
