//! Several instances on one PostgreSQL share the work: 3 processes, 10 000 events to 20 webhooks
//! (200 000 deliveries), one process killed with SIGKILL midway. Every delivery arrives;
//! duplicates come only from what the dead process had in flight: a process holds at most
//! `SKW_WORKERS` deliveries sent but not yet recorded, so that is the bound asserted.

use crate::common::process::{account_with_key, serve_with};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process, killed if the test ends early (a failed assertion leaves no orphan).
struct Instance(std::process::Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Seen {
    total: u64,
    by_delivery: HashMap<String, u32>,
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    _body: Bytes,
) -> StatusCode {
    let id = headers
        .get("x-webhook-delivery-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut s = seen.lock().unwrap();
    s.total += 1;
    *s.by_delivery.entry(id).or_default() += 1;
    StatusCode::OK
}

/// A receiver on loopback counting what arrives, and a migrated database with an account and
/// its API key: (what arrived, the receiver's URL, the key).
async fn receiver_and_key(db: &str) -> (Arc<Mutex<Seen>>, String, String) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let key = account_with_key(db, "cluster@example.com");
    (seen, hook_url, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_queue_and_survive_a_kill() {
    let Some(db) = crate::common::fresh_postgres_database().await else {
        return;
    };
    let events: usize = std::env::var("SKW_CLUSTER_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    const WEBHOOKS: usize = 20;
    const WORKERS: u64 = 64;

    let (seen, hook_url, key) = receiver_and_key(&db).await;
    let env = [
        ("SKW_WORKERS", "64"),
        ("SKW_LEASE_GRACE_MS", "5000"),
        ("SKW_POLL_INTERVAL_MS", "1000"),
        ("SKW_SHUTDOWN_GRACE_MS", "1000"),
    ];
    let mut instances: Vec<(Instance, String)> = (0..3)
        .map(|_| serve_with(&db, "all", &env, Stdio::inherit()))
        .map(|(child, base)| (Instance(child), base))
        .collect();
    let http = reqwest::Client::new();
    for _ in 0..WEBHOOKS {
        let res = http
            .post(format!("{}/api/v1/webhooks", instances[0].1))
            .bearer_auth(&key)
            .json(&json!({"name": "cluster", "url": hook_url, "events": ["booking.created"], "timeout_secs": 1, "retry_attempts": 10}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let expected = (events * WEBHOOKS) as u64;
    let bases: Vec<String> = instances.iter().map(|(_, b)| b.clone()).collect();

    // Publish through all three instances.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let publishers: Vec<_> = (0..12)
        .map(|p| {
            let (http, next, key, bases) = (http.clone(), next.clone(), key.clone(), bases.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= events {
                        break;
                    }
                    // After the kill, only the two live instances take events.
                    let base = &bases[if i > events / 3 { [0, 2][p % 2] } else { p % 3 }];
                    let res = http
                        .post(format!("{base}/api/v1/events"))
                        .bearer_auth(&key)
                        .json(&json!({"event": "booking.created", "data": {"i": i}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 202);
                }
            })
        })
        .collect();

    // Kill the middle instance once a third of the deliveries have arrived.
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen.lock().unwrap().by_delivery.len() < (expected / 3) as usize
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instances[1].0 .0.kill().unwrap();
    instances[1].0 .0.wait().unwrap();
    let at_kill = seen.lock().unwrap().by_delivery.len();
    for p in publishers {
        p.await.unwrap();
    }
    while (seen.lock().unwrap().by_delivery.len() as u64) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The survivors stop gracefully (SIGTERM).
    for i in [0, 2] {
        let child = &mut instances[i].0 .0;
        let _ = std::process::Command::new("kill")
            .arg("-15")
            .arg(child.id().to_string())
            .status();
        child.wait().unwrap();
    }

    let s = seen.lock().unwrap();
    let distinct = s.by_delivery.len() as u64;
    let duplicates = s.total - distinct;
    println!(
        "cluster: {expected} deliveries expected, {distinct} arrived, {duplicates} duplicates \
         (instance killed after {at_kill} had arrived)"
    );
    assert_eq!(distinct, expected, "every delivery arrived");
    assert!(
        duplicates <= WORKERS,
        "{duplicates} duplicates: more than the dead instance could have had in flight"
    );
}

/// A publish on a web-only instance reaches a worker-only instance through `LISTEN/NOTIFY`: the
/// worker polls once an hour here, so only the notification can wake it in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_instance_wakes_a_worker_on_another() {
    let Some(db) = crate::common::fresh_postgres_database().await else {
        return;
    };
    let (seen, hook_url, key) = receiver_and_key(&db).await;
    let hour = [("SKW_POLL_INTERVAL_MS", "3600000")];
    let (web, web_base) = serve_with(&db, "web", &hour, Stdio::inherit());
    let _web = Instance(web);
    let _worker = Instance(serve_with(&db, "worker", &hour, Stdio::inherit()).0);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{web_base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"name": "notify", "url": hook_url, "events": ["booking.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let webhook: serde_json::Value = res.json().await.unwrap();
    let deliveries = format!(
        "{web_base}/api/v1/webhooks/{}/deliveries?status=succeeded",
        webhook["id"]
    );

    for round in 1..=3u64 {
        // Let the worker settle into its (hour-long) idle wait: the previous delivery recorded,
        // then a moment for the dispatcher to find the queue empty.
        let settle = Instant::now() + Duration::from_secs(60);
        loop {
            let page: serde_json::Value = http
                .get(&deliveries)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if page["data"].as_array().unwrap().len() as u64 == round - 1 || Instant::now() > settle
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;

        let res = http
            .post(format!("{web_base}/api/v1/events"))
            .bearer_auth(&key)
            .json(&json!({"event": "booking.created", "data": {"round": round}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        // Far below the poll interval: a miss would wait for an hour.
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.lock().unwrap().total < round && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            seen.lock().unwrap().total,
            round,
            "the worker was not woken by the publish on the other instance"
        );
    }
}
