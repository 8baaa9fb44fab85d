//! `make bench`: the dispatcher's throughput, latency and isolation, measured on the real
//! processes — the release server binary, a receiver process on loopback — through the same
//! HTTP API users call. Nothing here asserts a time; it prints a row per scenario and, last, one
//! JSON line with every figure.
//!
//! Environment: `DATABASE_URL=postgres://…` runs on PostgreSQL (a fresh database per scenario;
//! SQLite in a temporary directory otherwise), `SKW_BENCH_ONLY=a,b` picks scenarios (a–g, h: latency of one
//! webhook at 200 events/s, i: scheduled lateness, j: order per key, k: fan-out of 64 KiB events),
//! `SKW_BENCH_SCALE=0.1` shrinks every count (for a quick look), `SKW_BENCH_INSTANCES=2` runs
//! (b), (c) and (f) with that many server processes sharing the database (PostgreSQL).

mod procs;
mod receiver;

use procs::Proc;
use receiver::now_us;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TYPES: [&str; 12] = [
    "event.created",
    "event.updated",
    "event.cancelled",
    "event.rescheduled",
    "event.reminder",
    "event.follow_up",
    "booking.created",
    "booking.confirmed",
    "booking.cancelled",
    "payment.completed",
    "payment.failed",
    "payment.refunded",
];

fn main() {
    if std::env::var("SKW_BENCH_ROLE").is_ok_and(|r| r == "receiver") {
        receiver::run();
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

struct Bench {
    http: reqwest::Client,
    /// Server processes sharing the database in (b), (c) and (f) (PostgreSQL).
    instances: usize,
    scale: f64,
    pg_admin: Option<String>,
    /// The PostgreSQL databases made for the scenarios, dropped at the end.
    pg_databases: std::sync::Mutex<Vec<String>>,
    dir: tempfile::TempDir,
    figures: serde_json::Map<String, Value>,
}

impl Bench {
    fn n(&self, full: usize) -> usize {
        ((full as f64 * self.scale).round() as usize).max(1)
    }

    /// A fresh, empty database for one scenario.
    async fn database(&self, name: &str) -> String {
        match &self.pg_admin {
            None => format!("sqlite://{}/{name}.db", self.dir.path().display()),
            Some(admin) => {
                use sea_orm::ConnectionTrait;
                let db = sea_orm::Database::connect(admin.as_str())
                    .await
                    .expect("PostgreSQL reachable");
                let db_name = format!("skw_bench_{name}_{}", std::process::id());
                let _ = db
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                    .await;
                db.execute_unprepared(&format!("CREATE DATABASE {db_name}"))
                    .await
                    .unwrap();
                self.pg_databases.lock().unwrap().push(db_name.clone());
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&db_name);
                url.to_string()
            }
        }
    }

    /// Drops the scenarios' PostgreSQL databases (their servers have stopped).
    async fn drop_databases(&self) {
        use sea_orm::ConnectionTrait;
        let Some(admin) = &self.pg_admin else {
            return;
        };
        let names = std::mem::take(&mut *self.pg_databases.lock().unwrap());
        let db = sea_orm::Database::connect(admin.as_str())
            .await
            .expect("PostgreSQL reachable");
        for name in names {
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }

    fn record(&mut self, key: &str, value: f64) {
        let rounded = (value * 100.0).round() / 100.0;
        self.figures.insert(key.to_string(), json!(rounded));
    }

    async fn create_webhook(
        &self,
        server: &Proc,
        key: &str,
        url: &str,
        events: &[&str],
        timeout: u16,
    ) -> i64 {
        let res: Value = self
            .http
            .post(format!("{}/api/v1/webhooks", server.base))
            .bearer_auth(key)
            .json(&json!({"name": "bench", "url": url, "events": events, "timeout_secs": timeout, "retry_attempts": 3}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("webhook not created: {res}"))
    }

    async fn stats(&self, rx: &Proc) -> Value {
        self.http
            .get(format!("{}/stats", rx.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn reset(&self, rx: &Proc) {
        self.http
            .post(format!("{}/reset", rx.base))
            .send()
            .await
            .unwrap();
    }

    /// Waits until the receiver has counted `n` arrivals (or `limit` passes); returns its stats.
    async fn wait_for(&self, rx: &Proc, n: u64, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.stats(rx).await;
            if s["count"].as_u64().unwrap_or(0) >= n || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Publishes `n` events with `concurrency` requests in flight; returns (start µs, end µs).
async fn publish_burst(
    http: &reqwest::Client,
    bases: &[String],
    key: &str,
    n: usize,
    concurrency: usize,
    event: &str,
    pad: &str,
) -> (i64, i64) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = now_us();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let base = &bases[c % bases.len()];
        let (http, next, url, key, event) = (
            http.clone(),
            next.clone(),
            format!("{base}/api/v1/events"),
            key.to_string(),
            event.to_string(),
        );
        let pad = if pad.is_empty() {
            String::new()
        } else {
            format!(",\"pad\":\"{pad}\"")
        };
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = format!(
                    "{{\"event\":\"{event}\",\"data\":{{\"i\":{i},\"sent_at_us\":{}{pad}}}}}",
                    now_us()
                );
                let res = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 202 => {}
                    Ok(r) => panic!("publish answered {}", r.status()),
                    Err(e) => panic!("publish failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (start, now_us())
}

/// Publishes the given bodies with `concurrency` requests in flight, in order of the list.
async fn publish_bodies(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    bodies: Vec<String>,
    concurrency: usize,
) {
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, next, url, key, bodies) = (
            http.clone(),
            next.clone(),
            format!("{base}/api/v1/events"),
            key.to_string(),
            bodies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {}
                    Ok(r) => panic!("publish answered {}", r.status()),
                    Err(e) => panic!("publish failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Publishes at a steady `rate` per second for `secs`, cycling over `types`.
async fn publish_steady(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    rate: u32,
    secs: f64,
    types: &[&str],
) -> usize {
    let total = (rate as f64 * secs) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let (http, url, key, event) = (
            http.clone(),
            format!("{base}/api/v1/events"),
            key.to_string(),
            types[i % types.len()].to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let body = format!(
                "{{\"event\":\"{event}\",\"data\":{{\"i\":{i},\"sent_at_us\":{}}}}}",
                now_us()
            );
            let r = http
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            assert!(r.is_ok_and(|r| r.status() == 202), "publish failed");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    total
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

fn latencies(stats: &Value) -> Vec<u32> {
    let mut v: Vec<u32> = stats["latencies_us"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

fn row(id: &str, what: &str, figure: String, target: &str) {
    println!("{id:<4} {what:<46} {figure:<40} {target}");
}

async fn run() {
    let pg_admin = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let mut b = Bench {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        scale: std::env::var("SKW_BENCH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0),
        instances: std::env::var("SKW_BENCH_INSTANCES")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(1),
        pg_admin,
        pg_databases: Default::default(),
        dir: tempfile::tempdir().unwrap(),
        figures: serde_json::Map::new(),
    };
    let only: Vec<String> = std::env::var("SKW_BENCH_ONLY")
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_default();
    let want = |id: &str| only.is_empty() || only.iter().any(|o| o == id);
    let database = if b.pg_admin.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "SchedulingKit webhooks bench — {} — {cores} cores — {database} — scale {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        b.scale
    );
    println!("{:<4} {:<46} {:<40} target", "", "scenario", "result");
    b.figures
        .insert("date".into(), json!(chrono::Utc::now().to_rfc3339()));
    b.figures.insert("cores".into(), json!(cores));
    b.figures.insert("database".into(), json!(database));
    b.figures.insert("scale".into(), json!(b.scale));
    b.figures.insert("instances".into(), json!(b.instances));

    if want("a") {
        let rps = scenario_a(&b).await;
        b.record("a_limit_rps", rps);
        row(
            "(a)",
            "plain keep-alive POST loop to the receiver",
            format!("{rps:.0} requests/s"),
            "(the physical limit)",
        );
    }
    if want("b") {
        let (dps, accept, rss) = scenario_b(&b).await;
        b.record("b_deliveries_per_s", dps);
        b.record("b_publish_per_s", accept);
        b.record("b_peak_rss_mb", rss);
        let ratio = b
            .figures
            .get("a_limit_rps")
            .and_then(Value::as_f64)
            .map(|a| dps / a);
        if let Some(r) = ratio {
            b.record("b_ratio_to_limit", r);
        }
        row(
            "(b)",
            &format!("throughput: 1 webhook, {} events", b.n(50_000)),
            format!(
                "{dps:.0} deliveries/s{}, RSS {rss:.0} MB",
                ratio
                    .map(|r| format!(" ({:.1} % of a)", r * 100.0))
                    .unwrap_or_default()
            ),
            "≥ 9 000/s",
        );
    }
    // (c) and (k): one event to 100 webhooks, small events and events of 64 KiB.
    for (id, events, pad, what, target) in [
        (
            "c",
            1_000,
            0,
            "fan-out: 100 webhooks × {n} events",
            "≥ 18 000/s",
        ),
        (
            "k",
            200,
            64 * 1024,
            "fan-out of 64 KiB events: 100 webhooks × {n}",
            "RSS ≤ 100 MB",
        ),
    ] {
        if !want(id) {
            continue;
        }
        let (dps, rss) = scenario_c(&b, id, events, &"x".repeat(pad)).await;
        b.record(&format!("{id}_deliveries_per_s"), dps);
        b.record(&format!("{id}_peak_rss_mb"), rss);
        row(
            &format!("({id})"),
            &what.replace("{n}", &b.n(events).to_string()),
            format!("{dps:.0} deliveries/s, RSS {rss:.0} MB"),
            target,
        );
    }
    if want("d") {
        let d = scenario_d(&b, false).await;
        b.record("d_p50_ms", d.p50);
        b.record("d_p95_ms", d.p95);
        b.record("d_p99_ms", d.p99);
        b.record("d_deliveries_per_s", d.per_s);
        b.record("d_peak_rss_mb", d.rss);
        row(
            "(d)",
            "latency: 500 events/s, 10 webhooks",
            format!(
                "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
                d.p50, d.p95, d.p99
            ),
            "p99 ≤ 10 ms",
        );
    }
    if want("e") {
        let e = scenario_d(&b, true).await;
        b.record("e_healthy_p50_ms", e.p50);
        b.record("e_healthy_p99_ms", e.p99);
        b.record("e_healthy_deliveries_per_s", e.per_s);
        row(
            "(e)",
            "isolation: as (d), 1 of 10 webhooks hangs",
            format!("healthy p99 {:.1} ms, {:.0}/s", e.p99, e.per_s),
            "p99 ≤ 2 × (d)",
        );
    }
    if want("f") {
        let (drain, rss, accept) = scenario_f(&b).await;
        b.record("f_drain_per_s", drain);
        b.record("f_peak_rss_mb", rss);
        b.record("f_publish_per_s", accept);
        row(
            "(f)",
            &format!("backlog: {} queued, then drained", b.n(200_000)),
            format!("{drain:.0} deliveries/s, peak RSS {rss:.0} MB"),
            "RSS ≤ 100 MB, not slower",
        );
    }
    if want("g") {
        let (first, deep, rows) = scenario_g(&b).await;
        b.record("g_first_page_ms", first);
        b.record("g_deep_page_ms", deep);
        b.record("g_attempts", rows as f64);
        row(
            "(g)",
            &format!("delivery log, {rows} attempts"),
            format!("first page {first:.1} ms, deep page {deep:.1} ms"),
            "≤ 50 ms",
        );
    }
    if want("h") {
        let h = scenario_h(&b).await;
        b.record("h_p50_ms", h.p50);
        b.record("h_p95_ms", h.p95);
        b.record("h_p99_ms", h.p99);
        b.record("h_peak_rss_mb", h.rss);
        row(
            "(h)",
            "latency: 200 events/s, 1 webhook",
            format!(
                "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, RSS {:.0} MB",
                h.p50, h.p95, h.p99, h.rss
            ),
            "p99 ≤ 2.5 ms",
        );
    }
    if want("i") {
        let (n, p50, p99) = scenario_i(&b).await;
        b.record("i_late_p50_ms", p50);
        b.record("i_late_p99_ms", p99);
        row(
            "(i)",
            &format!("scheduled: {n} events due over one minute"),
            format!("late by p50 {p50:.1} ms, p99 {p99:.1} ms"),
            "(arrival − deliver_at)",
        );
    }
    if want("j") {
        let (keys, per_key, ordered, unordered) = scenario_j(&b).await;
        b.record("j_ordered_per_s", ordered);
        b.record("j_unordered_per_s", unordered);
        row(
            "(j)",
            &format!("order per key: {keys} keys × {per_key} events"),
            format!("ordered {ordered:.0}/s, unordered {unordered:.0}/s"),
            "(same load, option off)",
        );
    }
    b.drop_databases().await;
    println!("{}", Value::Object(b.figures.clone()));
}

/// (i): events scheduled evenly over one minute that starts once they are all published
/// (a web-only process accepts them; a dispatching one sends them). The receiver's latency is
/// arrival minus `deliver_at` (carried as `sent_at_us`).
async fn scenario_i(b: &Bench) -> (usize, f64, f64) {
    let db = b.database("i").await;
    let key = procs::account_and_key(&db);
    let rx = procs::receiver();
    let server = procs::server(&db, "all", &[]);
    b.create_webhook(
        &server,
        &key,
        &format!("{}/hook", rx.base),
        &["event.reminder"],
        30,
    )
    .await;
    let n = b.n(100_000);
    // Publishing runs at several thousand a second: the minute starts after that.
    let lead_us = ((n as f64 / 2_000.0).max(3.0) * 1e6) as i64;
    let start_us = now_us() + lead_us;
    let bodies: Vec<String> = (0..n)
        .map(|i| {
            let due_us = start_us + (60_000_000 * i as i64) / n as i64;
            let due_us = due_us - due_us % 1000;
            let at = chrono::DateTime::from_timestamp_micros(due_us)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            format!(
                "{{\"event\":\"event.reminder\",\"deliver_at\":\"{at}\",\"data\":{{\"id\":\"booking-{i}\",\"sent_at_us\":{due_us}}}}}"
            )
        })
        .collect();
    publish_bodies(&b.http, &server.base, &key, bodies, 64).await;
    let published = now_us();
    if published > start_us {
        println!("     (i) publishing took longer than the lead: the first events were due before they were stored");
    }
    let stats = b
        .wait_for(
            &rx,
            n as u64,
            Duration::from_micros((start_us - now_us()).max(0) as u64 + 120_000_000),
        )
        .await;
    let lat = latencies(&stats);
    server.stop();
    rx.stop();
    (n, percentile(&lat, 0.50), percentile(&lat, 0.99))
}

/// (j): `keys` × `per_key` events (key-interleaved, as bookings change) to one webhook with
/// order per key on, then the same load to one without; deliveries/s of each, from the burst's
/// start to the last arrival.
async fn scenario_j(b: &Bench) -> (usize, usize, f64, f64) {
    let keys = b.n(1_000);
    let per_key = 20;
    let mut out = Vec::new();
    for ordered in [true, false] {
        let db = b
            .database(if ordered { "j_ordered" } else { "j_unordered" })
            .await;
        let key = procs::account_and_key(&db);
        let rx = procs::receiver();
        let server = procs::server(&db, "all", &[]);
        let res: Value = b
            .http
            .post(format!("{}/api/v1/webhooks", server.base))
            .bearer_auth(&key)
            .json(&json!({"name": "crm", "url": format!("{}/hook", rx.base),
                "events": ["booking.created"], "ordered": ordered}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(res["id"].is_i64(), "webhook not created: {res}");
        let bodies: Vec<String> = (0..keys * per_key)
            .map(|i| {
                format!(
                    "{{\"event\":\"booking.created\",\"key\":\"booking-{}\",\"data\":{{\"i\":{i}}}}}",
                    i % keys
                )
            })
            .collect();
        let n = bodies.len();
        let start = now_us();
        publish_bodies(&b.http, &server.base, &key, bodies, 64).await;
        let stats = b.wait_for(&rx, n as u64, Duration::from_secs(600)).await;
        let got = stats["count"].as_u64().unwrap();
        let last = stats["last_us"].as_i64().unwrap();
        server.stop();
        rx.stop();
        out.push(got as f64 / ((last - start) as f64 / 1e6));
    }
    (keys, per_key, out[0], out[1])
}

async fn scenario_a(b: &Bench) -> f64 {
    let rx = procs::receiver();
    let secs = (5.0 * b.scale).clamp(1.0, 5.0);
    let url = format!("{}/plain", rx.base);
    let body = r#"{"event":"booking.created","timestamp":"2025-01-15T10:30:00Z","data":{"id":123,"event_type":"30-min-consultation","date":"2025-01-20","time":"14:00"}}"#;
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..32 {
        let (http, url) = (b.http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop {
                http.post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let rps = total as f64 / start.elapsed().as_secs_f64();
    rx.stop();
    rps
}

async fn scenario_b(b: &Bench) -> (f64, f64, f64) {
    let db = b.database("b").await;
    let key = procs::account_and_key(&db);
    let rx = procs::receiver();
    let servers = procs::servers(&db, "all", b.instances);
    b.create_webhook(
        &servers[0],
        &key,
        &format!("{}/hook", rx.base),
        &["booking.created"],
        30,
    )
    .await;
    let n = b.n(50_000);
    let (start, end) = publish_burst(
        &b.http,
        &bases(&servers),
        &key,
        n,
        64,
        "booking.created",
        "",
    )
    .await;
    let stats = b.wait_for(&rx, n as u64, Duration::from_secs(600)).await;
    let last = stats["last_us"].as_i64().unwrap();
    let got = stats["count"].as_u64().unwrap();
    let rss = servers.iter().map(Proc::peak_rss_mb).fold(0.0, f64::max);
    servers.into_iter().for_each(Proc::stop);
    rx.stop();
    (
        got as f64 / ((last - start) as f64 / 1e6),
        n as f64 / ((end - start) as f64 / 1e6),
        rss,
    )
}

fn bases(servers: &[Proc]) -> Vec<String> {
    servers.iter().map(|s| s.base.clone()).collect()
}

/// (c): 100 webhooks × 1 000 small events; (k): 100 webhooks × 200 events of 64 KiB (`pad`), a
/// fan-out whose bodies weigh (each event's body is held once however many webhooks get it).
async fn scenario_c(b: &Bench, name: &str, events: usize, pad: &str) -> (f64, f64) {
    let db = b.database(name).await;
    let key = procs::account_and_key(&db);
    let rx = procs::receiver();
    let servers = procs::servers(&db, "all", b.instances);
    for _ in 0..100 {
        b.create_webhook(
            &servers[0],
            &key,
            &format!("{}/hook", rx.base),
            &["booking.created"],
            30,
        )
        .await;
    }
    let n = b.n(events);
    let (start, _) = publish_burst(
        &b.http,
        &bases(&servers),
        &key,
        n,
        16,
        "booking.created",
        pad,
    )
    .await;
    let stats = b
        .wait_for(&rx, n as u64 * 100, Duration::from_secs(600))
        .await;
    let got = stats["count"].as_u64().unwrap();
    let last = stats["last_us"].as_i64().unwrap();
    let rss = servers.iter().map(Proc::peak_rss_mb).fold(0.0, f64::max);
    servers.into_iter().for_each(Proc::stop);
    rx.stop();
    (got as f64 / ((last - start) as f64 / 1e6), rss)
}

/// (d), or (e) when `hanging`: 10 webhooks, each subscribed to its own event type; 500 events/s
/// cycle over those types. In (e) the first webhook's endpoint never answers (timeout 30 s).
async fn scenario_d(b: &Bench, hanging: bool) -> Steady {
    steady(b, if hanging { "e" } else { "d" }, 10, 500, hanging).await
}

/// (h): one webhook, 200 events/s for 30 s — the load of the side-by-side comparison with the
/// open-source peer (its p99 was 3.5 ms there).
async fn scenario_h(b: &Bench) -> Steady {
    steady(b, "h", 1, 200, false).await
}

/// What a steady load measured: publish→arrival p50/p95/p99 (ms), deliveries/s, the server's
/// peak RSS (MB).
struct Steady {
    p50: f64,
    p95: f64,
    p99: f64,
    per_s: f64,
    rss: f64,
}

/// `hooks` webhooks, each subscribed to its own event type; `rate` events/s for 30 s (scaled,
/// at least 3 s) cycling over those types, after a one-second warm-up. With `hanging`, the
/// first webhook's endpoint never answers (timeout 30 s).
async fn steady(b: &Bench, name: &str, hooks: usize, rate: u32, hanging: bool) -> Steady {
    let db = b.database(name).await;
    let key = procs::account_and_key(&db);
    let rx = procs::receiver();
    let server = procs::server(&db, "all", &[]);
    let types: Vec<&str> = TYPES[..hooks].to_vec();
    for (i, t) in types.iter().enumerate() {
        let path = if hanging && i == 0 { "hang" } else { "hook" };
        b.create_webhook(&server, &key, &format!("{}/{path}", rx.base), &[t], 30)
            .await;
    }
    // Warm-up: connections, statement caches (never to the hanging endpoint).
    let warm = if hanging { &types[1..] } else { &types[..] };
    publish_steady(&b.http, &server.base, &key, rate, 1.0, warm).await;
    b.wait_for(&rx, u64::from(rate), Duration::from_secs(30))
        .await;
    b.reset(&rx).await;
    let secs = (30.0 * b.scale).clamp(3.0, 30.0);
    let started = Instant::now();
    let total = publish_steady(&b.http, &server.base, &key, rate, secs, &types).await;
    let healthy = if hanging {
        total - total.div_ceil(hooks)
    } else {
        total
    } as u64;
    let stats = b.wait_for(&rx, healthy, Duration::from_secs(120)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let lat = latencies(&stats);
    let rss = server.peak_rss_mb();
    server.stop();
    rx.stop();
    Steady {
        p50: percentile(&lat, 0.50),
        p95: percentile(&lat, 0.95),
        p99: percentile(&lat, 0.99),
        per_s: lat.len() as f64 / elapsed,
        rss,
    }
}

async fn scenario_f(b: &Bench) -> (f64, f64, f64) {
    let db = b.database("f").await;
    let key = procs::account_and_key(&db);
    let rx = procs::receiver();
    // Nothing can be delivered while the backlog builds: a web-only server accepts the events.
    let web = procs::server(&db, "web", &[]);
    b.create_webhook(
        &web,
        &key,
        &format!("{}/hook", rx.base),
        &["booking.created"],
        30,
    )
    .await;
    let n = b.n(200_000);
    let (s, e) = publish_burst(
        &b.http,
        std::slice::from_ref(&web.base),
        &key,
        n,
        64,
        "booking.created",
        "",
    )
    .await;
    web.stop();
    // Then servers with their dispatchers start and drain it.
    let start = now_us();
    let servers = procs::servers(&db, "all", b.instances);
    let stats = b.wait_for(&rx, n as u64, Duration::from_secs(1800)).await;
    let rss = servers.iter().map(Proc::peak_rss_mb).fold(0.0, f64::max);
    let got = stats["count"].as_u64().unwrap();
    let last = stats["last_us"].as_i64().unwrap();
    servers.into_iter().for_each(Proc::stop);
    rx.stop();
    (
        got as f64 / ((last - start) as f64 / 1e6),
        rss,
        n as f64 / ((e - s) as f64 / 1e6),
    )
}

/// A webhook with a million finished deliveries (one attempt each), written straight into the
/// database; then the log's first page and a page half-way down, timed from the client.
async fn scenario_g(b: &Bench) -> (f64, f64, usize) {
    use sea_orm::ConnectionTrait;
    let db_url = b.database("g").await;
    let key = procs::account_and_key(&db_url);
    let server = procs::server(&db_url, "web", &[]);
    let id = b
        .create_webhook(
            &server,
            &key,
            "https://hooks.example.com/in",
            &["booking.created"],
            30,
        )
        .await;
    let n = b.n(1_000_000);
    let db = server::db::connect(&db_url).await.unwrap();
    let backend = db.get_database_backend();
    let event = uuid::Uuid::now_v7();
    let body =
        r#"{"event":"booking.created","timestamp":"2025-01-15T10:30:00Z","data":{"id":123}}"#;
    db.execute(sea_orm::Statement::from_sql_and_values(
        backend,
        if backend == sea_orm::DbBackend::Postgres {
            "INSERT INTO events (id, account_id, event_type, body, delivery_count, created_at) VALUES ($1, 1, 'booking.created', $2, 1, 0)"
        } else {
            "INSERT INTO events (id, account_id, event_type, body, delivery_count, created_at) VALUES (?, 1, 'booking.created', ?, 1, 0)"
        },
        [event.into(), body.into()],
    ))
    .await
    .unwrap();
    let t0 = 1_700_000_000_000i64;
    let mut ids = Vec::with_capacity(n);
    let chunk = 500;
    let mut i = 0;
    while i < n {
        let m = chunk.min(n - i);
        let mut d_rows = Vec::with_capacity(m);
        let mut a_rows = Vec::with_capacity(m);
        for k in 0..m {
            let at = t0 + (i + k) as i64;
            let ts = uuid::Timestamp::from_unix(
                uuid::NoContext,
                (at / 1000) as u64,
                ((at % 1000) * 1_000_000) as u32,
            );
            let did = uuid::Uuid::new_v7(ts);
            ids.push(did);
            let status = if (i + k) % 10 == 0 {
                "failed"
            } else {
                "succeeded"
            };
            let code = if status == "failed" { 500 } else { 200 };
            let hex = did.simple().to_string();
            let lit = if backend == sea_orm::DbBackend::Postgres {
                format!("'{did}'::uuid")
            } else {
                format!("X'{hex}'")
            };
            d_rows.push(format!("({lit}, {ev}, {id}, 1, 'booking.created', '{status}', 1, NULL, NULL, {code}, NULL, 12, {at}, {at}, false)",
                ev = if backend == sea_orm::DbBackend::Postgres { format!("'{event}'::uuid") } else { format!("X'{}'", event.simple()) }));
            a_rows.push(format!(
                "({lit}, {id}, 1, 'auto', {at}, 12, '{{}}', {code}, '{{}}', 'ok', NULL, NULL)"
            ));
        }
        db.execute_unprepared(&format!(
            "BEGIN; INSERT INTO deliveries (id, event_id, webhook_id, account_id, event_type, status, attempt_count, next_attempt_at, lease_token, last_status_code, last_error, last_duration_ms, created_at, completed_at, manual) VALUES {}; \
             INSERT INTO attempts (delivery_id, webhook_id, number, trigger, started_at, duration_ms, request_headers, response_status, response_headers, response_body, error_kind, error_message) VALUES {}; COMMIT;",
            d_rows.join(","),
            a_rows.join(",")
        ))
        .await
        .unwrap();
        i += m;
    }
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE deliveries").await.unwrap();
    } else {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    let deep_cursor = ids[ids.len() / 2];
    let time = |path: String| {
        let (http, key) = (b.http.clone(), key.clone());
        async move {
            let mut samples = Vec::new();
            for _ in 0..21 {
                let t = Instant::now();
                let res = http.get(&path).bearer_auth(&key).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let v: Value = res.json().await.unwrap();
                assert_eq!(v["data"].as_array().map(Vec::len), Some(50));
                samples.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
            samples[samples.len() / 2]
        }
    };
    let first = time(format!("{}/api/v1/webhooks/{id}/deliveries", server.base)).await;
    let deep = time(format!(
        "{}/api/v1/webhooks/{id}/deliveries?cursor={deep_cursor}",
        server.base
    ))
    .await;
    server.stop();
    (first, deep, n)
}
