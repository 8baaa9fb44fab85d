use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, WebhookId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: WebhookId,
    pub account_id: AccountId,
    pub name: String,
    pub url: String,
    pub description: String,
    /// Comma-separated event type names (see `domain::EventSet`).
    pub events: String,
    pub active: bool,
    pub timeout_secs: i32,
    pub retry_attempts: i32,
    pub secret: String,
    /// The secret before the last rotation; it still signs until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when the webhook was switched off automatically because its deliveries kept failing.
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    /// Since when every finished delivery has failed, and how many (cleared by a success).
    pub failing_since: Option<i64>,
    pub consecutive_failures: i32,
    /// Deliveries with the same key go one at a time, in publish order.
    pub ordered: bool,
    /// The account's alert endpoint (`crate::alerts`): hidden from the account's webhooks
    /// (`secure_find` leaves it out), subscribed to nothing, sent only alert events.
    pub alerts: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
