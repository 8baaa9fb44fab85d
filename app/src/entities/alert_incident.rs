use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, IncidentId, WebhookId};

/// What an incident is about.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum IncidentKind {
    /// The failure streak passed half the auto-disable threshold (a warning).
    #[sea_orm(string_value = "failing")]
    Failing,
    /// The webhook was paused automatically (the whole threshold, or a 410 answer).
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Failing => "failing",
            IncidentKind::Disabled => "disabled",
        }
    }

    /// The alert event's type: `webhook.failing` or `webhook.disabled`.
    pub fn event_type(self) -> &'static str {
        match self {
            IncidentKind::Failing => "webhook.failing",
            IncidentKind::Disabled => "webhook.disabled",
        }
    }
}

/// One incident of one webhook, and the outbox of its notifications (see the migration
/// `m20261203_000008_alerts`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_incidents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: IncidentId,
    pub account_id: AccountId,
    pub webhook_id: WebhookId,
    pub kind: IncidentKind,
    /// The webhook's name and URL when the incident opened.
    pub webhook_name: String,
    pub webhook_url: String,
    pub reason: String,
    pub last_error: Option<String>,
    pub last_success_at: Option<i64>,
    pub opened_at: i64,
    /// Set when the webhook succeeded again or was re-enabled.
    pub resolved_at: Option<i64>,
    /// Set when the owner dismissed the notice (it stays open until resolved).
    pub dismissed_at: Option<i64>,
    /// When the e-mail's next try is due; `None`: nothing (more) to send.
    pub mail_due_at: Option<i64>,
    pub mail_attempts: i32,
    pub mailed_at: Option<i64>,
    pub mail_error: Option<String>,
    /// When the alert webhook's delivery is to be queued; `None`: queued, or not to be sent.
    pub hook_due_at: Option<i64>,
    pub hook_queued_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
