//! The account's notices and alert settings (server only). The alert webhook is a row of
//! `webhooks` with `alerts = true`: it is signed, sent, retried and guarded like any webhook,
//! but the account's webhook pages and API never see it (`secure_find` leaves it out); only
//! this module reads and writes it.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use super::{AlertNotice, AlertSettings};
use crate::domain::{AccountId, IncidentId, SigningSecret, WebhookUrl};
use crate::entities::alert_incident;
use crate::entities::{account, delivery, now_ms, user, webhook};
use crate::error::AppError;
use crate::secrets::SecretBox;

/// How long the alert webhook waits for an answer, and how often it is retried.
const ALERT_HOOK_TIMEOUT_SECS: i32 = 10;
const ALERT_HOOK_RETRIES: i32 = 5;

pub async fn open_notices(
    db: &DatabaseConnection,
    account_id: AccountId,
) -> Result<Vec<AlertNotice>, AppError> {
    let rows = alert_incident::Entity::find()
        .filter(alert_incident::Column::AccountId.eq(account_id))
        .filter(alert_incident::Column::ResolvedAt.is_null())
        .filter(alert_incident::Column::DismissedAt.is_null())
        .order_by_desc(alert_incident::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| AlertNotice {
            id: r.id,
            webhook_id: r.webhook_id,
            webhook_name: r.webhook_name,
            webhook_url: r.webhook_url,
            kind: r.kind.as_str().to_string(),
            reason: r.reason,
            last_error: r.last_error,
            last_success_at: r.last_success_at,
            opened_at: r.opened_at,
        })
        .collect())
}

/// Hides one of the account's notices (another account's id is not found).
pub async fn dismiss(
    db: &DatabaseConnection,
    account_id: AccountId,
    id: IncidentId,
) -> Result<(), AppError> {
    let done = alert_incident::Entity::update_many()
        .col_expr(
            alert_incident::Column::DismissedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(alert_incident::Column::AccountId.eq(account_id))
        .filter(alert_incident::Column::Id.eq(id))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The account's alert endpoint, if it has one.
pub async fn alert_webhook(
    db: &impl ConnectionTrait,
    account_id: AccountId,
) -> Result<Option<webhook::Model>, sea_orm::DbErr> {
    webhook::Entity::find()
        .filter(webhook::Column::AccountId.eq(account_id))
        .filter(webhook::Column::Alerts.eq(true))
        .one(db)
        .await
}

pub async fn settings(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    account_id: AccountId,
) -> Result<AlertSettings, AppError> {
    let acc = account::Entity::find_by_id(account_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let hook = alert_webhook(db, account_id).await?;
    let recipients = user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect();
    let hook_secret = match &hook {
        Some(h) => Some(secrets.open(&h.secret).map_err(|e| {
            tracing::error!(error = %e, "the alert webhook's secret does not open");
            AppError::Internal
        })?),
        None => None,
    };
    Ok(AlertSettings {
        mail: acc.alert_mail,
        hook: acc.alert_hook,
        hook_url: hook.map(|h| h.url),
        hook_secret,
        recipients,
    })
}

/// Saves the switches and the alert webhook (created with a new signing secret, its URL
/// changed, or deleted with its deliveries when `url` is `None`), in one transaction.
pub async fn save(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    account_id: AccountId,
    mail: bool,
    hook: bool,
    url: Option<WebhookUrl>,
) -> Result<(), AppError> {
    let now = now_ms();
    let txn = db.begin().await?;
    crate::queue::sql::write_lock_first(&txn).await?;
    account::Entity::update_many()
        .col_expr(
            account::Column::AlertMail,
            sea_orm::sea_query::Expr::value(mail),
        )
        .col_expr(
            account::Column::AlertHook,
            sea_orm::sea_query::Expr::value(hook),
        )
        .filter(account::Column::Id.eq(account_id))
        .exec(&txn)
        .await?;
    let existing = alert_webhook(&txn, account_id).await?;
    match (existing, url) {
        (None, None) => {}
        (Some(w), None) => {
            delivery::Entity::delete_many()
                .filter(delivery::Column::WebhookId.eq(w.id))
                .exec(&txn)
                .await?;
            webhook::Entity::delete_by_id(w.id).exec(&txn).await?;
        }
        (Some(w), Some(url)) => {
            if w.url != url.as_str() {
                let mut active: webhook::ActiveModel = w.into();
                active.url = Set(url.as_str().to_string());
                active.format = Set(alert_hook_format(&url).as_str().to_string());
                active.updated_at = Set(now);
                active.update(&txn).await?;
            }
        }
        (None, Some(url)) => {
            webhook::NewWebhook {
                account_id,
                name: "Alerts".to_string(),
                url: url.as_str().to_string(),
                description: "The account's alert webhook.".to_string(),
                // Subscribed to nothing: only the alert loop queues deliveries for it.
                events: String::new(),
                active: true,
                timeout_secs: ALERT_HOOK_TIMEOUT_SECS,
                retry_attempts: ALERT_HOOK_RETRIES,
                sealed_secret: secrets.seal(SigningSecret::generate().expose()),
                ordered: false,
                format: alert_hook_format(&url).as_str().to_string(),
                headers: None,
                filter: None,
                template: None,
                content_type: None,
                alerts: true,
            }
            .into_active(now)
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// The alert webhook's format follows its URL: a Slack, Discord or Teams address gets that
/// app's message, anything else the standard JSON.
fn alert_hook_format(url: &WebhookUrl) -> crate::domain::WebhookFormat {
    crate::domain::WebhookFormat::detect(url.as_str()).unwrap_or_default()
}
