//! Reading webhooks for their owner: the list, one webhook's page, its events and secret.

use sea_orm::{DatabaseConnection, QueryOrder};

use crate::domain::{AccountId, EventSet, WebhookId};
use crate::entities::{now_ms, webhook};
use crate::error::AppError;
use crate::secrets::SecretBox;
use crate::webhooks::model::{WebhookDetail, WebhookSummary};

fn events_of(model: &webhook::Model) -> Vec<String> {
    EventSet::from_stored(&model.events)
        .iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

/// The subscribed event names of a stored webhook.
pub fn event_names(model: &webhook::Model) -> Vec<String> {
    events_of(model)
}

/// The signing secret of a stored webhook, as the owner sees it (decrypted).
pub fn secret_of(secrets: &SecretBox, model: &webhook::Model) -> Result<String, AppError> {
    secrets.open(&model.secret).map_err(|e| {
        tracing::error!(webhook = %model.id, error = %e, "cannot open a signing secret");
        AppError::Internal
    })
}

pub async fn detail(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    model: webhook::Model,
    reveal: bool,
) -> Result<WebhookDetail, AppError> {
    let hourly = crate::deliveries::query::hourly(db, model.id).await?;
    let scheduled = crate::deliveries::query::scheduled_count(db, model.id).await?;
    let secret = secret_of(secrets, &model)?;
    let now = now_ms();
    let held_count = crate::queue::held_count(db, model.id).await?;
    Ok(WebhookDetail {
        hourly,
        scheduled,
        ordered: model.ordered,
        format: model.format.clone(),
        header_names: model.header_names(),
        filter: model.filter.clone().unwrap_or_default(),
        filter_preview: filter_preview(db, &model).await?,
        template: model.template.clone().unwrap_or_default(),
        content_type: model.content_type.clone().unwrap_or_default(),
        held_count,
        disabled_at: model.disabled_at,
        disabled_reason: model.disabled_reason.clone(),
        events: events_of(&model),
        secret_masked: crate::domain::signing_secret_mask(&secret),
        secret: reveal.then_some(secret),
        previous_secret_until: model
            .previous_secret_expires_at
            .filter(|&t| t > now && model.previous_secret.is_some()),
        id: model.id,
        name: model.name,
        url: model.url,
        description: model.description,
        active: model.active,
        timeout_secs: model.timeout_secs,
        retry_attempts: model.retry_attempts,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

/// The account's webhooks, oldest first.
pub async fn all_owned(
    db: &DatabaseConnection,
    account_id: AccountId,
) -> Result<Vec<webhook::Model>, AppError> {
    Ok(webhook::Entity::secure_find(account_id)
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?)
}

/// The list page's rows: each webhook with its last delivery and its last 24 hours.
pub async fn list(
    db: &DatabaseConnection,
    account_id: AccountId,
) -> Result<Vec<WebhookSummary>, AppError> {
    let hooks = all_owned(db, account_id).await?;
    let ids: Vec<WebhookId> = hooks.iter().map(|w| w.id).collect();
    let totals = crate::deliveries::query::totals_24h(db, &ids).await?;
    let held = crate::queue::held_counts(db, &ids).await?;
    let mut out = Vec::with_capacity(hooks.len());
    for model in hooks {
        let (succeeded_24h, finished_24h) = totals.get(&model.id).copied().unwrap_or_default();
        out.push(WebhookSummary {
            events: events_of(&model),
            last_delivery: crate::deliveries::query::latest(db, model.id).await?,
            succeeded_24h,
            finished_24h,
            held_count: held.get(&model.id).copied().unwrap_or_default(),
            disabled_reason: model.disabled_reason.clone().filter(|_| !model.active),
            id: model.id,
            name: model.name,
            url: model.url,
            active: model.active,
            created_at: model.created_at,
        });
    }
    Ok(out)
}

/// How many recent events the edit page checks the filter against.
pub const FILTER_PREVIEW_EVENTS: u64 = 20;

/// The account's last [`FILTER_PREVIEW_EVENTS`] events of the webhook's types and whether its
/// filter matches each; nothing without a filter.
async fn filter_preview(
    db: &DatabaseConnection,
    model: &webhook::Model,
) -> Result<Vec<crate::webhooks::model::FilterCheck>, AppError> {
    use crate::entities::event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let Some(filter) = model.filter.as_deref() else {
        return Ok(Vec::new());
    };
    let types: Vec<&str> = EventSet::from_stored(&model.events)
        .iter()
        .map(|t| t.as_str())
        .collect();
    let rows = event::Entity::find()
        .filter(event::Column::AccountId.eq(model.account_id))
        .filter(event::Column::EventType.is_in(types))
        .order_by_desc(event::Column::CreatedAt)
        .limit(FILTER_PREVIEW_EVENTS)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| {
            let data = e.data();
            crate::webhooks::model::FilterCheck {
                matched: crate::domain::filter::matches(filter, &e.event_type, &data),
                summary: crate::domain::Message::from_data(&e.event_type, &data, None).summary,
                event_type: e.event_type,
                created_at: e.created_at,
            }
        })
        .collect())
}
