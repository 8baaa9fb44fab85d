use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, SqlErr,
    TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{DeliveryStatus, Wakeup};
use crate::domain::{EventSet, EventType};
use crate::entities::{delivery, event, now_ms, webhook};

/// A repeated `Idempotency-Key` within this window returns the first answer.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Which webhooks an event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Every active webhook of the account subscribed to the event's type.
    Subscribed,
    /// One webhook of the account, whatever its subscriptions (Send test event).
    Only(i64),
}

#[derive(Clone, Debug)]
pub struct PublishRequest<'a> {
    pub account_id: i64,
    pub event_type: EventType,
    /// The event's `data`: a JSON object.
    pub data: &'a Value,
    pub idempotency_key: Option<&'a str>,
    pub targets: Targets,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub event_id: Uuid,
    /// How many deliveries the event fanned out to.
    pub deliveries: i32,
    /// The new deliveries' ids (empty when `replayed`).
    pub delivery_ids: Vec<Uuid>,
    /// True when an earlier publish with the same idempotency key is being answered again.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("`data` must be a JSON object")]
    DataNotObject,
    #[error("the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters")]
    BadIdempotencyKey,
    #[error("webhook not found")]
    WebhookNotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[derive(Serialize)]
struct Body<'a> {
    event: &'a str,
    timestamp: String,
    data: &'a Value,
}

/// Records an event and its deliveries in one transaction, then wakes the dispatcher. Once this
/// returns `Ok`, the deliveries survive a crash of the process.
pub async fn publish(
    db: &DatabaseConnection,
    wakeup: &Wakeup,
    req: PublishRequest<'_>,
) -> Result<Published, PublishError> {
    if !req.data.is_object() {
        return Err(PublishError::DataNotObject);
    }
    if let Some(key) = req.idempotency_key {
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(PublishError::BadIdempotencyKey);
        }
    }
    let now = now_ms();

    if let Some(key) = req.idempotency_key {
        if let Some(earlier) = find_by_key(db, req.account_id, key).await? {
            if earlier.created_at > now - IDEMPOTENCY_WINDOW_MS {
                return Ok(replay(&earlier));
            }
            // Expired: the key is free again.
            event::Entity::update_many()
                .col_expr(
                    event::Column::IdempotencyKey,
                    sea_orm::sea_query::Expr::value(Option::<String>::None),
                )
                .filter(event::Column::Id.eq(earlier.id))
                .exec(db)
                .await?;
        }
    }

    let targets = target_webhooks(db, &req).await?;

    let event_id = Uuid::now_v7();
    let timestamp = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = serde_json::to_string(&Body {
        event: req.event_type.as_str(),
        timestamp,
        data: req.data,
    })
    .expect("a JSON value always serializes");

    let delivery_ids: Vec<Uuid> = targets.iter().map(|_| Uuid::now_v7()).collect();
    let txn = db.begin().await?;
    let inserted = event::Entity::insert(event::ActiveModel {
        id: Set(event_id),
        account_id: Set(req.account_id),
        event_type: Set(req.event_type.as_str().to_string()),
        body: Set(body),
        idempotency_key: Set(req.idempotency_key.map(str::to_string)),
        delivery_count: Set(targets.len() as i32),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await;
    if let Err(e) = inserted {
        txn.rollback().await?;
        // Two requests with one key raced: answer with the winner.
        if let (Some(SqlErr::UniqueConstraintViolation(_)), Some(key)) =
            (e.sql_err(), req.idempotency_key)
        {
            if let Some(earlier) = find_by_key(db, req.account_id, key).await? {
                return Ok(replay(&earlier));
            }
        }
        return Err(e.into());
    }
    if !targets.is_empty() {
        let rows = targets
            .iter()
            .zip(&delivery_ids)
            .map(|(w, id)| delivery::ActiveModel {
                id: Set(*id),
                event_id: Set(event_id),
                webhook_id: Set(w.id),
                account_id: Set(req.account_id),
                event_type: Set(req.event_type.as_str().to_string()),
                status: Set(DeliveryStatus::Pending.as_str().to_string()),
                attempt_count: Set(0),
                next_attempt_at: Set(Some(now)),
                lease_token: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                last_duration_ms: Set(None),
                created_at: Set(now),
                completed_at: Set(None),
                manual: Set(false),
            });
        delivery::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    if !targets.is_empty() {
        wakeup.notify();
    }
    Ok(Published {
        event_id,
        deliveries: targets.len() as i32,
        delivery_ids,
        replayed: false,
    })
}

fn replay(earlier: &event::Model) -> Published {
    Published {
        event_id: earlier.id,
        deliveries: earlier.delivery_count,
        delivery_ids: Vec::new(),
        replayed: true,
    }
}

async fn find_by_key(
    db: &impl ConnectionTrait,
    account_id: i64,
    key: &str,
) -> Result<Option<event::Model>, DbErr> {
    event::Entity::find()
        .filter(event::Column::AccountId.eq(account_id))
        .filter(event::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

async fn target_webhooks(
    db: &DatabaseConnection,
    req: &PublishRequest<'_>,
) -> Result<Vec<webhook::Model>, PublishError> {
    let scoped = webhook::Entity::find().filter(webhook::Column::AccountId.eq(req.account_id));
    match req.targets {
        Targets::Only(id) => scoped
            .filter(webhook::Column::Id.eq(id))
            .one(db)
            .await?
            .map(|w| vec![w])
            .ok_or(PublishError::WebhookNotFound),
        Targets::Subscribed => Ok(scoped
            .filter(webhook::Column::Active.eq(true))
            .all(db)
            .await?
            .into_iter()
            .filter(|w| EventSet::from_stored(&w.events).contains(req.event_type))
            .collect()),
    }
}
