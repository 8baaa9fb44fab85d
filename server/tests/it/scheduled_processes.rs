//! Scheduled and ordered deliveries across real server processes: a scheduled reminder
//! survives a SIGKILL between its publish and its time; order per key holds with two `serve`
//! processes sharing one PostgreSQL.

use crate::common::process::{account_with_key, serve};
use crate::common::receiver::Receiver;
use crate::common::Backend;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A server process, killed if the test ends early.
struct Instance(std::process::Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn call(http: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> Value {
    let res = http
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap();
    assert!(status == 201 || status == 202, "{path}: {status} {v}");
    v
}

async fn database(backend: Backend, dir: &tempfile::TempDir) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}/sched.db", dir.path().display())),
        Backend::Postgres => crate::common::fresh_postgres_database().await,
    }
}

async fn scheduled_reminder_survives_a_sigkill(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = database(backend, &dir).await else {
        return;
    };
    let rx = Receiver::start().await;
    let key = account_with_key(&db, "crash@example.com");
    let http = reqwest::Client::new();
    let (child, base) = serve(&db, "all");
    let mut first = Instance(child);
    call(
        &http,
        &base,
        &key,
        "/api/v1/webhooks",
        json!({"name": "r", "url": rx.url("ok"), "events": ["event.reminder"]}),
    )
    .await;
    let due = chrono::Utc::now().timestamp_millis() + 2_000;
    let at = chrono::DateTime::from_timestamp_millis(due)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    call(
        &http,
        &base,
        &key,
        "/api/v1/events",
        json!({"event": "event.reminder", "data": {"id": "booking-9"}, "deliver_at": at}),
    )
    .await;
    first.0.kill().unwrap(); // SIGKILL, before its time
    first.0.wait().unwrap();
    assert!(rx.all().is_empty());

    let (child, _) = serve(&db, "all");
    let _second = Instance(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while rx.all().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrived = chrono::Utc::now().timestamp_millis();
    assert_eq!(rx.all().len(), 1, "the reminder did not arrive");
    assert!(arrived >= due, "arrived {} ms early", due - arrived);
    // Once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(rx.all().len(), 1);
    assert_eq!(rx.all()[0].headers["x-webhook-key"], "booking-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_reminder_survives_a_sigkill_sqlite() {
    scheduled_reminder_survives_a_sigkill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_reminder_survives_a_sigkill_postgres() {
    scheduled_reminder_survives_a_sigkill(Backend::Postgres).await;
}

/// 12 keys × 5 events, delivered by two processes sharing the queue; every delivery's
/// first try fails (so each waits for a retry). For every key the receiver must see the
/// sequence numbers never go back, and the successful ones as 1, 2, 3, 4, 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_per_key_holds_across_two_processes_on_postgres() {
    let Some(db) = crate::common::fresh_postgres_database().await else {
        return;
    };
    let rx = Receiver::start().await;
    let key = account_with_key(&db, "cluster-order@example.com");
    let http = reqwest::Client::new();
    // Everything is published (through a web-only process) before the two dispatching
    // processes start, so that all five events of every key are due together.
    let (web, base_a) = serve(&db, "web");
    let web = Instance(web);
    let base_b = base_a.clone();
    let types = [
        "booking.created",
        "booking.confirmed",
        "event.rescheduled",
        "event.updated",
        "booking.cancelled",
    ];
    call(
        &http,
        &base_a,
        &key,
        "/api/v1/webhooks",
        json!({"name": "crm", "url": rx.url("flaky"), "events": types, "ordered": true,
            "retry_attempts": 5, "timeout_secs": 10}),
    )
    .await;
    const KEYS: usize = 12;
    for (n, t) in types.iter().enumerate() {
        for k in 0..KEYS {
            let base = if (n + k) % 2 == 0 { &base_a } else { &base_b };
            call(
                &http,
                base,
                &key,
                "/api/v1/events",
                json!({"event": t, "key": format!("booking-{k}"), "data": {"n": n},
                    "cancel_scheduled": false}),
            )
            .await;
        }
    }
    drop(web);
    let (a, _) = serve(&db, "all");
    let _a = Instance(a);
    let (b, _) = serve(&db, "all");
    let _b = Instance(b);
    let want = KEYS * types.len() * 2; // every delivery: a failure, then a success
    let deadline = Instant::now() + Duration::from_secs(90);
    while rx.all().len() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = rx.all();
    assert_eq!(got.len(), want, "not everything arrived");
    let mut per_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &got {
        per_key
            .entry(r.headers["x-webhook-key"].clone())
            .or_default()
            .push(r.headers["x-webhook-sequence"].parse().unwrap());
    }
    assert_eq!(per_key.len(), KEYS);
    for (k, seqs) in per_key {
        assert_eq!(
            seqs,
            [1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
            "{k} arrived out of order"
        );
    }
}
