//! Storage faults: a database that fills up (SQLite, `max_page_count`) or goes away
//! (PostgreSQL: connections refused and cut) never wedges delivery. Meanwhile publishes and
//! pages answer `503 storage_unavailable` with `Retry-After`, `/readyz` says so, and once
//! storage is back everything accepted is delivered.

use crate::common::receiver::Receiver;
use crate::common::{Backend, TestApp};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn dispatching_args() -> server::config::ServeArgs {
    let mut args = crate::common::test_args();
    args.role = server::config::Role::All;
    args.workers = 16.try_into().unwrap();
    args.poll_interval_ms = 50;
    args.shutdown_grace_ms = 1_000;
    // A claim whose answer was lost in a cut connection is taken up again after the
    // webhook's timeout (10 s) plus this.
    args.lease_grace_ms = 1_000;
    args
}

/// What a publish got: status, error code, `Retry-After`, how long it took.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    code: Option<String>,
    retry_after: Option<String>,
    took: Duration,
}

async fn publish(http: &reqwest::Client, base: &str, key: &str, i: usize) -> Answer {
    let t = Instant::now();
    let res = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(key)
        .json(&json!({"event": "booking.created", "data": {"i": i, "pad": "p".repeat(600)}}))
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        code: body["error"]["code"].as_str().map(str::to_string),
        retry_after,
        took: t.elapsed(),
    }
}

async fn ready(base: &str) -> (u16, Value) {
    let res = reqwest::get(format!("{base}/readyz")).await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The event ids a receiver got, with how often.
fn received_events(rx: &Receiver) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in rx.all() {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let i = body["data"]["i"].as_u64().unwrap();
        *seen.entry(i.to_string()).or_default() += 1;
    }
    seen
}

async fn setup(app: &TestApp, rx: &Receiver) -> (crate::common::Client, String) {
    let user = app.user("ops@example.com").await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 3, 10)
        .await;
    (user, app.api_key("ops@example.com").await)
}

/// Before: after one `SQLITE_FULL` a pooled connection kept SQLite's write lock ("database is
/// locked" for everybody), publishes answered 500 or hung, accepted events were not delivered,
/// and `/readyz` said 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_then_room_again() {
    let limit = server::db::PageLimit::default();
    let app = crate::common::spawn_app_on(
        Backend::Sqlite,
        dispatching_args(),
        server::db::DbOptions {
            page_limit: Some(limit.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rx = Receiver::start().await;
    let (user, key) = setup(&app, &rx).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut accepted: HashSet<String> = HashSet::new();
    let mut answers = Vec::new();
    let mut i = 0;
    for _ in 0..5 {
        let a = publish(&http, &app.base, &key, i).await;
        assert_eq!(a.status, 202, "{a:?}");
        accepted.insert(i.to_string());
        i += 1;
    }

    // The disk is full: no page may be added.
    limit.set(1);
    let mut refused = None;
    for _ in 0..3_000 {
        let a = publish(&http, &app.base, &key, i).await;
        if a.status == 202 {
            accepted.insert(i.to_string());
        }
        i += 1;
        answers.push(a.clone());
        if a.status == 503 {
            refused = Some(a);
            break;
        }
    }
    let refused = refused.expect("publishing fails once the database is full");
    assert_eq!(refused.code.as_deref(), Some("storage_unavailable"));
    assert_eq!(refused.retry_after.as_deref(), Some("5"));
    let (status, body) = ready(&app.base).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("storage"),
        "{body}"
    );
    // A page: the friendly 503, not a 500.
    let page = user
        .http
        .get(format!("{}/settings/webhooks", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "5");
    assert!(page.text().await.unwrap().contains("Briefly unavailable"));
    // Still full: every answer is quick and a 503 (or a 202 where a page had room).
    for _ in 0..200 {
        let a = publish(&http, &app.base, &key, i).await;
        if a.status == 202 {
            accepted.insert(i.to_string());
        }
        i += 1;
        answers.push(a);
    }

    // Room again: within seconds, without a restart, everything works.
    limit.lift();
    let t = Instant::now();
    while ready(&app.base).await.0 != 200 {
        assert!(t.elapsed() < Duration::from_secs(15), "/readyz stays 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..20 {
        let a = publish(&http, &app.base, &key, i).await;
        assert_eq!(a.status, 202, "{a:?}");
        accepted.insert(i.to_string());
        i += 1;
    }
    for a in &answers {
        assert!(
            a.status == 202 || (a.status == 503 && a.retry_after.is_some()),
            "{a:?}"
        );
        assert!(a.took < Duration::from_secs(12), "{a:?}");
    }
    let t = Instant::now();
    loop {
        let seen = received_events(&rx);
        if accepted.iter().all(|e| seen.contains_key(e)) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{} of {} accepted events delivered",
            accepted.iter().filter(|e| seen.contains_key(*e)).count(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready(&app.base).await.0, 200);
    app.running.stop(Duration::from_secs(1)).await;
}

/// PostgreSQL goes away: connections refused and every connection cut, twice. Nothing accepted
/// is lost or sent more than the at-least-once bound allows; meanwhile publishes answer 503
/// with `Retry-After`; a fresh event is delivered promptly once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_then_back() {
    let Some(app) = crate::common::spawn_app_with(Backend::Postgres, dispatching_args()).await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let (_user, key) = setup(&app, &rx).await;
    let name = url::Url::parse(&app.url).unwrap().path()[1..].to_string();
    let admin = Database::connect(crate::common::postgres_admin_url())
        .await
        .unwrap();
    let sql = |s: String| Statement::from_string(admin.get_database_backend(), s);

    let answers: Arc<Mutex<Vec<(usize, Answer)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = {
        let (answers, stop, base, key) =
            (answers.clone(), stop.clone(), app.base.clone(), key.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let a = publish(&http, &base, &key, i).await;
                answers.lock().unwrap().push((i, a));
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cut = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    );
    admin
        .execute(sql(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin.execute(sql(cut.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    admin.execute(sql(cut.clone())).await.unwrap();
    let (status, body) = ready(&app.base).await;
    assert_eq!(status, 503, "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    admin
        .execute(sql(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    // Back: the stream is accepted again.
    let back = Instant::now();
    loop {
        let n = answers.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let all = answers.lock().unwrap().clone();
        if all[n..].iter().any(|(_, a)| a.status == 202) {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "publishes still fail"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    stream.await.unwrap();
    // A fresh event, delivered promptly.
    let before = rx.all().len();
    let fresh = Instant::now();
    let a = publish(&reqwest::Client::new(), &app.base, &key, 1_000_000).await;
    assert_eq!(a.status, 202, "{a:?}");
    while !received_events(&rx).contains_key("1000000") {
        assert!(
            fresh.elapsed() < Duration::from_secs(5),
            "the fresh event is late"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "fresh event delivered {:?} after publishing ({} requests before it)",
        fresh.elapsed(),
        before
    );

    let all = answers.lock().unwrap().clone();
    let refused: Vec<&Answer> = all
        .iter()
        .map(|(_, a)| a)
        .filter(|a| a.status != 202)
        .collect();
    assert!(!refused.is_empty(), "the outage was seen by publishers");
    for a in &refused {
        assert_eq!(a.status, 503, "{a:?}");
        assert_eq!(a.code.as_deref(), Some("storage_unavailable"), "{a:?}");
        assert!(a.retry_after.is_some(), "{a:?}");
        assert!(a.took < Duration::from_secs(12), "{a:?}");
    }
    let accepted: Vec<String> = all
        .iter()
        .filter(|(_, a)| a.status == 202)
        .map(|(i, _)| i.to_string())
        .collect();
    let t = Instant::now();
    loop {
        let seen = received_events(&rx);
        if accepted.iter().all(|e| seen.contains_key(e)) {
            let twice = seen.values().filter(|n| **n > 1).count();
            eprintln!(
                "{} accepted, {} refused, {twice} delivered twice",
                accepted.len(),
                refused.len()
            );
            assert!(twice <= 16, "{twice} duplicates (at most the 16 workers')");
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let rows = app
                .db
                .query_all(Statement::from_string(
                    app.db.get_database_backend(),
                    "SELECT d.status, d.next_attempt_at, d.lease_token, d.attempt_count, e.body \
                     FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.status <> 'succeeded'"
                        .to_string(),
                ))
                .await
                .unwrap();
            let now = app::entities::now_ms();
            for r in rows {
                let status: String = r.try_get("", "status").unwrap();
                let next: Option<i64> = r.try_get("", "next_attempt_at").unwrap();
                let lease: Option<i64> = r.try_get("", "lease_token").unwrap();
                let n: i32 = r.try_get("", "attempt_count").unwrap();
                eprintln!(
                    "{status} due in {:?} ms, leased {}, {n} attempts",
                    next.map(|x| x - now),
                    lease.is_some()
                );
            }
            panic!("accepted events lost");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready(&app.base).await.0, 200);
    app.running.stop(Duration::from_secs(1)).await;
}

/// The cause of the wedge: when SQLite ends a transaction by itself (it does on `SQLITE_FULL`
/// and some I/O errors), sqlx's count of the connection's transactions stays at 1; its next
/// transaction is then a SAVEPOINT whose rollback leaves SQLite's write transaction open, and
/// the pooled connection holds the write lock for good ("database is locked" for everyone).
/// Such a connection must be closed, not reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_left_inside_a_transaction_is_not_reused() {
    use sea_orm::TransactionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/pool.db", dir.path().display());
    let db = server::db::connect_with(
        &url,
        server::db::DbOptions {
            pool_size: std::num::NonZeroU32::new(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // SQLite ends the transaction behind sqlx's back (as on SQLITE_FULL).
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("ROLLBACK").await.unwrap();
    drop(txn);
    // The next transaction writes, then one of its statements fails; it is rolled back.
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("INSERT INTO storage_probe (id, filler) VALUES (1, 'x')")
        .await
        .unwrap();
    assert!(txn
        .execute_unprepared("INSERT INTO storage_probe (id, filler) VALUES (1, 'x')")
        .await
        .is_err());
    drop(txn);
    // Another connection can write, and the rolled-back row is not there.
    let other = server::db::connect(&url).await.unwrap();
    other
        .execute_unprepared("INSERT INTO storage_probe (id, filler) VALUES (2, 'y')")
        .await
        .expect("the write lock is free");
    let rows = other
        .query_all(Statement::from_string(
            other.get_database_backend(),
            "SELECT id FROM storage_probe".to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // And the pool works on.
    db.execute_unprepared("INSERT INTO storage_probe (id, filler) VALUES (3, 'z')")
        .await
        .unwrap();
}
