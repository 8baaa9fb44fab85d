//! The bench's receiver: a separate process answering on loopback as fast as it can, counting
//! arrivals and measuring publish→arrival latency from a `sent_at_us` carried in `data`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Stats {
    count: u64,
    first_us: i64,
    last_us: i64,
    latencies_us: Vec<u32>,
}

type Shared = Arc<Mutex<Stats>>;

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// `"sent_at_us":1234` without parsing the whole body.
fn sent_at(body: &[u8]) -> Option<i64> {
    let needle = b"\"sent_at_us\":";
    let pos = body.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let digits: Vec<u8> = body[pos..]
        .iter()
        .copied()
        .take_while(|b| b.is_ascii_digit())
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

async fn hook(State(s): State<Shared>, body: Bytes) -> StatusCode {
    let now = now_us();
    let mut st = s.lock().unwrap();
    if st.count == 0 {
        st.first_us = now;
    }
    st.count += 1;
    st.last_us = now;
    if let Some(sent) = sent_at(&body) {
        st.latencies_us
            .push((now - sent).clamp(0, u32::MAX as i64) as u32);
    }
    StatusCode::OK
}

async fn hang() -> StatusCode {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::OK
}

async fn plain() -> StatusCode {
    StatusCode::OK
}

async fn stats(State(s): State<Shared>) -> Json<serde_json::Value> {
    let st = s.lock().unwrap();
    Json(
        json!({ "count": st.count, "first_us": st.first_us, "last_us": st.last_us, "latencies_us": st.latencies_us }),
    )
}

async fn reset(State(s): State<Shared>) -> StatusCode {
    *s.lock().unwrap() = Stats::default();
    StatusCode::OK
}

/// Runs the receiver; prints `port <n>` on stdout once listening.
pub fn run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let port: u16 = std::env::var("SKW_BENCH_RECEIVER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        println!("port {}", listener.local_addr().unwrap().port());
        let app = Router::new()
            .route("/hook", post(hook))
            .route("/plain", post(plain))
            .route("/hang", post(hang))
            .route("/stats", get(stats))
            .route("/reset", post(reset))
            .with_state(Shared::default());
        axum::serve(listener, app).await.unwrap();
    });
}
