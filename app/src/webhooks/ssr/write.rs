//! Changing webhooks: create, update, enable, delete, rotate the secret.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};

use crate::domain::{AccountId, SigningSecret, WebhookDraft, WebhookId};
use crate::entities::{delivery, now_ms, webhook};
use crate::error::AppError;
use crate::queue::{HeldChoice, Wakeup};
use crate::secrets::SecretBox;

/// How many webhooks one account may have.
pub const MAX_WEBHOOKS_PER_ACCOUNT: u64 = 100;
/// After a rotation, the previous secret keeps signing this long.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

/// The stored form of a draft's custom headers (`webhook::Model::headers`): new values sealed,
/// kept ones copied as stored; `None` for no headers.
fn sealed_headers(
    secrets: &SecretBox,
    draft: &WebhookDraft,
    stored: Option<&str>,
) -> Result<Option<String>, AppError> {
    let stored = webhook::stored_headers(stored);
    let sealed =
        crate::domain::custom_headers::resolve(&draft.headers, &stored, |v| secrets.seal(v))
            .map_err(|e| AppError::field("headers", e))?;
    Ok((!sealed.is_empty()).then(|| serde_json::to_string(&sealed).unwrap_or_default()))
}

pub async fn create(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    account_id: AccountId,
    draft: &WebhookDraft,
) -> Result<webhook::Model, AppError> {
    let count = webhook::Entity::secure_find(account_id).count(db).await?;
    if count >= MAX_WEBHOOKS_PER_ACCOUNT {
        return Err(AppError::Conflict(format!(
            "An account can have at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks. Delete one you no longer use."
        )));
    }
    let now = now_ms();
    let headers = sealed_headers(secrets, draft, None)?;
    let model = webhook::NewWebhook {
        account_id,
        name: draft.name.clone(),
        url: draft.url.as_str().to_string(),
        description: draft.description.clone(),
        events: draft.events.to_stored(),
        active: draft.active,
        timeout_secs: draft.timeout_secs.into(),
        retry_attempts: draft.retry_attempts.into(),
        sealed_secret: secrets.seal(SigningSecret::generate().expose()),
        ordered: draft.ordered,
        format: draft.format.as_str().to_string(),
        headers,
        filter: draft.filter.clone(),
        template: draft.template.clone(),
        content_type: Some(draft.body_type.as_str().to_string()),
        alerts: false,
    }
    .into_active(now)
    .insert(db)
    .await?;
    Ok(model)
}

/// Saves a webhook's settings; switching order per key applies to its pending deliveries too,
/// in the same transaction. Switching a paused webhook that holds deliveries back on needs the
/// owner's choice for them (`held`); without it nothing changes and the error names
/// `choice_field` (the API's `held`, the form's `active`).
pub async fn update(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    wakeup: &Wakeup,
    model: webhook::Model,
    draft: &WebhookDraft,
    held: Option<HeldChoice>,
    choice_field: &str,
) -> Result<webhook::Model, AppError> {
    let headers = sealed_headers(secrets, draft, model.headers.as_deref())?;
    let switching_on = draft.active && !model.active;
    let reorder = model.ordered != draft.ordered;
    let webhook_id = model.id;
    let txn = db.begin().await?;
    crate::queue::sql::write_lock_first(&txn).await?;
    let mut active: webhook::ActiveModel = model.into();
    active.ordered = Set(draft.ordered);
    active.format = Set(draft.format.as_str().to_string());
    active.headers = Set(headers);
    active.filter = Set(draft.filter.clone());
    active.template = Set(draft.template.clone());
    active.content_type = Set(Some(draft.body_type.as_str().to_string()));
    active.name = Set(draft.name.clone());
    active.url = Set(draft.url.as_str().to_string());
    active.description = Set(draft.description.clone());
    active.events = Set(draft.events.to_stored());
    active.active = Set(draft.active);
    active.timeout_secs = Set(draft.timeout_secs.into());
    active.retry_attempts = Set(draft.retry_attempts.into());
    active.updated_at = Set(now_ms());
    if draft.active {
        clear_health(&mut active);
    }
    let saved = active.update(&txn).await?;
    if draft.active {
        // Switched (back) on: its alert incidents end.
        crate::alerts::incidents::resolve(&txn, &[webhook_id], now_ms()).await?;
    }
    if reorder {
        crate::queue::set_ordered(&txn, webhook_id, draft.ordered).await?;
    }
    let sent = if switching_on {
        settle(&txn, saved.id, held, choice_field).await?
    } else {
        0
    };
    txn.commit().await?;
    if sent > 0 {
        crate::queue::wake(wakeup);
    }
    Ok(saved)
}

/// Applies the choice for the held deliveries of a webhook being switched on (inside its
/// transaction, after the switch: a publish waits for it, so nothing is left held). Returns
/// how many were sent.
async fn settle(
    txn: &DatabaseTransaction,
    webhook_id: WebhookId,
    held: Option<HeldChoice>,
    choice_field: &str,
) -> Result<u64, AppError> {
    let n = crate::queue::held_count(txn, webhook_id).await?;
    match held {
        _ if n == 0 => Ok(0),
        None => Err(AppError::field(
            choice_field,
            format!(
                "{n} held event{} wait for this webhook: choose whether to send them or discard them.",
                if n == 1 { "" } else { "s" }
            ),
        )),
        Some(choice) => {
            let now = crate::queue::clock::now(txn).await?;
            let done = crate::queue::settle_held(txn, webhook_id, choice, now).await?;
            Ok(if choice == HeldChoice::Send { done } else { 0 })
        }
    }
}

fn clear_health(active: &mut webhook::ActiveModel) {
    active.disabled_at = Set(None);
    active.disabled_reason = Set(None);
    active.failing_since = Set(None);
    active.consecutive_failures = Set(0);
}

/// Switches a webhook (back) on and forgets its failure streak; its held deliveries are sent
/// or discarded as `held` says (needed when there are any: the error names `held`).
pub async fn enable(
    db: &DatabaseConnection,
    wakeup: &Wakeup,
    model: webhook::Model,
    held: Option<HeldChoice>,
) -> Result<webhook::Model, AppError> {
    let txn = db.begin().await?;
    crate::queue::sql::write_lock_first(&txn).await?;
    let mut active: webhook::ActiveModel = model.into();
    active.active = Set(true);
    active.updated_at = Set(now_ms());
    clear_health(&mut active);
    let saved = active.update(&txn).await?;
    crate::alerts::incidents::resolve(&txn, &[saved.id], now_ms()).await?;
    let sent = settle(&txn, saved.id, held, "held").await?;
    txn.commit().await?;
    if sent > 0 {
        crate::queue::wake(wakeup);
    }
    Ok(saved)
}

/// Deletes a webhook with its deliveries and attempts: the deliveries first, then the webhook,
/// in one transaction — the order in which the recorder takes them (delivery rows, then its
/// webhook's counters). On PostgreSQL the delivery rows are locked in id order first, as the
/// recorder updates them, so a delete and a recording wait for each other instead of
/// deadlocking; a deadlock with any other writer is broken by the database and the delete
/// runs again ([`storage::retry_conflicts`](crate::storage::retry_conflicts)).
#[tracing::instrument(name = "delete_webhook", skip_all, fields(webhook_id = %model.id))]
pub async fn delete(db: &DatabaseConnection, model: webhook::Model) -> Result<(), AppError> {
    crate::storage::retry_conflicts("delete a webhook", || delete_once(db, model.id)).await?;
    Ok(())
}

async fn delete_once(db: &DatabaseConnection, webhook_id: WebhookId) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.query_all(crate::queue::sql::stmt(
            DbBackend::Postgres,
            "SELECT id FROM deliveries WHERE webhook_id = $1 ORDER BY id FOR UPDATE",
            vec![webhook_id.into()],
        ))
        .await?;
    }
    delivery::Entity::delete_many()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .exec(&txn)
        .await?;
    webhook::Entity::delete_by_id(webhook_id).exec(&txn).await?;
    txn.commit().await
}

/// A new secret; the old one keeps signing (as the previous secret) for 24 hours.
pub async fn rotate(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    model: webhook::Model,
) -> Result<webhook::Model, AppError> {
    let now = now_ms();
    let old = model.secret.clone();
    let mut active: webhook::ActiveModel = model.into();
    active.secret = Set(secrets.seal(SigningSecret::generate().expose()));
    active.previous_secret = Set(Some(old));
    active.previous_secret_expires_at = Set(Some(now + ROTATION_OVERLAP_MS));
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}
