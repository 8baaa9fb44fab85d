use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set, SqlErr, TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::sql::pow2_chunks;
use super::{DeliveryStatus, Wakeup, WriteGate};
use crate::domain::{EventSet, EventType};
use crate::entities::{delivery, event, webhook};

/// A repeated `Idempotency-Key` within this window returns the first answer.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The longest a publish waits for its answer before it is told that storage is unavailable.
pub const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
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
    #[error("this Idempotency-Key was already used, within 24 hours, for a different event")]
    IdempotencyKeyReused,
    #[error("storage is unavailable; nothing was published")]
    StorageUnavailable,
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

/// Records events and their deliveries, one transaction for the batch (group commit), then
/// wakes the dispatcher. Once a request's answer is `Ok`, its deliveries survive a crash of the
/// process. A storage fault is noted in `health`.
pub async fn publish_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    wakeup: &Wakeup,
    health: &crate::storage::StorageHealth,
    reqs: Vec<PublishRequest>,
) -> Vec<Result<Published, PublishError>> {
    let mut answers: Vec<Option<Result<Published, PublishError>>> =
        (0..reqs.len()).map(|_| None).collect();
    let mut result = write_batch(db, gate, &reqs, &mut answers).await;
    // A webhook deleted (or changed) by its owner while the batch was being written: the
    // batch is written again with the targets as they are now, so that one account's delete
    // never fails another account's events.
    for _ in 0..3 {
        match &result {
            Err(e) if is_write_race(e) => {
                tracing::debug!(error = %e, "publish raced a change of its targets; writing again");
                answers.iter_mut().for_each(|a| *a = None);
                result = write_batch(db, gate, &reqs, &mut answers).await;
            }
            _ => break,
        }
    }
    match result {
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
                    Ok(Some(earlier)) => replay_of(&earlier, req),
                    Ok(None) => Err(e.into()),
                    Err(e) => Err(e.into()),
                },
            );
        }
        Err(e) => {
            let storage = crate::storage::is_unavailable(&e);
            tracing::error!(error = %e, n = reqs.len(), storage, "publishing failed");
            health.observe_err(&e);
            for a in answers.iter_mut().filter(|a| a.is_none()) {
                *a = Some(Err(if storage {
                    PublishError::StorageUnavailable
                } else {
                    PublishError::Unavailable
                }));
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

/// A foreign key broken by a concurrent delete, or (SQLite) a write whose read snapshot went
/// stale before it could take the write lock (`SQLITE_BUSY_SNAPSHOT`).
fn is_write_race(e: &DbErr) -> bool {
    if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
        return true;
    }
    match e {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(d)))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(d))) => {
            d.code().as_deref() == Some("517")
        }
        _ => false,
    }
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
    // The database's clock on PostgreSQL (the idempotency window and due times are compared
    // across processes).
    let now = super::clock::now(db).await?;
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
                if reqs[first].event_type == req.event_type && reqs[first].data == req.data {
                    repeats.push((i, first));
                } else {
                    answers[i] = Some(Err(PublishError::IdempotencyKeyReused));
                }
                continue;
            }
            if let Some(earlier) = find_by_key(db, req.account_id, key).await? {
                if earlier.created_at > now - IDEMPOTENCY_WINDOW_MS {
                    answers[i] = Some(replay_of(&earlier, req));
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

    if to_write.is_empty() {
        fill_repeats(answers, &repeats);
        return Ok(());
    }
    // The targets are read inside the transaction that writes the deliveries (on SQLite, which
    // holds the write lock from the start, so nobody can delete one meanwhile). On PostgreSQL
    // a webhook deleted between the read and the insert breaks the foreign key, and the
    // batch is written again (`is_write_race`) with the targets as they are then.
    let _turn = gate.enter().await;
    let txn = db.begin().await?;
    super::sql::write_lock_first(&txn).await?;
    let targets = resolve_targets(&txn, reqs, &to_write).await?;

    let timestamp = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut events = Vec::with_capacity(to_write.len());
    let mut deliveries = Vec::new();
    let mut written: Vec<(usize, Published)> = Vec::with_capacity(to_write.len());
    for (&i, targets) in to_write.iter().zip(targets) {
        let req = &reqs[i];
        let Some(targets) = targets else {
            answers[i] = Some(Err(PublishError::WebhookNotFound));
            continue;
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
    }
    txn.commit().await?;
    for (i, p) in written {
        answers[i] = Some(Ok(p));
    }
    fill_repeats(answers, &repeats);
    Ok(())
}

/// Answers the repeats of an idempotency key inside one batch with their first's answer.
fn fill_repeats(
    answers: &mut [Option<Result<Published, PublishError>>],
    repeats: &[(usize, usize)],
) {
    for &(i, first) in repeats {
        answers[i] = Some(match &answers[first] {
            Some(Ok(p)) => Ok(Published {
                delivery_ids: Vec::new(),
                replayed: true,
                ..p.clone()
            }),
            Some(Err(PublishError::IdempotencyKeyReused)) => {
                Err(PublishError::IdempotencyKeyReused)
            }
            _ => Err(PublishError::Unavailable),
        });
    }
}

/// Per request to write (in `to_write`'s order): the webhooks it goes to, or `None` when it
/// names one webhook that this account does not have. One query for every account that
/// publishes to its subscribers.
async fn resolve_targets(
    txn: &DatabaseTransaction,
    reqs: &[PublishRequest],
    to_write: &[usize],
) -> Result<Vec<Option<Vec<i64>>>, DbErr> {
    let mut accounts: Vec<i64> = to_write
        .iter()
        .filter(|&&i| reqs[i].targets == Targets::Subscribed)
        .map(|&i| reqs[i].account_id)
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let mut active: HashMap<i64, Vec<(i64, EventSet)>> = HashMap::new();
    if !accounts.is_empty() {
        for w in webhook::Entity::find()
            .filter(webhook::Column::AccountId.is_in(accounts))
            .filter(webhook::Column::Active.eq(true))
            .all(txn)
            .await?
        {
            active
                .entry(w.account_id)
                .or_default()
                .push((w.id, EventSet::from_stored(&w.events)));
        }
    }
    let mut out = Vec::with_capacity(to_write.len());
    for &i in to_write {
        let req = &reqs[i];
        out.push(match req.targets {
            Targets::Subscribed => Some(
                active
                    .get(&req.account_id)
                    .map(|hooks| {
                        hooks
                            .iter()
                            .filter(|(_, set)| set.contains(req.event_type))
                            .map(|(id, _)| *id)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Targets::Only(id) => webhook::Entity::find_by_id(id)
                .filter(webhook::Column::AccountId.eq(req.account_id))
                .one(txn)
                .await?
                .map(|w| vec![w.id]),
        });
    }
    Ok(out)
}

/// The answer to a repeat of an earlier event's idempotency key: the first answer when the
/// request is the same (type and data), a refusal when the key is reused for another event.
fn replay_of(earlier: &event::Model, req: &PublishRequest) -> Result<Published, PublishError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        event: String,
        data: Value,
    }
    let same = serde_json::from_str::<Stored>(&earlier.body)
        .is_ok_and(|s| s.event == req.event_type.as_str() && s.data == req.data);
    if !same {
        return Err(PublishError::IdempotencyKeyReused);
    }
    Ok(Published {
        event_id: earlier.id,
        deliveries: earlier.delivery_count,
        delivery_ids: Vec::new(),
        replayed: true,
    })
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
    pub fn start(
        db: DatabaseConnection,
        gate: WriteGate,
        wakeup: Wakeup,
        health: crate::storage::StorageHealth,
    ) -> Publisher {
        let (tx, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (reqs, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let answers = publish_batch(&db, &gate, &wakeup, &health, reqs).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
        });
        Publisher { tx }
    }

    /// Publishes through the writer task; waits at most [`PUBLISH_WAIT`] for the answer (then
    /// `StorageUnavailable`: the event may or may not have been stored — an `Idempotency-Key`
    /// makes the retry safe).
    pub async fn publish(&self, req: PublishRequest) -> Result<Published, PublishError> {
        let (reply, answer) = oneshot::channel();
        let waited = tokio::time::timeout(PUBLISH_WAIT, async {
            self.tx
                .send((req, reply))
                .await
                .map_err(|_| PublishError::Unavailable)?;
            answer.await.map_err(|_| PublishError::Unavailable)?
        })
        .await;
        waited.unwrap_or(Err(PublishError::StorageUnavailable))
    }
}
