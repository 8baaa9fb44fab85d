//! Egress: deliveries never go through a proxy from the environment. A proxy would get the
//! unresolved host name, so the SSRF guard would never see the address actually reached.

use crate::common::process::{account_with_key, serve_with};
use crate::common::receiver::Receiver;
use serde_json::json;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_are_ignored_by_deliveries() {
    // A "proxy" on loopback that only counts who connects to it.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    {
        let connections = connections.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = proxy.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/egress.db", dir.path().display());
    let key = account_with_key(&db_url, "egress@example.com");
    let (mut server, base) = serve_with(
        &db_url,
        "all",
        &[
            ("HTTP_PROXY", &proxy_url),
            ("HTTPS_PROXY", &proxy_url),
            ("ALL_PROXY", &proxy_url),
            ("http_proxy", &proxy_url),
        ],
        Stdio::null(),
    );
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"name": "direct", "url": rx.url("ok"), "events": ["booking.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&key)
        .json(&json!({"event": "booking.created", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let t = Instant::now();
    while rx.count("ok") == 0 && connections.load(Ordering::SeqCst) == 0 {
        assert!(t.elapsed() < Duration::from_secs(15), "nothing was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was used");
    assert_eq!(
        rx.count("ok"),
        1,
        "the delivery went straight to the receiver"
    );
}
