// The form server functions take one argument per form field.
#![allow(clippy::too_many_arguments)]

//! The webhook server functions. Every one acts for the logged-in user's account only: another
//! account's webhook id is answered exactly like an id that does not exist (`NotFound`).

use leptos::prelude::*;

use super::model::{RequestPreview, TestOutcome, WebhookDetail, WebhookSummary};
use crate::domain::WebhookInput;
use crate::error::AppError;

/// Assembles the form's fields (an unticked checkbox is simply absent).
pub fn webhook_input(
    name: String,
    url: String,
    events: Vec<String>,
    active: Option<String>,
    timeout_secs: String,
    retry_attempts: String,
    description: String,
    ordered: Option<String>,
    format: String,
    headers: String,
    filter: String,
    template: String,
    content_type: String,
) -> WebhookInput {
    WebhookInput {
        name,
        url,
        events,
        active: active.is_some_and(|v| v != "false"),
        timeout_secs,
        retry_attempts,
        description,
        ordered: ordered.is_some_and(|v| v != "false"),
        format,
        headers,
        filter,
        template,
        content_type,
    }
}

#[server(prefix = "/fn", endpoint = "webhooks/list")]
pub async fn list_webhooks() -> Result<Vec<WebhookSummary>, AppError> {
    crate::request::as_user(
        "webhooks/list",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            super::ssr::list(&db, user.account_id).await
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/get")]
pub async fn get_webhook(
    id: crate::domain::WebhookId,
    #[server(default)] reveal: bool,
) -> Result<WebhookDetail, AppError> {
    crate::request::as_user(
        "webhooks/get",
        |crate::request::UserRequest { user, state }| async move {
            let model =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, id).await?;
            super::ssr::detail(&state.db, &state.secrets, model, reveal).await
        },
    )
    .await
}

/// What the webhook would be sent for `source` (`example:<type>` or `event:<id>` of this
/// account; empty: the first subscribed type's example), body and headers as the dispatcher
/// builds them.
#[server(prefix = "/fn", endpoint = "webhooks/preview")]
pub async fn preview_request(
    id: crate::domain::WebhookId,
    #[server(default)] source: String,
) -> Result<RequestPreview, AppError> {
    crate::request::as_user(
        "webhooks/preview",
        |crate::request::UserRequest { user, state }| async move {
            let model =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, id).await?;
            super::ssr::preview(&state.db, &state.secrets, &model, &source).await
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/reveal-secret")]
pub async fn reveal_secret(id: crate::domain::WebhookId) -> Result<String, AppError> {
    crate::request::as_user(
        "webhooks/reveal-secret",
        |crate::request::UserRequest { user, state }| async move {
            let model =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, id).await?;
            super::ssr::secret_of(&state.secrets, &model)
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/create")]
pub async fn create_webhook(
    #[server(default)] name: String,
    #[server(default)] url: String,
    #[server(default)] events: Vec<String>,
    #[server(default)] active: Option<String>,
    #[server(default)] timeout_secs: String,
    #[server(default)] retry_attempts: String,
    #[server(default)] description: String,
    #[server(default)] ordered: Option<String>,
    #[server(default)] format: String,
    #[server(default)] headers: String,
    #[server(default)] filter: String,
    #[server(default)] template: String,
    #[server(default)] content_type: String,
) -> Result<(), AppError> {
    crate::request::as_user(
        "webhooks/create",
        |crate::request::UserRequest { user, state }| async move {
            let input = webhook_input(
                name,
                url,
                events,
                active,
                timeout_secs,
                retry_attempts,
                description,
                ordered,
                format,
                headers,
                filter,
                template,
                content_type,
            );
            let draft = super::ssr::vet(&input, state.policy).await?;
            super::ssr::create(&state.db, &state.secrets, user.account_id, &draft).await?;
            leptos_axum::redirect("/settings/webhooks");
            Ok(())
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/update")]
pub async fn update_webhook(
    id: crate::domain::WebhookId,
    #[server(default)] name: String,
    #[server(default)] url: String,
    #[server(default)] events: Vec<String>,
    #[server(default)] active: Option<String>,
    #[server(default)] timeout_secs: String,
    #[server(default)] retry_attempts: String,
    #[server(default)] description: String,
    #[server(default)] ordered: Option<String>,
    #[server(default)] format: String,
    #[server(default)] headers: String,
    #[server(default)] filter: String,
    #[server(default)] template: String,
    #[server(default)] content_type: String,
) -> Result<(), AppError> {
    crate::request::as_user(
        "webhooks/update",
        |crate::request::UserRequest { user, state }| async move {
            let model =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, id).await?;
            let input = webhook_input(
                name,
                url,
                events,
                active,
                timeout_secs,
                retry_attempts,
                description,
                ordered,
                format,
                headers,
                filter,
                template,
                content_type,
            );
            let draft = super::ssr::vet(&input, state.policy).await?;
            super::ssr::update(
                &state.db,
                &state.secrets,
                &state.wakeup,
                model,
                &draft,
                None,
                "active",
            )
            .await?;
            leptos_axum::redirect("/settings/webhooks");
            Ok(())
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: crate::domain::WebhookId) -> Result<(), AppError> {
    crate::request::as_user(
        "webhooks/delete",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            let model = crate::entities::scope::owned_webhook(&db, user.account_id, id).await?;
            super::ssr::delete(&db, model).await?;
            leptos_axum::redirect("/settings/webhooks");
            Ok(())
        },
    )
    .await
}

/// Switches a webhook back on after it was paused (automatically or not). `held`: `send` or
/// `discard`, what becomes of the deliveries held meanwhile (required when there are any).
#[server(prefix = "/fn", endpoint = "webhooks/enable")]
pub async fn enable_webhook(
    id: crate::domain::WebhookId,
    #[server(default)] held: Option<String>,
) -> Result<(), AppError> {
    crate::request::as_user(
        "webhooks/enable",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            let model = crate::entities::scope::owned_webhook(&db, user.account_id, id).await?;
            let choice = match held.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(crate::queue::HeldChoice::parse(s).ok_or_else(|| {
                    AppError::field("held", "Choose “send” or “discard” for the held events.")
                })?),
            };
            super::ssr::enable(&db, &state.wakeup, model, choice).await?;
            Ok(())
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "webhooks/rotate-secret")]
pub async fn rotate_secret(id: crate::domain::WebhookId) -> Result<(), AppError> {
    crate::request::as_user(
        "webhooks/rotate-secret",
        |crate::request::UserRequest { user, state }| async move {
            let model =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, id).await?;
            super::ssr::rotate(&state.db, &state.secrets, model).await?;
            Ok(())
        },
    )
    .await
}

/// Sends a test event (`webhook.test`, or a subscribed type's catalog example) to this webhook alone, through the dispatcher, and waits for the first
/// attempt's outcome (at most the webhook's timeout and a few seconds). A plain form post (no
/// JavaScript) is redirected back to the edit page, which then shows the outcome.
#[server(prefix = "/fn", endpoint = "webhooks/send-test")]
pub async fn send_test_event(
    id: crate::domain::WebhookId,
    #[server(default)] event: String,
) -> Result<TestOutcome, AppError> {
    crate::request::as_user(
        "webhooks/send-test",
        |crate::request::UserRequest { user, state }| async move {
            let outcome = super::ssr::send_test(&state, user.account_id, id, &event).await?;
            if crate::request::wants_html() {
                leptos_axum::redirect(&format!(
                    "/settings/webhooks/{id}/edit?test={}",
                    outcome.delivery_id
                ));
            }
            Ok(outcome)
        },
    )
    .await
}

/// The outcome of an earlier test event of this webhook.
#[server(prefix = "/fn", endpoint = "webhooks/test-outcome")]
pub async fn get_test_outcome(
    id: crate::domain::WebhookId,
    delivery_id: String,
) -> Result<TestOutcome, AppError> {
    crate::request::as_user(
        "webhooks/test-outcome",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            let model = crate::entities::scope::owned_webhook(&db, user.account_id, id).await?;
            let delivery_id: crate::domain::DeliveryId =
                delivery_id.parse().map_err(|_| AppError::NotFound)?;
            super::ssr::outcome(&db, model.id, delivery_id).await
        },
    )
    .await
}
