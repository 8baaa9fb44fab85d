//! Tenant scope: the one place where a caller acting for an account (a page, a server function,
//! the JSON API, publishing) looks up rows that belong to an account. Each account-owned table
//! has `secure_find` (all of the account's rows) and `secure_find_by_id` (one of them): a row of
//! another account is simply not found, which every caller answers with 404, never 403, so
//! that ids of other accounts cannot be probed.
//!
//! The ids are distinct types ([`AccountId`], [`WebhookId`], [`DeliveryId`], …), so an account
//! id passed as a webhook id, or two swapped arguments, do not compile. Code that works for no
//! account — the dispatcher claiming due deliveries, retention, the operator CLI — uses the
//! entities directly, and only there.
//!
//! ```
//! use app::domain::{AccountId, WebhookId};
//! use app::entities::webhook;
//! let _mine = webhook::Entity::secure_find_by_id(AccountId(1), WebhookId(7));
//! ```
//!
//! Swapped arguments do not compile:
//!
//! ```compile_fail
//! use app::domain::{AccountId, WebhookId};
//! use app::entities::webhook;
//! let _oops = webhook::Entity::secure_find_by_id(WebhookId(7), AccountId(1));
//! ```
//!
//! Nor does a bare number where an id belongs:
//!
//! ```compile_fail
//! use app::domain::AccountId;
//! use app::entities::webhook;
//! let _oops = webhook::Entity::secure_find_by_id(AccountId(1), 7_i64);
//! ```

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};

use super::{api_key, delivery, event, webhook};
use crate::domain::{AccountId, ApiKeyId, DeliveryId, WebhookId};
use crate::error::AppError;

impl webhook::Entity {
    /// The account's webhooks (not its alert endpoint, which only `crate::alerts` reads).
    pub fn secure_find(account: AccountId) -> Select<webhook::Entity> {
        webhook::Entity::find()
            .filter(webhook::Column::AccountId.eq(account))
            .filter(webhook::Column::Alerts.eq(false))
    }

    /// One of the account's webhooks.
    pub fn secure_find_by_id(account: AccountId, id: WebhookId) -> Select<webhook::Entity> {
        webhook::Entity::secure_find(account).filter(webhook::Column::Id.eq(id))
    }
}

impl delivery::Entity {
    /// The account's deliveries.
    pub fn secure_find(account: AccountId) -> Select<delivery::Entity> {
        delivery::Entity::find().filter(delivery::Column::AccountId.eq(account))
    }

    /// One of the account's deliveries.
    pub fn secure_find_by_id(account: AccountId, id: DeliveryId) -> Select<delivery::Entity> {
        delivery::Entity::secure_find(account).filter(delivery::Column::Id.eq(id))
    }

    /// The deliveries of one of the account's webhooks.
    pub fn secure_find_of_webhook(
        account: AccountId,
        webhook: WebhookId,
    ) -> Select<delivery::Entity> {
        delivery::Entity::secure_find(account).filter(delivery::Column::WebhookId.eq(webhook))
    }
}

impl event::Entity {
    /// The account's events.
    pub fn secure_find(account: AccountId) -> Select<event::Entity> {
        event::Entity::find().filter(event::Column::AccountId.eq(account))
    }
}

impl api_key::Entity {
    /// The account's API keys.
    pub fn secure_find(account: AccountId) -> Select<api_key::Entity> {
        api_key::Entity::find().filter(api_key::Column::AccountId.eq(account))
    }

    /// One of the account's API keys.
    pub fn secure_find_by_id(account: AccountId, id: ApiKeyId) -> Select<api_key::Entity> {
        api_key::Entity::secure_find(account).filter(api_key::Column::Id.eq(id))
    }
}

/// One of the account's webhooks, or [`AppError::NotFound`] (another account's webhook is not
/// found either).
pub async fn owned_webhook(
    db: &impl ConnectionTrait,
    account: AccountId,
    id: WebhookId,
) -> Result<webhook::Model, AppError> {
    webhook::Entity::secure_find_by_id(account, id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// One of the account's deliveries, or [`AppError::NotFound`].
pub async fn owned_delivery(
    db: &impl ConnectionTrait,
    account: AccountId,
    id: DeliveryId,
) -> Result<delivery::Model, AppError> {
    delivery::Entity::secure_find_by_id(account, id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}
