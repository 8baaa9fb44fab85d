use super::Lease;
use crate::domain::{DeliveryId, WebhookId};
use crate::entities::{attempt, delivery_stat, webhook};
use crate::queue::sql::{placeholders, pow2_chunks, stmt};
use crate::queue::{AttemptTrigger, DeliveryStatus, WriteGate};
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set, TransactionTrait, Value,
};
use std::collections::{BTreeMap, HashSet};

/// What becomes of a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    /// Pending again, due at this time (ms since the epoch).
    RetryAt(i64),
    /// No tries left.
    Failed,
}

/// One attempt, as it happened, and its consequence for the delivery.
#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    /// The claim this attempt was made under.
    pub lease: Lease,
    pub webhook_id: WebhookId,
    /// 1 for a delivery's first attempt.
    pub number: i32,
    /// `auto` (the schedule) or `manual` (a redelivery the owner asked for).
    pub trigger: AttemptTrigger,
    pub started_at: i64,
    pub duration_ms: i32,
    /// JSON object of the request headers sent.
    pub request_headers: String,
    /// The body sent, when it is not the event's stored body (a chat format).
    pub request_body: Option<String>,
    pub response_status: Option<i32>,
    pub response_headers: Option<String>,
    pub response_body: Option<String>,
    pub error_kind: Option<crate::queue::AttemptErrorKind>,
    pub error_message: Option<String>,
    pub next: Next,
}

/// When a webhook is switched off automatically: every delivery that finished during `after_ms`
/// failed, and there were at least `min_failures` of them. Its defaults are the settings'
/// (`server::config::defaults`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoDisable {
    pub after_ms: i64,
    pub min_failures: i32,
}

pub const HOUR_MS: i64 = 3_600_000;

/// What recording an attempt did to its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// This worker still held the delivery: the attempt is recorded and the delivery moved on.
    Held,
    /// Its lease ran out and another worker took the delivery over: the attempt is recorded
    /// (it happened), the delivery's state is left to the new holder.
    TakenOver,
    /// The delivery no longer exists (its webhook or event was deleted meanwhile): nothing is
    /// recorded.
    Gone,
}

/// Records a batch of attempts and moves their deliveries on, in one transaction; counts the
/// finished ones per webhook and hour, and applies the auto-disable rule (`None`: off).
///
/// Returns what became of each outcome, in order. An outcome whose delivery was deleted while
/// it was in flight is dropped ([`Recorded::Gone`]) rather than failing the batch: the rows it
/// would reference are gone, and one account's delete must not hold up everyone's records.
#[tracing::instrument(name = "record", skip_all, fields(n = outcomes.len()))]
pub async fn record_attempts(
    db: &DatabaseConnection,
    gate: &WriteGate,
    outcomes: &[AttemptOutcome],
    rule: Option<AutoDisable>,
) -> Result<Vec<Recorded>, DbErr> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let now = crate::entities::now_ms();
    let _turn = gate.enter().await;
    let txn = db.begin().await?;
    let held_ids = advance(&txn, outcomes, now).await?;
    let others: Vec<DeliveryId> = outcomes
        .iter()
        .map(|o| o.lease.delivery_id())
        .filter(|id| !held_ids.contains(id))
        .collect();
    let still_there = existing(&txn, &others).await?;
    let mut recorded = Vec::with_capacity(outcomes.len());
    // (webhook, hour) -> (succeeded, failed); webhook -> final outcomes in this batch, in order.
    let mut counts: BTreeMap<(WebhookId, i64), (i32, i32)> = BTreeMap::new();
    let mut finals: BTreeMap<WebhookId, Vec<bool>> = BTreeMap::new();
    // webhook -> its last failure's error in this batch, and whether any answer was 410 Gone.
    let mut signals: BTreeMap<WebhookId, Signals> = BTreeMap::new();
    let mut to_insert = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        let r = if held_ids.contains(&o.lease.delivery_id()) {
            Recorded::Held
        } else if still_there.contains(&o.lease.delivery_id()) {
            Recorded::TakenOver
        } else {
            Recorded::Gone
        };
        recorded.push(r);
        if r != Recorded::Gone {
            to_insert.push(o);
        }
        if r == Recorded::Held && o.next != Next::Succeeded {
            let sig = signals.entry(o.webhook_id).or_default();
            sig.last_error = o
                .error_message
                .clone()
                .or_else(|| o.response_status.map(|s| format!("HTTP {s}")));
            sig.gone |= o.response_status == Some(410);
        }
        let ok = match o.next {
            Next::Succeeded => true,
            Next::Failed => false,
            Next::RetryAt(_) => continue,
        };
        if r == Recorded::Held {
            let c = counts
                .entry((o.webhook_id, now - now % HOUR_MS))
                .or_default();
            if ok {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
            finals.entry(o.webhook_id).or_default().push(ok);
        }
    }
    for chunk in pow2_chunks(&to_insert, 128) {
        attempt::Entity::insert_many(chunk.iter().map(|o| attempt::ActiveModel {
            id: Default::default(),
            delivery_id: Set(o.lease.delivery_id()),
            webhook_id: Set(o.webhook_id),
            number: Set(o.number),
            trigger: Set(o.trigger),
            started_at: Set(o.started_at),
            duration_ms: Set(o.duration_ms),
            request_headers: Set(o.request_headers.clone()),
            request_body: Set(o.request_body.clone()),
            response_status: Set(o.response_status),
            response_headers: Set(o.response_headers.clone()),
            response_body: Set(o.response_body.clone()),
            error_kind: Set(o.error_kind),
            error_message: Set(o.error_message.clone()),
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    count_finished(&txn, &counts).await?;
    update_health(&txn, &finals, &signals, now, rule).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// Which of `ids` still exist; on PostgreSQL they are locked (`FOR KEY SHARE`) until the
/// transaction ends, so a concurrent delete waits instead of breaking the attempts' foreign
/// key. (SQLite: this transaction already holds the write lock.)
async fn existing(
    txn: &DatabaseTransaction,
    ids: &[DeliveryId],
) -> Result<HashSet<DeliveryId>, DbErr> {
    let mut found = HashSet::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(found);
    }
    let backend = txn.get_database_backend();
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    for chunk in pow2_chunks(&ids, 256) {
        let lock = if backend == DbBackend::Postgres {
            " FOR KEY SHARE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id FROM deliveries WHERE id IN ({}) ORDER BY id{lock}",
            placeholders(chunk.len())
        );
        let values: Vec<Value> = chunk.iter().map(|id| (*id).into()).collect();
        for row in txn.query_all(stmt(backend, &sql, values)).await? {
            found.insert(row.try_get::<DeliveryId>("", "id")?);
        }
    }
    Ok(found)
}

/// Moves every delivery of the batch on with one statement (`UPDATE … FROM (VALUES …)`), but
/// only where the claim token still matches; returns the deliveries that were updated. A
/// delivery cancelled while in flight stays cancelled (no retry) unless the attempt succeeded.
async fn advance(
    txn: &DatabaseTransaction,
    outcomes: &[AttemptOutcome],
    now: i64,
) -> Result<HashSet<DeliveryId>, DbErr> {
    let backend = txn.get_database_backend();
    let pg = backend == DbBackend::Postgres;
    let mut held = HashSet::with_capacity(outcomes.len());
    // Rows are taken in id order, as a webhook's delete locks them (PostgreSQL), so that the
    // two cannot deadlock.
    let mut sorted: Vec<&AttemptOutcome> = outcomes.iter().collect();
    sorted.sort_unstable_by_key(|o| o.lease.delivery_id());
    for chunk in pow2_chunks(&sorted, 256) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 8);
        let mut rows = Vec::with_capacity(chunk.len());
        for (r, o) in chunk.iter().enumerate() {
            let (status, next_at, completed_at) = match o.next {
                Next::Succeeded => (DeliveryStatus::Succeeded, None, Some(now)),
                Next::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
                Next::Failed => (DeliveryStatus::Failed, None, Some(now)),
            };
            // PostgreSQL: times relative to this process's `now`, made absolute on the
            // database's clock by the statement (several processes share the queue).
            let (next_at, completed_at) = if pg {
                (next_at.map(|t| t - now), completed_at.map(|t| t - now))
            } else {
                (next_at, completed_at)
            };
            let b = r * 8;
            rows.push(if pg {
                format!(
                    "(${}::uuid, ${}::bigint, ${}::text, ${}::bigint, ${}::int, ${}::text, ${}::int, ${}::bigint)",
                    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8
                )
            } else {
                // Anonymous, in order: numbered parameters cost SQLite a name look-up each.
                "(?, ?, ?, ?, ?, ?, ?, ?)".to_string()
            });
            values.extend([
                o.lease.delivery_id().into(),
                o.lease.token().into(),
                status.as_str().into(),
                next_at.into(),
                o.response_status.into(),
                o.error_message.clone().into(),
                o.duration_ms.into(),
                completed_at.into(),
            ]);
        }
        // SQLite names the columns of a VALUES list column1, column2, …
        let (alias, c) = if pg {
            (
                "v(id, token, status, next_at, code, err, dur, completed)",
                [
                    "id",
                    "token",
                    "status",
                    "next_at",
                    "code",
                    "err",
                    "dur",
                    "completed",
                ],
            )
        } else {
            (
                "v",
                [
                    "column1", "column2", "column3", "column4", "column5", "column6", "column7",
                    "column8",
                ],
            )
        };
        let clock = if pg {
            format!(" + {}", crate::queue::clock::PG_NOW_MS)
        } else {
            String::new()
        };
        let sql = format!(
            "UPDATE deliveries SET \
               status = CASE WHEN {kept} THEN 'cancelled' ELSE v.{status} END, \
               attempt_count = deliveries.attempt_count + 1, \
               next_attempt_at = CASE WHEN {kept} THEN NULL ELSE v.{next}{clock} END, \
               lease_token = NULL, last_status_code = v.{code}, \
               last_error = v.{err}, last_duration_ms = v.{dur}, \
               completed_at = CASE WHEN {kept} THEN deliveries.completed_at ELSE v.{done}{clock} END, \
               manual = false, replay = false \
             FROM (VALUES {rows}) AS {alias} \
             WHERE deliveries.id = v.{id} AND deliveries.lease_token = v.{token} \
             RETURNING deliveries.id",
            kept = format_args!("deliveries.status = 'cancelled' AND v.{} <> 'succeeded'", c[2]),
            status = c[2], next = c[3], code = c[4], err = c[5], dur = c[6], done = c[7], id = c[0], token = c[1],
            rows = rows.join(", "),
        );
        for row in txn
            .query_all(sea_orm::Statement::from_sql_and_values(
                backend, sql, values,
            ))
            .await?
        {
            held.insert(row.try_get::<DeliveryId>("", "id")?);
        }
    }
    Ok(held)
}

async fn count_finished(
    txn: &DatabaseTransaction,
    counts: &BTreeMap<(WebhookId, i64), (i32, i32)>,
) -> Result<(), DbErr> {
    if counts.is_empty() {
        return Ok(());
    }
    delivery_stat::Entity::insert_many(counts.iter().map(
        |(&(webhook_id, hour_start), &(succeeded, failed))| delivery_stat::ActiveModel {
            webhook_id: Set(webhook_id),
            hour_start: Set(hour_start),
            succeeded: Set(succeeded),
            failed: Set(failed),
        },
    ))
    .on_conflict(
        OnConflict::columns([
            delivery_stat::Column::WebhookId,
            delivery_stat::Column::HourStart,
        ])
        .value(
            delivery_stat::Column::Succeeded,
            Expr::col((delivery_stat::Entity, delivery_stat::Column::Succeeded))
                .add(Expr::cust("excluded.succeeded")),
        )
        .value(
            delivery_stat::Column::Failed,
            Expr::col((delivery_stat::Entity, delivery_stat::Column::Failed))
                .add(Expr::cust("excluded.failed")),
        )
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// What a batch's failed attempts of one webhook say, for its alerts.
#[derive(Default)]
struct Signals {
    /// The last failure's error (its message, or its status).
    last_error: Option<String>,
    /// The receiver answered 410 Gone: it asks for no more deliveries.
    gone: bool,
}

/// A success clears a webhook's failure streak (and ends its alert incidents); failures extend
/// it, a streak past half the rule opens a warning incident, and a streak longer than the rule
/// allows — or a 410 answer — switches the webhook off (it then gets no new deliveries) and
/// opens a `disabled` incident (`crate::alerts::incidents`).
async fn update_health(
    txn: &DatabaseTransaction,
    finals: &BTreeMap<WebhookId, Vec<bool>>,
    signals: &BTreeMap<WebhookId, Signals>,
    now: i64,
    rule: Option<AutoDisable>,
) -> Result<(), DbErr> {
    use crate::alerts::incidents;
    use crate::entities::alert_incident::IncidentKind;
    // Only the failures after a webhook's last success in this batch extend its streak.
    let mut cleared = Vec::new();
    let mut failing = Vec::new();
    for (&webhook_id, results) in finals {
        let trailing = results.iter().rev().take_while(|ok| !**ok).count() as i32;
        if trailing < results.len() as i32 {
            cleared.push(webhook_id);
        }
        if trailing > 0 {
            failing.push((webhook_id, trailing));
        }
    }
    if !cleared.is_empty() {
        let ended = webhook::Entity::update_many()
            .col_expr(
                webhook::Column::FailingSince,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(webhook::Column::ConsecutiveFailures, Expr::value(0))
            .filter(webhook::Column::Id.is_in(cleared.iter().copied()))
            .filter(
                webhook::Column::FailingSince
                    .is_not_null()
                    .or(webhook::Column::ConsecutiveFailures.ne(0)),
            )
            .exec(txn)
            .await?;
        // Only a webhook that had a streak can have an open incident.
        if ended.rows_affected > 0 {
            incidents::resolve(txn, &cleared, now).await?;
        }
    }
    for (&webhook_id, sig) in signals {
        if !sig.gone {
            continue;
        }
        let paused = webhook::Entity::update_many()
            .col_expr(webhook::Column::Active, Expr::value(false))
            .col_expr(webhook::Column::DisabledAt, Expr::value(now))
            .col_expr(
                webhook::Column::DisabledReason,
                Expr::value(GONE_REASON.to_string()),
            )
            .filter(webhook::Column::Id.eq(webhook_id))
            .filter(webhook::Column::Active.eq(true))
            .filter(webhook::Column::Alerts.eq(false))
            .exec(txn)
            .await?;
        if paused.rows_affected > 0 {
            incidents::open(
                txn,
                webhook_id,
                IncidentKind::Disabled,
                GONE_REASON,
                sig.last_error.as_deref(),
                now,
            )
            .await?;
        }
    }
    for (webhook_id, trailing_failures) in failing {
        let last_error = signals
            .get(&webhook_id)
            .and_then(|s| s.last_error.as_deref());
        webhook::Entity::update_many()
            .col_expr(
                webhook::Column::ConsecutiveFailures,
                Expr::col(webhook::Column::ConsecutiveFailures).add(trailing_failures),
            )
            .col_expr(
                webhook::Column::FailingSince,
                Func::coalesce([
                    Expr::col(webhook::Column::FailingSince).into(),
                    Expr::val(now).into(),
                ])
                .into(),
            )
            .filter(webhook::Column::Id.eq(webhook_id))
            .exec(txn)
            .await?;
        let Some(rule) = rule else { continue };
        // (SeaORM has no RETURNING for SQLite's updates: the streak is read back.)
        let Some(w) = webhook::Entity::find_by_id(webhook_id).one(txn).await? else {
            continue;
        };
        if !w.active || w.alerts {
            continue;
        }
        let failing_since = w.failing_since.unwrap_or(now);
        let days = rule.after_ms as f64 / 86_400_000.0;
        if failing_since <= now - rule.after_ms && w.consecutive_failures >= rule.min_failures {
            let reason = format!(
                "Every delivery failed for {days:.1} days (at least {} failures), so it was paused automatically.",
                rule.min_failures
            );
            webhook::Entity::update_many()
                .col_expr(webhook::Column::Active, Expr::value(false))
                .col_expr(webhook::Column::DisabledAt, Expr::value(now))
                .col_expr(webhook::Column::DisabledReason, Expr::value(reason.clone()))
                .filter(webhook::Column::Id.eq(webhook_id))
                .filter(webhook::Column::Active.eq(true))
                .exec(txn)
                .await?;
            incidents::open(
                txn,
                webhook_id,
                IncidentKind::Disabled,
                &reason,
                last_error,
                now,
            )
            .await?;
        } else if failing_since <= now - rule.after_ms / 2
            && w.consecutive_failures >= (rule.min_failures + 1) / 2
        {
            let reason = format!(
                "Every delivery has failed for {} ({} failures in a row): half-way to being paused automatically after {} and {} failures.",
                span_text(now - failing_since),
                w.consecutive_failures,
                span_text(rule.after_ms),
                rule.min_failures
            );
            incidents::open(
                txn,
                webhook_id,
                IncidentKind::Failing,
                &reason,
                last_error,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// Why a webhook whose receiver answered 410 was paused.
pub const GONE_REASON: &str =
    "The receiver answered 410 Gone (it asks for no more deliveries), so it was paused automatically.";

/// A duration for people: `45 s`, `12 min`, `3.5 h`, `2.0 days`.
fn span_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{:.1} h", s as f64 / 3600.0),
        _ => format!("{:.1} days", s as f64 / 86_400.0),
    }
}
