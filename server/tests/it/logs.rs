//! No secret ever reaches a log line: a whole scenario runs against the real binary at debug
//! level, and its logs are searched for every secret it handled.

use crate::common::process::{cli_logging, serve_with, KEY};
use crate::common::receiver::Receiver;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/logs.db", dir.path().display());
    let log_path = dir.path().join("server.log");
    let rx = Receiver::start().await;
    let log = "debug,hyper=debug,reqwest=debug,tower_sessions=debug,sqlx=debug,sea_orm=debug";

    let password = "a long and secret password";
    crate::common::process::cli(&db, &["migrate"], "");
    let (_, mut cli_logs) = cli_logging(
        &db,
        &["account", "create", "--email", "logs@example.com"],
        &format!("{password}\n"),
        log,
    );
    let (key, more) = cli_logging(
        &db,
        &["api-key", "create", "--account", "logs@example.com"],
        "",
        log,
    );
    cli_logs.push_str(&more);
    let key = key.trim().to_string();

    let (mut server, base) = serve_with(
        &db,
        "all",
        &[("SKW_LOG", log)],
        Stdio::from(std::fs::File::create(&log_path).unwrap()),
    );
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let post = |path: &str, form: Vec<(&str, String)>| {
        let req = http.post(format!("{base}{path}")).form(&form);
        async move { req.send().await.unwrap() }
    };
    let login = post(
        "/fn/auth/login",
        vec![
            ("email", "logs@example.com".into()),
            ("password", password.into()),
        ],
    )
    .await;
    assert_eq!(login.status(), 200);
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("skw_session="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let created = post(
        "/fn/webhooks/create",
        vec![
            ("name", "Logged".into()),
            ("url", rx.url("ok")),
            ("events[]", "booking.created".into()),
            ("active", "true".into()),
        ],
    )
    .await;
    assert_eq!(created.status(), 200);
    let list: Value = post("/fn/webhooks/list", vec![])
        .await
        .json()
        .await
        .unwrap();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let first: String = post("/fn/webhooks/reveal-secret", vec![("id", id.clone())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        post("/fn/webhooks/rotate-secret", vec![("id", id.clone())])
            .await
            .status(),
        200
    );
    let second: String = post("/fn/webhooks/reveal-secret", vec![("id", id.clone())])
        .await
        .json()
        .await
        .unwrap();
    for i in 0..3 {
        let res = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&key)
            .json(&json!({"event": "booking.created", "data": {"i": i}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    // A wrong key and a wrong password are logged as failures, not with their values.
    let bad_key = "skw_0123456789abcdef0123456789abcdef0123456789abcdef";
    let res = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(bad_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let wrong = "wrong password that is secret";
    post(
        "/fn/auth/login",
        vec![
            ("email", "logs@example.com".into()),
            ("password", wrong.into()),
        ],
    )
    .await;
    let test: Value = post("/fn/webhooks/send-test", vec![("id", id.clone())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(test["succeeded"], true, "{test}");

    let deadline = Instant::now() + Duration::from_secs(20);
    while rx.count("ok") < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.count("ok"), 4);
    unsafe_sigterm(&server);
    server.wait().unwrap();

    let logs = std::fs::read_to_string(&log_path).unwrap() + &cli_logs;
    assert!(
        logs.lines().count() > 10,
        "debug logs were captured:\n{logs}"
    );
    for (what, secret) in [
        ("password", password),
        ("wrong password", wrong),
        ("API key", key.as_str()),
        ("API key without prefix", &key[4..]),
        ("invalid API key", bad_key),
        ("first signing secret", first.as_str()),
        ("first signing secret body", &first[6..]),
        ("rotated signing secret", second.as_str()),
        ("rotated signing secret body", &second[6..]),
        ("encryption key", KEY),
        ("session id", session.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
}

fn unsafe_sigterm(child: &std::process::Child) {
    std::process::Command::new("kill")
        .arg("-15")
        .arg(child.id().to_string())
        .status()
        .unwrap();
}
