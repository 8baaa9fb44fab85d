//! The delivery log: every delivery of a webhook and every attempt of it, and sending one
//! again.

mod chart;
mod detail_page;
mod log_page;
mod model;
#[cfg(feature = "ssr")]
pub mod query;

use leptos::prelude::*;

use crate::error::AppError;

pub use chart::DeliveryChart;
pub use detail_page::DeliveryDetailPage;
pub use log_page::DeliveryLogPage;
pub use model::{
    AttemptView, DeliveryDetail, DeliveryPage, DeliveryRow, HourBucket, LogFilter, PAGE_SIZE,
};

/// One page of a webhook's deliveries, newest first. `cursor` is the id of the last delivery
/// of the previous page.
#[server(prefix = "/fn", endpoint = "deliveries/list")]
pub async fn list_deliveries(
    webhook_id: crate::domain::WebhookId,
    #[server(default)] status: String,
    #[server(default)] event: String,
    #[server(default)] cursor: String,
) -> Result<DeliveryPage, AppError> {
    crate::request::as_user(
        "deliveries/list",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            let webhook =
                crate::entities::scope::owned_webhook(&db, user.account_id, webhook_id).await?;
            let filter =
                LogFilter::parse(&status, &event, &cursor).map_err(|e| AppError::field("", e))?;
            Ok(query::list(&db, webhook.id, &filter, PAGE_SIZE).await?)
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "deliveries/get")]
pub async fn get_delivery(
    webhook_id: crate::domain::WebhookId,
    delivery_id: String,
) -> Result<DeliveryDetail, AppError> {
    crate::request::as_user(
        "deliveries/get",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            let webhook =
                crate::entities::scope::owned_webhook(&db, user.account_id, webhook_id).await?;
            let id: crate::domain::DeliveryId =
                delivery_id.parse().map_err(|_| AppError::NotFound)?;
            query::detail(&db, &webhook, id)
                .await?
                .ok_or(AppError::NotFound)
        },
    )
    .await
}

/// Sends a delivery again now: a manual attempt for a finished delivery, or the next
/// automatic try brought forward for a pending one. Returns what was done, in words.
#[server(prefix = "/fn", endpoint = "deliveries/resend")]
pub async fn resend_delivery(
    webhook_id: crate::domain::WebhookId,
    delivery_id: String,
) -> Result<String, AppError> {
    crate::request::as_user(
        "deliveries/resend",
        |crate::request::UserRequest { user, state }| async move {
            use crate::queue::Resend;
            let webhook =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, webhook_id)
                    .await?;
            let id: crate::domain::DeliveryId =
                delivery_id.parse().map_err(|_| AppError::NotFound)?;
            let done = crate::queue::resend(&state.db, &state.wakeup, webhook.id, id)
                .await?
                .ok_or(AppError::NotFound)?;
            Ok(match done {
                Resend::Redelivering => "Redelivering now.",
                Resend::RetryingNow => "Retrying now.",
                Resend::InFlight => "It is being sent right now.",
            }
            .to_string())
        },
    )
    .await
}
