use super::Lease;
use crate::domain::{DeliveryId, EventId, WebhookId};
use crate::queue::sql::{placeholders, stmt};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, TryGetable, Value,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A delivery this worker now holds until `next_attempt_at` (its lease) passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub lease: Lease,
    pub webhook_id: WebhookId,
}

/// Everything needed to make one attempt of a claimed delivery.
#[derive(Clone, Debug)]
pub struct Job {
    pub delivery_id: DeliveryId,
    pub lease_token: i64,
    /// Attempts made before this one.
    pub attempt_count: i32,
    pub webhook_id: WebhookId,
    pub event_type: String,
    /// The event as stored: one allocation shared by the jobs of one event (a fan-out to 100
    /// webhooks holds its body once, not 100 times).
    pub body: Arc<str>,
    pub event_created_at: i64,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub timeout_secs: i32,
    pub retry_attempts: i32,
    /// A manual redelivery: recorded, never retried automatically.
    pub manual: bool,
    /// The entity the event is about (`X-Webhook-Key`) and the delivery's number among this
    /// webhook's deliveries with that key (`X-Webhook-Sequence`).
    pub key: Option<String>,
    pub sequence: Option<i64>,
    /// With `manual`: a bulk replay (trigger `replay`).
    pub replay: bool,
    /// The webhook's format (`domain::WebhookFormat`): the shape the body is sent in.
    pub format: String,
    /// The webhook's custom headers as stored (`[name, sealed value]` JSON), if any.
    pub headers: Option<String>,
    /// With format `template`: the template and its Content-Type (`domain::BodyType`).
    pub template: Option<String>,
    pub content_type: Option<String>,
}

impl Job {
    /// The lease this job's attempt is made under.
    pub fn lease(&self) -> Lease {
        Lease {
            delivery_id: self.delivery_id,
            token: self.lease_token,
        }
    }
}

/// How many more deliveries of each webhook this worker may start: webhooks with requests in
/// flight have less room than the others.
#[derive(Clone, Debug, Default)]
pub struct Room {
    /// Room of a webhook with nothing in flight here.
    pub per_webhook: u32,
    /// Webhooks with requests in flight and their remaining room (0 = at the cap).
    pub busy: Vec<(WebhookId, u32)>,
}

/// Claims up to `limit` due deliveries, oldest due first, at most `room` per webhook. The lease
/// lasts the webhook's timeout plus `lease_grace_ms`; if the worker dies, the delivery is due
/// again when the lease ends.
///
/// "Now" is `now_ms` on SQLite (one host, this process's clock) and the database's clock on
/// PostgreSQL (`now_ms` is not used there), so that a process whose clock runs ahead cannot
/// take over leases still running.
///
/// Only a bounded prefix of the due queue (`4 × limit` rows) is looked at, so a claim costs the
/// same however long the backlog is; webhooks at their cap are skipped inside the index.
///
/// On PostgreSQL the candidate rows are locked with `FOR UPDATE SKIP LOCKED`, so several
/// processes share the queue without waiting on each other or claiming a row twice. SQLite has
/// a single writer, which serializes claims by itself.
pub async fn claim_due(
    db: &DatabaseConnection,
    gate: &crate::queue::WriteGate,
    now_ms: i64,
    limit: u32,
    lease_grace_ms: i64,
    room: &Room,
) -> Result<Vec<Claimed>, DbErr> {
    claim_due_within(db, gate, now_ms, limit, lease_grace_ms, || room.clone()).await
}

/// As [`claim_due`], with the room read by `room` once this process's turn to write has come
/// (SQLite: inside the write gate, so no publish of this process changes it until the claim is
/// written).
#[tracing::instrument(name = "claim", skip_all, fields(limit))]
pub async fn claim_due_within(
    db: &DatabaseConnection,
    gate: &crate::queue::WriteGate,
    now_ms: i64,
    limit: u32,
    lease_grace_ms: i64,
    room: impl FnOnce() -> Room,
) -> Result<Vec<Claimed>, DbErr> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let _turn = gate.enter().await;
    let room = room();
    if room.per_webhook == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let token = random_token();
    // Integers only below: safe to inline.
    let full: Vec<String> = room
        .busy
        .iter()
        .filter(|(_, r)| *r == 0)
        .map(|(id, _)| id.to_string())
        .collect();
    let exclude_sql = if full.is_empty() {
        String::new()
    } else {
        format!(" AND c.webhook_id NOT IN ({})", full.join(","))
    };
    let partial: Vec<String> = room
        .busy
        .iter()
        .filter(|(_, r)| *r > 0)
        .map(|(id, r)| format!(" WHEN {id} THEN {r}"))
        .collect();
    let room_sql = if partial.is_empty() {
        room.per_webhook.to_string()
    } else {
        format!(
            "CASE webhook_id{} ELSE {} END",
            partial.concat(),
            room.per_webhook
        )
    };
    let pg = backend == DbBackend::Postgres;
    let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
    // Due times and leases follow the database's clock on PostgreSQL, where several processes
    // (each with a clock of its own) share the queue; SQLite is one host: this process's clock.
    let (now, grace, limit_p, scan_p) = if pg {
        (crate::queue::clock::PG_NOW_MS, "$2", "$3", "$4")
    } else {
        ("$2", "$3", "$4", "$5")
    };
    // Order per key: an earlier delivery of the same ordered webhook and key that is still
    // pending — in flight, waiting for a retry, or due — holds this one back. One scheduled
    // for later (never tried, not yet due) does not: it takes its place when its time comes.
    let blocker = format!(
        "SELECT 1 FROM deliveries p WHERE p.ordered AND p.status = 'pending' \
           AND p.webhook_id = c.webhook_id AND p.key = c.key AND p.sequence < c.sequence \
           AND (p.attempt_count > 0 OR p.lease_token IS NOT NULL OR p.next_attempt_at <= {now})"
    );
    let sql = format!(
        "UPDATE deliveries SET lease_token = $1, \
           next_attempt_at = {now} + {grace} + 1000 * COALESCE( \
             (SELECT w.timeout_secs FROM webhooks w WHERE w.id = deliveries.webhook_id), 300) \
         WHERE id IN ( \
           SELECT id FROM ( \
             SELECT id, webhook_id, next_attempt_at, \
               ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at) AS rn \
             FROM ( \
               SELECT c.id, c.webhook_id, c.next_attempt_at FROM deliveries c \
               WHERE c.status = 'pending' AND c.next_attempt_at <= {now}{exclude_sql} \
               AND (NOT c.ordered OR c.key IS NULL OR NOT EXISTS ({blocker})) \
               ORDER BY c.next_attempt_at LIMIT {scan_p}{lock} \
             ) candidates \
           ) ranked \
           WHERE rn <= {room_sql} \
           ORDER BY next_attempt_at LIMIT {limit_p}) \
         RETURNING id, webhook_id"
    );
    let mut values: Vec<Value> = vec![token.into()];
    if !pg {
        values.push(now_ms.into());
    }
    values.extend([
        lease_grace_ms.into(),
        i64::from(limit).into(),
        (i64::from(limit) * 4).into(),
    ]);
    let rows = db.query_all(stmt(backend, &sql, values)).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Claimed {
                lease: Lease {
                    delivery_id: r.try_get("", "id")?,
                    token,
                },
                webhook_id: r.try_get("", "webhook_id")?,
            })
        })
        .collect()
}

/// Loads what the claimed deliveries need (webhook URL and secrets in one query, each event's
/// body once in a second).
pub async fn load_jobs(db: &DatabaseConnection, claimed: &[Claimed]) -> Result<Vec<Job>, DbErr> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT d.id AS delivery_id, d.lease_token, d.attempt_count, d.webhook_id, \
           d.event_id, d.event_type, e.created_at AS event_created_at, w.url, w.secret, \
           w.previous_secret, w.previous_secret_expires_at, w.timeout_secs, w.retry_attempts, \
           d.manual, d.replay, d.key, d.sequence, w.format, w.headers, \
           CASE WHEN w.format = 'template' THEN w.template END AS template, \
           CASE WHEN w.format = 'template' THEN w.content_type END AS content_type \
         FROM deliveries d \
         JOIN events e ON e.id = d.event_id \
         JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.id IN ({})",
        placeholders(claimed.len())
    );
    let values: Vec<Value> = claimed.iter().map(|c| c.lease.delivery_id.into()).collect();
    let rows = JobRow::find_by_statement(stmt(backend, &sql, values))
        .all(db)
        .await?;
    let bodies = event_bodies(db, rows.iter().map(|r| r.event_id)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let body = bodies.get(&r.event_id)?.clone();
            Some(r.job(body))
        })
        // A row whose lease was taken over meanwhile is not ours any more.
        .filter(|j| claimed.iter().any(|c| c.lease == j.lease()))
        .collect())
}

/// The bodies of `events`, each read once and shared by the jobs of its event (a fan-out to
/// 100 webhooks holds and reads its body once, not 100 times).
async fn event_bodies(
    db: &DatabaseConnection,
    events: impl Iterator<Item = EventId>,
) -> Result<HashMap<EventId, Arc<str>>, DbErr> {
    let mut ids: Vec<EventId> = events.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut bodies = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(bodies);
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT id, body FROM events WHERE id IN ({})",
        placeholders(ids.len())
    );
    let values: Vec<Value> = ids.iter().map(|&id| id.into()).collect();
    for row in db.query_all(stmt(backend, &sql, values)).await? {
        let body: String = row.try_get("", "body")?;
        bodies.insert(row.try_get::<EventId>("", "id")?, Arc::from(body));
    }
    Ok(bodies)
}

/// A row of [`load_jobs`]'s query.
#[derive(FromQueryResult)]
struct JobRow {
    delivery_id: DeliveryId,
    lease_token: i64,
    attempt_count: i32,
    webhook_id: WebhookId,
    event_id: EventId,
    event_type: String,
    event_created_at: i64,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<i64>,
    timeout_secs: i32,
    retry_attempts: i32,
    manual: bool,
    key: Option<String>,
    sequence: Option<i64>,
    replay: bool,
    format: String,
    headers: Option<String>,
    template: Option<String>,
    content_type: Option<String>,
}

impl JobRow {
    fn job(self, body: Arc<str>) -> Job {
        Job {
            delivery_id: self.delivery_id,
            lease_token: self.lease_token,
            attempt_count: self.attempt_count,
            webhook_id: self.webhook_id,
            event_type: self.event_type,
            body,
            event_created_at: self.event_created_at,
            url: self.url,
            secret: self.secret,
            previous_secret: self.previous_secret,
            previous_secret_expires_at: self.previous_secret_expires_at,
            timeout_secs: self.timeout_secs,
            retry_attempts: self.retry_attempts,
            manual: self.manual,
            key: self.key,
            sequence: self.sequence,
            replay: self.replay,
            format: self.format,
            headers: self.headers,
            template: self.template,
            content_type: self.content_type,
        }
    }
}

/// When the earliest pending delivery is due (or its lease ends), if any is pending, and the
/// queue's clock now ([`crate::queue::clock::now`]): one read, no write.
pub async fn next_due(db: &DatabaseConnection) -> Result<(Option<i64>, i64), DbErr> {
    let due = next_due_at(db).await?;
    Ok((due, crate::queue::clock::now(db).await?))
}

/// When the earliest pending delivery is due (or its lease ends), if any is pending.
pub async fn next_due_at(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one(stmt(
            backend,
            "SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'",
            vec![],
        ))
        .await?;
    match row {
        Some(r) => Ok(<Option<i64> as TryGetable>::try_get(&r, "", "due")?),
        None => Ok(None),
    }
}

pub(super) fn random_token() -> i64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the operating system RNG is unavailable");
    i64::from_le_bytes(b)
}

/// Gives deliveries back to the queue at once (a stopping worker that will not finish them),
/// instead of letting their leases run out.
#[tracing::instrument(name = "release", skip_all, fields(n = held.len()))]
pub async fn release(db: &DatabaseConnection, held: &[Lease]) -> Result<u64, DbErr> {
    use crate::entities::delivery;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let now = crate::queue::clock::now(db).await?;
    let mut released = 0;
    for lease in held {
        released += delivery::Entity::update_many()
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                delivery::Column::LeaseToken,
                Expr::value(Option::<i64>::None),
            )
            .filter(delivery::Column::Id.eq(lease.delivery_id))
            .filter(delivery::Column::LeaseToken.eq(lease.token))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(released)
}
