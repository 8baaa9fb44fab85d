//! Process-level durability: events answered 202 are delivered even when the server is killed
//! with SIGKILL before sending them, once it is started again.

use crate::common::process::{account_with_key, serve};
use crate::common::receiver::Receiver;
use crate::common::Backend;
use std::time::{Duration, Instant};

async fn killed_with_pending_deliveries_then_restarted(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db_url = match backend {
        Backend::Sqlite => format!("sqlite://{}/crash.db", dir.path().display()),
        Backend::Postgres => match crate::common::fresh_postgres_database().await {
            Some(url) => url,
            None => return,
        },
    };
    let rx = Receiver::start().await;

    // Set-up through the CLI and the HTTP API, as a user would.
    let key = account_with_key(&db_url, "ops@example.com");

    // Web only: events are accepted and stored, but nothing is sent.
    let (mut web, base) = serve(&db_url, "web");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}/fn/auth/login"))
        .form(&[
            ("email", "ops@example.com"),
            ("password", "a long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(format!("{base}/fn/webhooks/create"))
        .form(&[
            ("name", "Durable"),
            ("url", &rx.url("ok")),
            ("events[]", "booking.created"),
            ("active", "true"),
            ("timeout_secs", "5"),
            ("retry_attempts", "3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    const N: usize = 50;
    for i in 0..N {
        let res = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"event": "booking.created", "data": {"n": i}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    web.kill().unwrap(); // SIGKILL
    web.wait().unwrap();
    assert!(rx.all().is_empty());

    // Started again (with its dispatcher), it delivers every accepted event.
    let (mut all, _) = serve(&db_url, "all");
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.all().len() < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    all.kill().unwrap();
    all.wait().unwrap();
    let got = rx.all();
    let mut ns: Vec<i64> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ns.sort();
    ns.dedup();
    assert_eq!(ns.len(), N, "every accepted event arrived ({backend:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    killed_with_pending_deliveries_then_restarted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    killed_with_pending_deliveries_then_restarted(Backend::Postgres).await;
}
