//! The operator API's JSON shapes (also its OpenAPI schemas).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::types::{rfc3339, ErrorDetail};

/// An account provisioned by the product.
#[derive(Serialize, ToSchema)]
pub struct Account {
    /// The product's own id of the account.
    #[schema(example = "cus_123")]
    pub external_id: String,
    pub name: String,
    /// The owner's e-mail (alerts go there; the owner logs in by one-time links).
    pub owner_email: String,
    pub created_at: String,
}

impl From<app::operator::accounts::Provisioned> for Account {
    fn from(p: app::operator::accounts::Provisioned) -> Self {
        Account {
            external_id: p.external_id,
            name: p.name,
            owner_email: p.owner_email,
            created_at: rfc3339(p.created_at),
        }
    }
}

/// Creates the account, or changes what is given. `owner_email` is required to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutAccount {
    /// Default: the external id.
    pub name: Option<String>,
    #[schema(example = "owner@example.com")]
    pub owner_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    /// In external id order.
    pub data: Vec<Account>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<u64>,
}

/// A one-time log-in link's options.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewLoginLink {
    /// The page it opens, a path of this site starting with `/settings` (default
    /// `/settings/webhooks`); a webhook it names must be this account's.
    #[schema(example = "/settings/webhooks")]
    pub path: Option<String>,
    /// Shown as "Back to <product>" on the pages: a URL on one of the operator's allowed
    /// return origins (`SKW_RETURN_ORIGINS`).
    #[schema(example = "https://app.example.com/settings")]
    pub return_url: Option<String>,
    /// The pages leave out their own header (they are shown inside the product's frame).
    pub embedded: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginLink {
    /// Open it with a plain GET (a redirect, a link or an iframe's `src`); good once.
    pub url: String,
    pub expires_at: String,
}

/// Up to 500 events for one or several accounts, written in one commit.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EventBatch {
    pub events: Vec<BatchEvent>,
}

/// One event of a batch: the single publish's body, with its account and its own
/// idempotency key.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct BatchEvent {
    /// The account's external id.
    #[schema(example = "cus_123")]
    pub account: String,
    #[schema(example = "booking.created")]
    pub event: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub deliver_at: Option<String>,
    pub key: Option<String>,
    pub cancel_scheduled: Option<bool>,
    /// As the single publish's `Idempotency-Key` header, per account.
    pub idempotency_key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResults {
    /// One per event, in the request's order.
    pub results: Vec<BatchResult>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// The event's position in the request (from 0).
    pub index: usize,
    /// What the single publish would have answered: 202, or the error's status.
    pub status: u16,
    /// The event's id (when 202).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How many webhooks it goes to (when 202).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<i32>,
    /// True when an earlier event with the same idempotency key is answered again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// Why this event was not published (the others are).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}
