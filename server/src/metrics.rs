//! Prometheus metrics at `/metrics` (the `prometheus` crate, its default registry): deliveries
//! and attempts by outcome, attempt durations, the queue's depth and oldest due age (read from
//! the database when scraped), events published, and the worker pool's use.

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge,
    Encoder, Histogram, IntCounter, IntCounterVec, IntGauge, TextEncoder,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::sync::OnceLock;

/// The labels of `skw_deliveries_total` (`status`).
pub const DELIVERY_STATUSES: [&str; 2] = ["succeeded", "failed"];
/// The label of `skw_attempts_total` for a successful attempt (the others are the error kinds,
/// [`AttemptErrorKind`](app::queue::AttemptErrorKind)s).
pub const ATTEMPT_SUCCESS: &str = "success";

pub struct Metrics {
    /// Finished deliveries: `succeeded` or `failed`.
    pub deliveries: IntCounterVec,
    /// Attempts by outcome: `success` or the error kind (`status`, `timeout`, `connect`, …).
    pub attempts: IntCounterVec,
    pub attempt_duration: Histogram,
    /// Events accepted by the ingest API.
    pub events_published: IntCounter,
    /// Deliveries started by hand-off in process (no claim).
    pub handed_off: IntCounter,
    /// Requests in flight now, and the pool's size.
    pub in_flight: IntGauge,
    pub workers: IntGauge,
    /// Unix seconds of the dispatcher's last completed claim pass.
    pub last_claim_pass: IntGauge,
    /// Claim passes made (each a read or a claim of the queue).
    pub claim_passes: IntCounter,
    /// 1 while storage is failing (writes refused, database unreachable).
    storage_unavailable: IntGauge,
    queue_depth: IntGauge,
    oldest_due_age: IntGauge,
}

/// The metrics, registered on first use with every known label value of the labelled
/// counters at 0, so that a dashboard reads 0 rather than "no data" before the first delivery.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = register();
        for status in DELIVERY_STATUSES {
            m.deliveries.with_label_values(&[status]);
        }
        use sea_orm::Iterable;
        let kinds = app::queue::AttemptErrorKind::iter().map(|k| k.as_str());
        for outcome in std::iter::once(ATTEMPT_SUCCESS).chain(kinds) {
            m.attempts.with_label_values(&[outcome]);
        }
        m
    })
}

fn register() -> Metrics {
    Metrics {
        deliveries: register_int_counter_vec!(
            "skw_deliveries_total",
            "Deliveries finished, by final status",
            &["status"]
        )
        .expect("metric registers"),
        attempts: register_int_counter_vec!(
            "skw_attempts_total",
            "Delivery attempts, by outcome (success or the error kind)",
            &["outcome"]
        )
        .expect("metric registers"),
        attempt_duration: register_histogram!(
            "skw_attempt_duration_seconds",
            "How long delivery attempts took",
            vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 300.0
            ]
        )
        .expect("metric registers"),
        events_published: register_int_counter!(
            "skw_events_published_total",
            "Events accepted by POST /api/v1/events"
        )
        .expect("metric registers"),
        handed_off: register_int_counter!(
            "skw_deliveries_handed_off_total",
            "Deliveries this process published and started itself, without a claim"
        )
        .expect("metric registers"),
        claim_passes: register_int_counter!(
            "skw_dispatcher_claim_passes_total",
            "Passes of the dispatcher's loop over the queue (each a read or a claim)"
        )
        .expect("metric registers"),
        in_flight: register_int_gauge!(
            "skw_dispatcher_in_flight",
            "Delivery requests in flight in this process"
        )
        .expect("metric registers"),
        workers: register_int_gauge!(
            "skw_dispatcher_workers",
            "Most delivery requests in flight at once (the pool)"
        )
        .expect("metric registers"),
        last_claim_pass: register_int_gauge!(
            "skw_dispatcher_last_claim_timestamp_seconds",
            "When the dispatcher last completed a claim pass (Unix seconds)"
        )
        .expect("metric registers"),
        storage_unavailable: register_int_gauge!(
            "skw_storage_unavailable",
            "1 while the database cannot be written or reached"
        )
        .expect("metric registers"),
        queue_depth: register_int_gauge!(
            "skw_queue_pending",
            "Pending deliveries (due or waiting for a retry)"
        )
        .expect("metric registers"),
        oldest_due_age: register_int_gauge!(
            "skw_queue_oldest_due_age_seconds",
            "How long the longest-waiting due delivery has been due"
        )
        .expect("metric registers"),
    }
}

/// The text exposition, after reading the queue's figures from the database.
pub async fn render(db: &DatabaseConnection, health: &app::storage::StorageHealth) -> String {
    let m = metrics();
    m.storage_unavailable
        .set(i64::from(health.failing().is_some()));
    let now = app::entities::now_ms();
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT COUNT(*)::bigint AS n, MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'",
        _ => "SELECT COUNT(*) AS n, MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'",
    };
    match db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
    {
        Ok(Some(row)) => {
            let n: i64 = row.try_get("", "n").unwrap_or(0);
            let due: Option<i64> = row.try_get("", "due").unwrap_or(None);
            m.queue_depth.set(n);
            m.oldest_due_age
                .set(due.map_or(0, |d| ((now - d) / 1000).max(0)));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the queue for /metrics"),
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&prometheus::gather(), &mut out)
        .expect("text encoding cannot fail");
    String::from_utf8(out).unwrap_or_default()
}
