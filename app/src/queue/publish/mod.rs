//! Publishing: an event row and one delivery per target, in one transaction per batch (group
//! commit through the [`Publisher`]'s writer task). A batch goes validate → settle idempotency
//! keys → resolve targets → build rows → number them per webhook and key → insert → cancel
//! what its cancelling events cancel; each step is its own module.

mod cancels;
mod idempotency;
mod rows;
mod sequence;
mod targets;
mod validate;

use sea_orm::{DatabaseConnection, DbErr, SqlErr, TransactionTrait};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::lifecycle::handoff::Handoff;
use super::{Wakeup, WriteGate};
use crate::domain::{AccountId, DeliveryId, EventId, EventKey, EventType, WebhookId};

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
    Only(WebhookId),
}

#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub account_id: AccountId,
    pub event_type: EventType,
    /// The event's `data`: a JSON object.
    pub data: Value,
    pub idempotency_key: Option<String>,
    pub targets: Targets,
    /// When its deliveries are due (ms since the epoch, checked by
    /// [`crate::domain::parse_deliver_at`]); `None` or a time already past: at once.
    pub deliver_at: Option<i64>,
    /// The entity the event is about; `None`: `data.id` when it makes a key.
    pub key: Option<EventKey>,
    /// An `event.cancelled`, `booking.cancelled` or `event.rescheduled` cancels its key's
    /// scheduled reminders and follow-ups (see [`crate::queue::lifecycle::CANCELLED_BY`]).
    pub cancel_scheduled: bool,
}

impl PublishRequest {
    /// An event published now for the account's subscribed webhooks (or `targets`), with no
    /// schedule, the default key, and the default cancelling.
    pub fn now(
        account_id: AccountId,
        event_type: EventType,
        data: Value,
        targets: Targets,
    ) -> Self {
        PublishRequest {
            account_id,
            event_type,
            data,
            idempotency_key: None,
            targets,
            deliver_at: None,
            key: None,
            cancel_scheduled: true,
        }
    }

    /// The key its deliveries carry: the one given, or `data.id`.
    pub fn effective_key(&self) -> Option<EventKey> {
        self.key.clone().or_else(|| EventKey::from_data(&self.data))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub event_id: EventId,
    /// How many deliveries the event fanned out to.
    pub deliveries: i32,
    /// The new deliveries' ids (empty when `replayed`).
    pub delivery_ids: Vec<DeliveryId>,
    /// True when an earlier publish with the same idempotency key is being answered again.
    pub replayed: bool,
}

/// A request's answer, once known.
type Answer = Option<Result<Published, PublishError>>;

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

/// Records events and their deliveries, one transaction for the batch (group commit), then
/// wakes the dispatcher. Once a request's answer is `Ok`, its deliveries survive a crash of the
/// process. A storage fault is noted in `health`.
#[tracing::instrument(name = "publish", skip_all, fields(n = reqs.len()))]
pub async fn publish_batch(
    to: &Destination,
    reqs: Vec<PublishRequest>,
) -> Vec<Result<Published, PublishError>> {
    let Destination {
        db,
        gate,
        wakeup,
        health,
        handoff,
    } = to;
    let handoff = handoff.as_ref();
    let mut answers: Vec<Answer> = (0..reqs.len()).map(|_| None).collect();
    let mut result = write_batch(db, gate, handoff, &reqs, &mut answers).await;
    // A webhook deleted (or changed) by its owner while the batch was being written: the
    // batch is written again with the targets as they are now, so that one account's delete
    // never fails another account's events.
    for _ in 0..3 {
        match &result {
            Err(e) if is_write_race(e) => {
                tracing::debug!(error = %e, "publish raced a change of its targets; writing again");
                answers.iter_mut().for_each(|a| *a = None);
                result = write_batch(db, gate, handoff, &reqs, &mut answers).await;
            }
            _ => break,
        }
    }
    // Whether any delivery was written waiting (for a dispatcher to claim).
    let mut waiting = false;
    match result {
        Ok(w) => waiting = w > 0,
        // Another process won an idempotency race: redo one by one, each alone.
        Err(e) if reqs.len() > 1 && is_unique_violation(&e) => {
            for (i, req) in reqs.iter().enumerate() {
                let mut one = vec![None];
                let r = match write_batch(db, gate, handoff, std::slice::from_ref(req), &mut one)
                    .await
                {
                    Ok(w) => {
                        waiting |= w > 0;
                        one.pop()
                            .flatten()
                            .unwrap_or(Err(PublishError::Unavailable))
                    }
                    Err(e) => Err(e.into()),
                };
                answers[i] = Some(r);
            }
        }
        Err(e) if is_unique_violation(&e) && reqs[0].idempotency_key.is_some() => {
            let req = &reqs[0];
            let key = req.idempotency_key.as_deref().unwrap_or_default();
            answers[0] = Some(
                match idempotency::find_by_key(db, req.account_id, key).await {
                    Ok(Some(earlier)) => idempotency::replay_of(&earlier, req),
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
    // Deliveries handed off are started already: the dispatcher is woken only to claim.
    if waiting {
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

/// Fills `answers` for every request; returns how many deliveries were written waiting (to be
/// claimed), or a database error only when nothing was written.
///
/// validate (no database) → inside one transaction, behind the write gate: settle idempotency
/// keys (one query), resolve targets (one query), build the rows, lease what this process's
/// dispatcher can start at once (`handoff`), insert them → commit → start the handed-off jobs.
async fn write_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    handoff: Option<&Handoff>,
    reqs: &[PublishRequest],
    answers: &mut [Answer],
) -> Result<usize, DbErr> {
    let mut plan = validate::plan(reqs, answers);
    if plan.to_write.is_empty() {
        idempotency::fill_repeats(answers, &plan.repeats);
        return Ok(0);
    }
    // The database's clock on PostgreSQL (the idempotency window and due times are compared
    // across processes).
    let now = super::clock::now(db).await?;
    // Keys and targets are read inside the transaction that writes the deliveries (on SQLite,
    // which holds the write lock from the start, so nobody can change them meanwhile). On
    // PostgreSQL a webhook deleted between the read and the insert breaks the foreign key, and
    // the batch is written again (`is_write_race`) with the targets as they are then.
    let _turn = gate.enter().await;
    let txn = db.begin().await?;
    super::sql::write_lock_first(&txn).await?;
    idempotency::settle(&txn, reqs, &mut plan, answers, now).await?;
    let targets = targets::resolve(&txn, reqs, &plan.to_write).await?;
    let mut rows = rows::Rows::new(now);
    for (&i, targets) in plan.to_write.iter().zip(targets) {
        match targets {
            Some(targets) => rows.add(i, &reqs[i], &targets),
            None => answers[i] = Some(Err(PublishError::WebhookNotFound)),
        }
    }
    sequence::assign(&txn, &mut rows).await?;
    let handed = handoff.map(|h| (h, rows.hand_off(h)));
    rows.insert(&txn).await?;
    cancels::apply(&txn, reqs, &rows, now).await?;
    txn.commit().await?;
    // Committed: the leased rows' jobs go to the workers (a failure above dropped their slots).
    if let Some((h, handed)) = handed {
        h.start(rows.jobs(handed));
    }
    let waiting = rows.waiting;
    for (i, p) in rows.written {
        answers[i] = Some(Ok(p));
    }
    idempotency::fill_repeats(answers, &plan.repeats);
    Ok(waiting)
}

type Queued = (
    PublishRequest,
    oneshot::Sender<Result<Published, PublishError>>,
);

/// Where a publish is written: the database (behind this process's write gate), whom to tell,
/// and this process's dispatcher when it has one (deliveries it can start at once are handed
/// to it, see [`crate::queue::lifecycle::handoff`]).
#[derive(Clone, Debug)]
pub struct Destination {
    pub db: DatabaseConnection,
    pub gate: WriteGate,
    pub wakeup: Wakeup,
    pub health: crate::storage::StorageHealth,
    pub handoff: Option<Handoff>,
}

/// Publishes through one writer task that commits whatever has queued up meanwhile in a single
/// transaction. Each caller still gets its answer only after its event is committed.
#[derive(Clone, Debug)]
pub struct Publisher {
    tx: mpsc::Sender<Queued>,
    to: Destination,
}

impl Publisher {
    pub fn start(to: Destination) -> Publisher {
        let (tx, mut rx) = mpsc::channel::<Queued>(4 * MAX_BATCH);
        let writer = to.clone();
        tokio::spawn(async move {
            let mut batch: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (reqs, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let answers = publish_batch(&writer, reqs).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
            }
        });
        Publisher { tx, to }
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

    /// Publishes `reqs` in one transaction of their own, now (the operator's batch).
    pub async fn publish_together(
        &self,
        reqs: Vec<PublishRequest>,
    ) -> Vec<Result<Published, PublishError>> {
        publish_batch(&self.to, reqs).await
    }
}
