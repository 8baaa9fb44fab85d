//! Database work behind the webhook server functions (server only).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use std::time::Duration;

use super::model::{TestOutcome, WebhookDetail, WebhookSummary};
use crate::domain::{
    AccountId, DeliveryId, EventSet, EventType, SigningSecret, WebhookDraft, WebhookId,
};
use crate::entities::{attempt, delivery, now_ms, webhook};
use crate::error::AppError;
use crate::queue::{self, PublishError, PublishRequest, Targets};
use crate::secrets::SecretBox;
use crate::state::AppState;

/// Validates a webhook's settings (the form's rules) and, if its host is a name, resolves it:
/// a name that resolves to a refused address is refused now, with the reason. A name that does
/// not resolve (yet) is accepted; every send checks again.
pub async fn vet(
    input: &crate::domain::WebhookInput,
    policy: crate::domain::TargetPolicy,
) -> Result<WebhookDraft, AppError> {
    let draft = WebhookDraft::parse(input, policy).map_err(AppError::Invalid)?;
    let host = url::Url::parse(draft.url.as_str())
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Domain(d)) => {
                Some((d.to_string(), u.port_or_known_default().unwrap_or(443)))
            }
            _ => None,
        });
    if let Some((host, port)) = host.filter(|_| policy.resolve_on_save) {
        let lookup = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await;
        if let Ok(Ok(addrs)) = lookup {
            let ips: Vec<_> = addrs.map(|a| a.ip()).collect();
            if let Err(reason) = crate::domain::check_resolved(&host, &ips, policy) {
                let mut errors = crate::domain::FieldErrors::new();
                errors.add(
                    "url",
                    format!("{reason}; webhooks go to public addresses only."),
                );
                return Err(AppError::Invalid(errors.with_echo(input.to_echo())));
            }
        }
    }
    Ok(draft)
}

/// How many webhooks one account may have.
pub const MAX_WEBHOOKS_PER_ACCOUNT: u64 = 100;
/// After a rotation, the previous secret keeps signing this long.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

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
    let secret = secret_of(secrets, &model)?;
    let now = now_ms();
    Ok(WebhookDetail {
        hourly,
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
    let mut out = Vec::with_capacity(hooks.len());
    for model in hooks {
        let (succeeded_24h, finished_24h) = totals.get(&model.id).copied().unwrap_or_default();
        out.push(WebhookSummary {
            events: events_of(&model),
            last_delivery: crate::deliveries::query::latest(db, model.id).await?,
            succeeded_24h,
            finished_24h,
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

/// The account's webhook with this id; any other id is `NotFound`.
pub use crate::entities::scope::owned_webhook as find_owned;

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
    let model = webhook::ActiveModel {
        id: Default::default(),
        account_id: Set(account_id),
        name: Set(draft.name.clone()),
        url: Set(draft.url.as_str().to_string()),
        description: Set(draft.description.clone()),
        events: Set(draft.events.to_stored()),
        active: Set(draft.active),
        timeout_secs: Set(draft.timeout_secs.into()),
        retry_attempts: Set(draft.retry_attempts.into()),
        secret: Set(secrets.seal(SigningSecret::generate().expose())),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        failing_since: Set(None),
        consecutive_failures: Set(0),
    }
    .insert(db)
    .await?;
    Ok(model)
}

pub async fn update(
    db: &DatabaseConnection,
    model: webhook::Model,
    draft: &WebhookDraft,
) -> Result<webhook::Model, AppError> {
    let mut active: webhook::ActiveModel = model.into();
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
    Ok(active.update(db).await?)
}

fn clear_health(active: &mut webhook::ActiveModel) {
    active.disabled_at = Set(None);
    active.disabled_reason = Set(None);
    active.failing_since = Set(None);
    active.consecutive_failures = Set(0);
}

/// Switches a webhook (back) on and forgets its failure streak.
pub async fn enable(
    db: &DatabaseConnection,
    model: webhook::Model,
) -> Result<webhook::Model, AppError> {
    let mut active: webhook::ActiveModel = model.into();
    active.active = Set(true);
    active.updated_at = Set(now_ms());
    clear_health(&mut active);
    Ok(active.update(db).await?)
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

/// Queues `webhook.test` for one webhook and waits for its first attempt.
pub async fn send_test(
    state: &AppState,
    account_id: AccountId,
    id: WebhookId,
) -> Result<TestOutcome, AppError> {
    let model = find_owned(&state.db, account_id, id).await?;
    let data = queue::sample_booking(now_ms());
    let published = state
        .publisher
        .publish(PublishRequest {
            account_id,
            event_type: EventType::WebhookTest,
            data,
            idempotency_key: None,
            targets: Targets::Only(model.id),
        })
        .await
        .map_err(|e| match e {
            PublishError::WebhookNotFound => AppError::NotFound,
            PublishError::StorageUnavailable => AppError::Unavailable,
            PublishError::Db(db) => db.into(),
            other => {
                tracing::error!(error = %other, "test event refused");
                AppError::Internal
            }
        })?;
    let delivery_id = *published.delivery_ids.first().ok_or(AppError::Internal)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(model.timeout_secs as u64 + 5);
    loop {
        let out = outcome(&state.db, model.id, delivery_id).await?;
        if out.finished || tokio::time::Instant::now() >= deadline {
            return Ok(out);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first attempt of one of this webhook's deliveries.
pub async fn outcome(
    db: &DatabaseConnection,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
) -> Result<TestOutcome, AppError> {
    let d = delivery::Entity::find_by_id(delivery_id)
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let first = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(attempt::Column::Number)
        .one(db)
        .await?;
    let retry_at = d.waiting_until();
    Ok(match first {
        None => TestOutcome {
            delivery_id: delivery_id.to_string(),
            finished: false,
            succeeded: false,
            status_code: None,
            duration_ms: None,
            error: None,
            retry_at: None,
        },
        Some(a) => TestOutcome {
            delivery_id: delivery_id.to_string(),
            finished: true,
            succeeded: a.error_kind.is_none(),
            status_code: a.response_status,
            duration_ms: Some(a.duration_ms),
            error: a.error_message,
            retry_at,
        },
    })
}
