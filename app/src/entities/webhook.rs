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
    /// `standard`, `slack`, `discord` or `teams` (`domain::WebhookFormat`).
    pub format: String,
    /// Custom headers: a JSON array of `[name, sealed value]` (`domain::custom_headers`).
    pub headers: Option<String>,
    /// Only events this expression matches are sent (`domain::filter`); NULL: every event.
    pub filter: Option<String>,
    /// The body template (`domain::template`), used while `format` is `template`.
    pub template: Option<String>,
    /// The template's body type (`domain::BodyType::as_str`); NULL: JSON.
    pub content_type: Option<String>,
    /// The account's alert endpoint (`crate::alerts`): hidden from the account's webhooks
    /// (`secure_find` leaves it out), subscribed to nothing, sent only alert events.
    pub alerts: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a new webhook row is made of; [`NewWebhook::into_active`] is the one place a webhook
/// row is built (the form, the API and the account's alert endpoint all go through it), with no
/// rotation under way and a clean health record.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub account_id: AccountId,
    pub name: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub active: bool,
    pub timeout_secs: i32,
    pub retry_attempts: i32,
    /// Sealed (`secrets::SecretBox::seal`).
    pub sealed_secret: String,
    pub ordered: bool,
    pub format: String,
    /// Stored form of the custom headers (see [`Model::headers`]).
    pub headers: Option<String>,
    pub filter: Option<String>,
    pub template: Option<String>,
    pub content_type: Option<String>,
    pub alerts: bool,
}

impl NewWebhook {
    pub fn into_active(self, now: i64) -> ActiveModel {
        use sea_orm::ActiveValue::Set;
        ActiveModel {
            id: Default::default(),
            account_id: Set(self.account_id),
            name: Set(self.name),
            url: Set(self.url),
            description: Set(self.description),
            events: Set(self.events),
            active: Set(self.active),
            timeout_secs: Set(self.timeout_secs),
            retry_attempts: Set(self.retry_attempts),
            secret: Set(self.sealed_secret),
            previous_secret: Set(None),
            previous_secret_expires_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            disabled_at: Set(None),
            disabled_reason: Set(None),
            failing_since: Set(None),
            consecutive_failures: Set(0),
            ordered: Set(self.ordered),
            format: Set(self.format),
            headers: Set(self.headers),
            filter: Set(self.filter),
            template: Set(self.template),
            content_type: Set(self.content_type),
            alerts: Set(self.alerts),
        }
    }
}

impl Model {
    /// The names of its custom headers, in the order they are sent (their values stay sealed).
    pub fn header_names(&self) -> Vec<String> {
        stored_headers(self.headers.as_deref())
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }
}

/// The stored custom headers as `(name, sealed value)` pairs; nothing for NULL or bad JSON.
pub fn stored_headers(stored: Option<&str>) -> Vec<(String, String)> {
    stored
        .and_then(|s| serde_json::from_str::<Vec<(String, String)>>(s).ok())
        .unwrap_or_default()
}
