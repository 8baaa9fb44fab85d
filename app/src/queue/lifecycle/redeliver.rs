use crate::domain::{DeliveryId, WebhookId};
use crate::entities::delivery;
use crate::queue::{DeliveryStatus, Wakeup};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

/// What a request to send a delivery again did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// A finished delivery gets one manual attempt now (recorded, not retried automatically).
    Redelivering,
    /// A pending delivery's next automatic try was moved to now.
    RetryingNow,
    /// It is being sent at this moment; nothing to do.
    InFlight,
    /// It is held for its paused webhook: re-enabling the webhook sends (or discards) it.
    Held,
}

/// Why an owner's extra try is made: one delivery (Redeliver) or a bulk replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reopen {
    Manual,
    Replay,
}

/// The one way a final delivery is opened again: pending, due now, for one try that is
/// recorded (trigger `manual` or `replay`) and never retried automatically. Only rows that
/// match `which` and are final (succeeded, failed, cancelled) change, so an in-flight or held one is
/// left alone. Returns how many were reopened.
async fn reopen(
    db: &impl ConnectionTrait,
    which: Condition,
    why: Reopen,
    now: i64,
) -> Result<u64, DbErr> {
    Ok(delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Pending),
        )
        .col_expr(delivery::Column::Manual, Expr::value(true))
        .col_expr(delivery::Column::Replay, Expr::value(why == Reopen::Replay))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            delivery::Column::CompletedAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(which)
        .filter(delivery::Column::Status.is_in([DeliveryStatus::Succeeded, DeliveryStatus::Failed]))
        .exec(db)
        .await?
        .rows_affected)
}

/// Tells this process's dispatcher, and the other instances, that deliveries are due.
async fn announce(db: &DatabaseConnection, wakeup: &Wakeup) {
    wakeup.notify();
    // Other instances learn of it too; if that fails, their next poll finds it.
    if let Err(e) = crate::queue::notify::announce(db).await {
        tracing::warn!(error = %e, "NOTIFY failed");
    }
}

/// Sends a delivery of this webhook again, now, through the queue. `None` when the webhook has
/// no such delivery.
#[tracing::instrument(name = "resend", skip_all, fields(webhook_id = %webhook_id, delivery_id = %delivery_id))]
pub async fn resend(
    db: &DatabaseConnection,
    wakeup: &Wakeup,
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
) -> Result<Option<Resend>, DbErr> {
    let Some(d) = delivery::Entity::find_by_id(delivery_id)
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = crate::queue::clock::now(db).await?;
    let outcome = match d.status {
        DeliveryStatus::Held => Resend::Held,
        DeliveryStatus::Pending => {
            let moved = delivery::Entity::update_many()
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
                .filter(delivery::Column::Id.eq(delivery_id))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
                .filter(delivery::Column::LeaseToken.is_null())
                .exec(db)
                .await?;
            if moved.rows_affected == 1 {
                Resend::RetryingNow
            } else {
                Resend::InFlight
            }
        }
        DeliveryStatus::Succeeded | DeliveryStatus::Failed | DeliveryStatus::Cancelled => {
            let which = Condition::all().add(delivery::Column::Id.eq(delivery_id));
            if reopen(db, which, Reopen::Manual, now).await? == 1 {
                Resend::Redelivering
            } else {
                Resend::InFlight
            }
        }
    };
    if matches!(outcome, Resend::Redelivering | Resend::RetryingNow) {
        announce(db, wakeup).await;
    }
    Ok(Some(outcome))
}

/// The most deliveries one bulk replay queues.
pub const REPLAY_CAP: u64 = 10_000;

/// Which of a webhook's deliveries a bulk replay takes: those of one final status (failed by
/// default), optionally of one event type, created within `[since, until]` (ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayFilter {
    /// `Succeeded` or `Failed`.
    pub status: DeliveryStatus,
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl ReplayFilter {
    /// The filter from its four inputs (absent or empty: no restriction; status defaults to
    /// `failed`); a mistake is a validation error naming its field.
    pub fn parse(
        status: Option<&str>,
        event: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<ReplayFilter, crate::error::AppError> {
        use crate::error::AppError;
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|s| !s.is_empty())
        }
        let status = match given(status) {
            None | Some("failed") => DeliveryStatus::Failed,
            Some("succeeded") => DeliveryStatus::Succeeded,
            Some(_) => {
                return Err(AppError::field(
                    "status",
                    "Must be `failed` or `succeeded` (pending ones are queued already; held ones are sent by re-enabling the webhook).",
                ))
            }
        };
        let event_type = given(event)
            .map(|s| {
                crate::domain::EventType::parse(s)
                    .map(|t| t.as_str().to_string())
                    .map_err(|_| AppError::field("event", "Not an event type."))
            })
            .transpose()?;
        let time = |field: &str, v: Option<&str>| {
            given(v)
                .map(|s| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| t.timestamp_millis())
                        .map_err(|_| {
                            AppError::field(
                                field,
                                "Must be an RFC 3339 time, e.g. 2025-01-15T10:30:00Z.",
                            )
                        })
                })
                .transpose()
        };
        let since = time("since", since)?;
        let until = time("until", until)?;
        if let (Some(a), Some(b)) = (since, until) {
            if b < a {
                return Err(AppError::field("until", "Must not be before “since”."));
            }
        }
        Ok(ReplayFilter {
            status,
            event_type,
            since,
            until,
        })
    }
}

/// What a bulk replay found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Deliveries matching the filter now.
    pub matched: u64,
    /// How many were queued again (0 for a dry run; at most [`REPLAY_CAP`], oldest first).
    pub queued: u64,
}

/// Replays a webhook's deliveries that match `filter` now: each keeps its id and gets one more
/// try through the queue (trigger `replay`), oldest first, at most [`REPLAY_CAP`]. The
/// dispatcher's claim is fair per webhook, so a big replay does not hold up other webhooks.
/// A delivery that no longer matches (it has since succeeded, or is in flight) is not touched.
#[tracing::instrument(name = "replay", skip_all, fields(webhook_id = %webhook_id, dry_run))]
pub async fn replay(
    db: &DatabaseConnection,
    wakeup: &Wakeup,
    webhook_id: WebhookId,
    filter: &ReplayFilter,
    dry_run: bool,
) -> Result<Replayed, DbErr> {
    let mut which = Condition::all()
        .add(delivery::Column::WebhookId.eq(webhook_id))
        .add(delivery::Column::Status.eq(filter.status));
    if let Some(t) = &filter.event_type {
        which = which.add(delivery::Column::EventType.eq(t.as_str()));
    }
    if let Some(t) = filter.since {
        which = which.add(delivery::Column::CreatedAt.gte(t));
    }
    if let Some(t) = filter.until {
        which = which.add(delivery::Column::CreatedAt.lte(t));
    }
    let matched = delivery::Entity::find()
        .filter(which.clone())
        .count(db)
        .await?;
    if dry_run || matched == 0 {
        return Ok(Replayed { matched, queued: 0 });
    }
    let first = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(which.clone())
        .order_by_asc(delivery::Column::Id)
        .limit(REPLAY_CAP)
        .into_query();
    let now = crate::queue::clock::now(db).await?;
    let queued = reopen(
        db,
        which.add(delivery::Column::Id.in_subquery(first)),
        Reopen::Replay,
        now,
    )
    .await?;
    if queued > 0 {
        announce(db, wakeup).await;
    }
    Ok(Replayed { matched, queued })
}
