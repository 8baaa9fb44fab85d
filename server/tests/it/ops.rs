//! Operations: readiness, Prometheus metrics, the configuration file, retention.

use crate::common::process::BIN;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use serde_json::json;

async fn health_readiness_and_metrics(app: TestApp) {
    let rx = Receiver::start().await;
    assert_eq!(
        reqwest::get(format!("{}/healthz", app.base))
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );

    let user = app.user("ops@example.com").await;
    app.webhook(&user, &rx.url("status/500"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("ops@example.com").await;
    app.publish(&key, "booking.created", json!({})).await;
    // /metrics is not public on the main listener: it has one of its own (loopback).
    assert_eq!(
        reqwest::get(format!("{}/metrics", app.base))
            .await
            .unwrap()
            .status(),
        404
    );
    let metrics_url = format!("http://{}/metrics", app.running.metrics_addr.unwrap());
    let before = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(before.contains("skw_queue_pending"), "{before}");
    assert!(value(&before, "skw_queue_pending") >= 1.0);
    app.dispatcher.run_until_idle().await.unwrap();
    let after = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        value(&after, "skw_attempts_total{outcome=\"status\"}") >= 1.0,
        "{after}"
    );
    assert!(value(&after, "skw_deliveries_total{status=\"failed\"}") >= 1.0);
    assert!(value(&after, "skw_events_published_total") >= 1.0);
    assert!(after.contains("skw_attempt_duration_seconds_bucket"));
    assert_eq!(value(&after, "skw_queue_pending"), 0.0);
    app.stop().await;
}

/// The value of a metric line (0 when absent).
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn retention_prunes_old_finished_events(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("old@example.com").await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("old@example.com").await;
    for _ in 0..3 {
        app.publish(&key, "booking.created", json!({})).await;
    }
    app.dispatcher.run_until_idle().await.unwrap();
    // One more, still pending: kept whatever its age.
    let wh = app::entities::webhook::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    app::entities::webhook::Entity::update_many()
        .col_expr(
            app::entities::webhook::Column::Url,
            sea_orm::sea_query::Expr::value(rx.url("status/500")),
        )
        .filter(app::entities::webhook::Column::Id.eq(wh.id))
        .exec(&app.db)
        .await
        .unwrap();
    app.publish(&key, "booking.created", json!({})).await;
    // Everything is a day old.
    app::entities::event::Entity::update_many()
        .col_expr(
            app::entities::event::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(app::entities::now_ms() - 86_400_000),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let pruned = app::queue::retention::prune(&app.db, &app.running.gate, 3_600_000)
        .await
        .unwrap();
    assert_eq!(pruned, 3, "three finished events went");
    assert_eq!(
        app::entities::event::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app::entities::delivery::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        1,
        "deliveries went with them"
    );
    assert!(
        app::entities::attempt::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "and their attempts"
    );
    app.stop().await;
}

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

backend_tests!(
    health_readiness_and_metrics,
    retention_prunes_old_finished_events
);

#[test]
fn a_configuration_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let file = dir.path().join("skw.toml");
    std::fs::write(
        &file,
        format!(
            "database_url = \"sqlite://{}\"\nworkers = 8\n",
            db.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .env_remove("DATABASE_URL")
        .env("SKW_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists(), "the file's database_url was used");

    std::fs::write(&file, "wrokers = 8\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `wrokers`"));
}

/// A bad value of a setting, from the environment or the configuration file, stops the start
/// with a message naming the setting, instead of being clamped into range.
#[test]
fn bad_settings_stop_the_start_naming_them() {
    use crate::common::process::refused;
    for (env, value) in [
        ("SKW_WORKERS", "0"),
        ("SKW_PER_WEBHOOK_CONCURRENCY", "0"),
        ("SKW_POLL_INTERVAL_MS", "0"),
        ("SKW_LEASE_GRACE_MS", "0"),
        ("SKW_SHUTDOWN_GRACE_MS", "-1"),
        ("SKW_DB_POOL_SIZE", "0"),
        ("SKW_RETENTION_DAYS", "-1"),
        ("SKW_AUTO_DISABLE_MIN_FAILURES", "-1"),
        ("SKW_AUTO_DISABLE_AFTER", "soon"),
        ("SKW_PUBLIC_URL", "not a url"),
        ("SKW_LOG_FORMAT", "xml"),
    ] {
        let stderr = refused(&["serve"], &[(env, value)]);
        assert!(stderr.contains(env), "{env}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("`{value}`")),
            "{env}={value}: {stderr}"
        );
    }
    // Without a command (`serve` is the default) too.
    let stderr = refused(&[], &[("SKW_WORKERS", "0")]);
    assert!(stderr.contains("SKW_WORKERS"), "{stderr}");
    // A secret's value is not repeated.
    let stderr = refused(&["serve"], &[("SKW_SECRET_KEY", "dG9vLXNob3J0")]);
    assert!(stderr.contains("SKW_SECRET_KEY"), "{stderr}");
    assert!(!stderr.contains("dG9vLXNob3J0"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skw.toml");
    std::fs::write(&file, "workers = 0\n").unwrap();
    let stderr = refused(&["--config", file.to_str().unwrap(), "serve"], &[]);
    assert!(
        stderr.contains("`workers`") && stderr.contains("SKW_WORKERS"),
        "{stderr}"
    );
}

/// `migrate` is the only command that changes the schema: the others refuse a database that
/// is not migrated, and leave it as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_migrate_changes_the_schema() {
    use crate::common::process::{cli, run_to_exit};
    use migrations::MigratorTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/unmigrated.db", dir.path().display());
    for args in [
        &["serve"][..],
        &[],
        &["account", "create", "--email", "ops@example.com"],
        &["api-key", "create", "--account", "ops@example.com"],
    ] {
        let (code, stderr) = run_to_exit(args, &[("DATABASE_URL", &url)]);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not migrated") && stderr.contains("schedulingkit-webhooks migrate"),
            "{args:?}: {stderr}"
        );
    }
    let pending = match server::db::open(&url, Default::default()).await {
        Err(server::db::OpenError::NotMigrated(pending)) => pending,
        other => panic!("{other:?}"),
    };
    assert_eq!(pending.len(), migrations::Migrator::migrations().len());

    cli(&url, &["migrate"], "");
    let db = server::db::open(&url, Default::default())
        .await
        .expect("a migrated database opens");
    assert!(server::db::pending_migrations(&db)
        .await
        .unwrap()
        .is_empty());
}

/// A fresh server's `/metrics` lists every delivery status and attempt outcome at 0, before
/// any delivery (a process of its own: the tests' processes count deliveries of their own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_lists_every_labelled_counter_at_zero() {
    use crate::common::process::{cli, serve_with};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/metrics.db", dir.path().display());
    cli(&db, &["migrate"], "");
    let (mut child, _base) = serve_with(
        &db,
        "all",
        &[("SKW_LOG", "info")],
        std::process::Stdio::piped(),
    );
    // The metrics listener's free port is in the start-up log.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no metrics address logged"
        );
        if let Some(at) = line.split("metrics at ").nth(1) {
            break at.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    for status in ["succeeded", "failed"] {
        let line = format!("skw_deliveries_total{{status=\"{status}\"}} 0");
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    for outcome in [
        "success", "timeout", "dns", "tls", "connect", "blocked", "redirect", "status", "io",
    ] {
        let line = format!("skw_attempts_total{{outcome=\"{outcome}\"}} 0");
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
}

/// SQLite: no commit pays for a WAL checkpoint (its fsyncs held the write lock for 4–9 ms,
/// about four times a second at 200 events/s — the tail of `make bench` (h)); a background
/// task copies the WAL into the database instead. Written here: fewer pages than SQLite's own
/// automatic checkpoint would wait for, so only the background task can have copied them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_in_the_background_not_in_commits() {
    use sea_orm::ConnectionTrait;
    let Some(app) = crate::common::spawn_app(crate::common::Backend::Sqlite).await else {
        return;
    };
    let auto = app
        .db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA wal_autocheckpoint",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(auto, 0, "commits run no checkpoint");
    let file = std::path::PathBuf::from(app.url.trim_start_matches("sqlite://"));
    let size = || std::fs::metadata(&file).unwrap().len();
    // About 50 pages (of 4 KiB) of new rows, all in the WAL when committed.
    app.db
        .execute_unprepared(
            "CREATE TABLE ballast (id INTEGER PRIMARY KEY, pad TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
             INSERT INTO ballast (pad) SELECT hex(randomblob(500)) FROM n",
        )
        .await
        .unwrap();
    let before = size();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() < before + 50 * 4096 {
        assert!(
            std::time::Instant::now() < until,
            "the WAL was not copied into the database file ({} → {} bytes)",
            before,
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}
