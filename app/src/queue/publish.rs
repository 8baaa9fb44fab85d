use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, SqlErr,
    TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::sql::pow2_chunks;
use super::{DeliveryStatus, Wakeup, WriteGate};
use crate::domain::{EventSet, EventType};
use crate::entities::{delivery, event, now_ms, webhook};

/// A repeated `Idempotency-Key` within this window returns the first answer.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// Most events written by one transaction of the [`Publisher`].
const MAX_BATCH: usize = 256;

/// Which webhooks an event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Every active webhook of the account subscribed to the event's type.
    Subscribed,
    /// One webhook of the account, whatever its subscriptions (Send test event).
    Only(i64),
}

#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub account_id: i64,
    pub event_type: EventType,
    /// The event's `data`: a JSON object.
    pub data: Value,
    pub idempotency_key: Option<String>,
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
    #[error("the event could not be stored; nothing was published")]
    Unavailable,
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
    gate: &WriteGate,
    wakeup: &Wakeup,
    req: PublishRequest,
) -> Result<Published, PublishError> {
    publish_batch(db, gate, wakeup, vec![req])
        .await
        .pop()
        .expect("one answer per request")
}

/// Publishes many events with one transaction (group commit): the same result per request as
/// [`publish`], for a fraction of the database round trips.
pub async fn publish_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    wakeup: &Wakeup,
    reqs: Vec<PublishRequest>,
) -> Vec<Result<Published, PublishError>> {
    let mut answers: Vec<Option<Result<Published, PublishError>>> =
        (0..reqs.len()).map(|_| None).collect();
    match write_batch(db, gate, &reqs, &mut answers).await {
        Ok(()) => {}
        // Another process won an idempotency race: redo one by one, each alone.
        Err(e) if reqs.len() > 1 && is_unique_violation(&e) => {
            for (i, req) in reqs.iter().enumerate() {
                let mut one = vec![None];
                let r = match write_batch(db, gate, std::slice::from_ref(req), &mut one).await {
                    Ok(()) => one
                        .pop()
                        .flatten()
                        .unwrap_or(Err(PublishError::Unavailable)),
                    Err(e) => Err(e.into()),
                };
                answers[i] = Some(r);
            }
        }
        Err(e) if is_unique_violation(&e) && reqs[0].idempotency_key.is_some() => {
            let req = &reqs[0];
            answers[0] = Some(
                match find_by_key(db, req.account_id, req.idempotency_key.as_deref().unwrap()).await
                {
                    Ok(Some(earlier)) => Ok(replay(&earlier)),
                    Ok(None) => Err(e.into()),
                    Err(e) => Err(e.into()),
                },
            );
        }
        Err(e) => {
            tracing::error!(error = %e, n = reqs.len(), "publishing failed");
            for a in answers.iter_mut().filter(|a| a.is_none()) {
                *a = Some(Err(PublishError::Unavailable));
            }
        }
    }
    if answers
        .iter()
        .any(|a| matches!(a, Some(Ok(p)) if !p.delivery_ids.is_empty()))
    {
        wakeup.notify();
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(PublishError::Unavailable)))
        .collect()
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Fills `answers` for every request; returns a database error only when nothing was written.
async fn write_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    reqs: &[PublishRequest],
    answers: &mut [Option<Result<Published, PublishError>>],
) -> Result<(), DbErr> {
    let now = now_ms();
    // Requests to write, and repeats of an idempotency key inside this batch (index of the first).
    let mut to_write: Vec<usize> = Vec::with_capacity(reqs.len());
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut seen_keys: HashMap<(i64, &str), usize> = HashMap::new();
    for (i, req) in reqs.iter().enumerate() {
        if !req.data.is_object() {
            answers[i] = Some(Err(PublishError::DataNotObject));
            continue;
        }
        if let Some(key) = req.idempotency_key.as_deref() {
            if !valid_key(key) {
                answers[i] = Some(Err(PublishError::BadIdempotencyKey));
                continue;
            }
            if let Some(&first) = seen_keys.get(&(req.account_id, key)) {
                repeats.push((i, first));
                continue;
            }
            if let Some(earlier) = find_by_key(db, req.account_id, key).await? {
                if earlier.created_at > now - IDEMPOTENCY_WINDOW_MS {
                    answers[i] = Some(Ok(replay(&earlier)));
                    continue;
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
            seen_keys.insert((req.account_id, key), i);
        }
        to_write.push(i);
    }

    // The targets: one query for all the accounts that publish to their subscribers.
    let accounts: Vec<i64> = {
        let mut a: Vec<i64> = to_write
            .iter()
            .filter(|&&i| reqs[i].targets == Targets::Subscribed)
            .map(|&i| reqs[i].account_id)
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    let mut active: HashMap<i64, Vec<(i64, EventSet)>> = HashMap::new();
    if !accounts.is_empty() {
        for w in webhook::Entity::find()
            .filter(webhook::Column::AccountId.is_in(accounts))
            .filter(webhook::Column::Active.eq(true))
            .all(db)
            .await?
        {
            active
                .entry(w.account_id)
                .or_default()
                .push((w.id, EventSet::from_stored(&w.events)));
        }
    }

    let timestamp = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut events = Vec::with_capacity(to_write.len());
    let mut deliveries = Vec::new();
    let mut written: Vec<(usize, Published)> = Vec::with_capacity(to_write.len());
    for &i in &to_write {
        let req = &reqs[i];
        let targets: Vec<i64> = match req.targets {
            Targets::Subscribed => active
                .get(&req.account_id)
                .map(|hooks| {
                    hooks
                        .iter()
                        .filter(|(_, set)| set.contains(req.event_type))
                        .map(|(id, _)| *id)
                        .collect()
                })
                .unwrap_or_default(),
            Targets::Only(id) => {
                let found = webhook::Entity::find_by_id(id)
                    .filter(webhook::Column::AccountId.eq(req.account_id))
                    .one(db)
                    .await?;
                match found {
                    Some(w) => vec![w.id],
                    None => {
                        answers[i] = Some(Err(PublishError::WebhookNotFound));
                        continue;
                    }
                }
            }
        };
        let event_id = Uuid::now_v7();
        let body = serde_json::to_string(&Body {
            event: req.event_type.as_str(),
            timestamp: timestamp.clone(),
            data: &req.data,
        })
        .expect("a JSON value always serializes");
        events.push(event::ActiveModel {
            id: Set(event_id),
            account_id: Set(req.account_id),
            event_type: Set(req.event_type.as_str().to_string()),
            body: Set(body),
            idempotency_key: Set(req.idempotency_key.clone()),
            delivery_count: Set(targets.len() as i32),
            created_at: Set(now),
        });
        let mut ids = Vec::with_capacity(targets.len());
        for webhook_id in targets {
            let id = Uuid::now_v7();
            ids.push(id);
            deliveries.push(delivery::ActiveModel {
                id: Set(id),
                event_id: Set(event_id),
                webhook_id: Set(webhook_id),
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
        }
        written.push((
            i,
            Published {
                event_id,
                deliveries: ids.len() as i32,
                delivery_ids: ids,
                replayed: false,
            },
        ));
    }

    if !events.is_empty() {
        let _turn = gate.enter().await;
        let txn = db.begin().await?;
        // Bounded statements of a few shapes (SQLite takes at most 32 766 bound values, and
        // reuses a prepared statement only for the same text).
        for chunk in pow2_chunks(&events, 256) {
            event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        for chunk in pow2_chunks(&deliveries, 128) {
            delivery::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        if !deliveries.is_empty() {
            super::notify::announce(&txn).await?;
        }
        txn.commit().await?;
    }
    for (i, p) in written {
        answers[i] = Some(Ok(p));
    }
    for (i, first) in repeats {
        answers[i] = Some(match &answers[first] {
            Some(Ok(p)) => Ok(Published {
                delivery_ids: Vec::new(),
                replayed: true,
                ..p.clone()
            }),
            _ => Err(PublishError::Unavailable),
        });
    }
    Ok(())
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

type Job = (
    PublishRequest,
    oneshot::Sender<Result<Published, PublishError>>,
);

/// Publishes through one writer task that commits whatever has queued up meanwhile in a single
/// transaction. Each caller still gets its answer only after its event is committed.
#[derive(Clone, Debug)]
pub struct Publisher {
    tx: mpsc::Sender<Job>,
}

impl Publisher {
    pub fn start(db: DatabaseConnection, gate: WriteGate, wakeup: Wakeup) -> Publisher {
        let (tx, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (reqs, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let answers = publish_batch(&db, &gate, &wakeup, reqs).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
        });
        Publisher { tx }
    }

    pub async fn publish(&self, req: PublishRequest) -> Result<Published, PublishError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((req, reply))
            .await
            .map_err(|_| PublishError::Unavailable)?;
        answer.await.map_err(|_| PublishError::Unavailable)?
    }
}
