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
                Resend::Held => {
                    "It is held while the webhook is paused: re-enable the webhook to send it."
                }
            }
            .to_string())
        },
    )
    .await
}

/// What a bulk replay from the delivery log found (dry run) or queued.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayOutcome {
    pub matched: u64,
    pub queued: u64,
    pub cap: u64,
    pub dry_run: bool,
}

/// Bulk replay of a webhook's deliveries by filter (status `failed` or `succeeded`, event
/// type, RFC 3339 times): a count first (`confirm` absent), then, confirmed, each matching
/// delivery gets one more try (trigger `replay`, same delivery id), at most 10 000 a call. A
/// plain form post (no JavaScript) is redirected back to the log with the outcome in the query.
#[server(prefix = "/fn", endpoint = "deliveries/replay")]
pub async fn replay_deliveries(
    webhook_id: crate::domain::WebhookId,
    #[server(default)] status: String,
    #[server(default)] event: String,
    #[server(default)] since: String,
    #[server(default)] until: String,
    #[server(default)] confirm: Option<String>,
) -> Result<ReplayOutcome, AppError> {
    crate::request::as_user(
        "deliveries/replay",
        |crate::request::UserRequest { user, state }| async move {
            let webhook =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, webhook_id)
                    .await?;
            let filter = crate::queue::ReplayFilter::parse(
                Some(&status),
                Some(&event),
                Some(&since),
                Some(&until),
            )?;
            let dry_run = confirm.as_deref() != Some("yes");
            let done = crate::queue::replay(&state.db, &state.wakeup, webhook.id, &filter, dry_run)
                .await?;
            let outcome = ReplayOutcome {
                matched: done.matched,
                queued: done.queued,
                cap: crate::queue::REPLAY_CAP,
                dry_run,
            };
            if crate::request::wants_html() {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("replay_status", &status)
                    .append_pair("replay_event", &event)
                    .append_pair("replay_since", &since)
                    .append_pair("replay_until", &until)
                    .append_pair("matched", &outcome.matched.to_string());
                if !dry_run {
                    q.append_pair("queued", &outcome.queued.to_string());
                }
                leptos_axum::redirect(&format!(
                    "/settings/webhooks/{webhook_id}/deliveries?{}",
                    q.finish()
                ));
            }
            Ok(outcome)
        },
    )
    .await
}

/// What the signature checker says about a pasted value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureCheck {
    /// `match`, `reserialised`, `wrong_key_form`, `hex_vs_base64`, `stale_secret` or `unknown`.
    pub verdict: String,
    pub message: String,
}

/// The signature checker: `scheme` is `seed` (X-Webhook-Signature) or `standard`
/// (webhook-signature); `computed` what the receiver's server computed for this delivery's
/// latest attempt. Says whether it is right or which usual mistake explains it (computed on
/// the server from the stored body and the webhook's current and previous secrets). A plain
/// form post is redirected back to the delivery's page with the verdict in the query.
#[server(prefix = "/fn", endpoint = "deliveries/check-signature")]
pub async fn check_signature(
    webhook_id: crate::domain::WebhookId,
    delivery_id: String,
    #[server(default)] scheme: String,
    #[server(default)] computed: String,
) -> Result<SignatureCheck, AppError> {
    crate::request::as_user(
        "deliveries/check-signature",
        |crate::request::UserRequest { user, state }| async move {
            use crate::domain::signature_check::{diagnose, Scheme, Signed};
            let webhook =
                crate::entities::scope::owned_webhook(&state.db, user.account_id, webhook_id)
                    .await?;
            let id: crate::domain::DeliveryId =
                delivery_id.parse().map_err(|_| AppError::NotFound)?;
            let scheme = Scheme::parse(scheme.trim()).ok_or_else(|| {
                AppError::field("scheme", "Choose X-Webhook-Signature or webhook-signature.")
            })?;
            if computed.trim().is_empty() {
                return Err(AppError::field(
                    "computed",
                    "Paste the signature your server computed.",
                ));
            }
            let d = query::detail(&state.db, &webhook, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let timestamp = d
                .attempts
                .first()
                .and_then(|a| {
                    a.request_headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("webhook-timestamp"))
                        .and_then(|(_, v)| v.parse::<i64>().ok())
                })
                .ok_or_else(|| {
                    AppError::field(
                        "computed",
                        "Nothing was sent yet: there is no signature to check.",
                    )
                })?;
            let open = |sealed: &str| {
                state
                    .secrets
                    .open(sealed)
                    .ok()
                    .and_then(|s| crate::domain::SigningSecret::parse(&s).ok())
            };
            let current = open(&webhook.secret).ok_or_else(|| {
                tracing::error!(webhook = %webhook.id, "cannot open a signing secret");
                AppError::Internal
            })?;
            let previous = webhook.previous_secret.as_deref().and_then(open);
            let verdict = diagnose(
                scheme,
                &computed,
                &current,
                previous.as_ref(),
                &Signed {
                    msg_id: &d.delivery.id,
                    timestamp,
                    body: d.body_raw.as_bytes(),
                },
            );
            if crate::request::wants_html() {
                let scheme = match scheme {
                    Scheme::Seed => "seed",
                    Scheme::Standard => "standard",
                };
                leptos_axum::redirect(&format!(
                    "/settings/webhooks/{webhook_id}/deliveries/{id}?check={}&scheme={scheme}",
                    verdict.code()
                ));
            }
            Ok(SignatureCheck {
                verdict: verdict.code().to_string(),
                message: verdict.message(scheme).to_string(),
            })
        },
    )
    .await
}
