//! The test harness: the whole app on port 0 with a fresh database (SQLite always; PostgreSQL
//! when reachable, and always in CI), sessions that talk to it over HTTP, and a real receiver.

pub mod api;
pub mod process;
pub mod receiver;
pub mod smtp;

use base64::Engine;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use server::config::{Role, ServeArgs};
use server::dispatcher::{Dispatcher, RetrySchedule};
use server::Running;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub db: DatabaseConnection,
    pub running: Running,
    /// Driven by hand: tests call `run_once` instead of sleeping.
    pub dispatcher: Dispatcher,
    /// The alert loop, driven by hand too (`run_once`).
    pub alerts: server::alerts::Alerts,
    pub backend: Backend,
    /// The database's URL (a fresh database per test).
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Generates one `#[tokio::test]` per backend for each scenario `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::common::spawn_app($crate::common::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::common::spawn_app($crate::common::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

pub fn test_args() -> ServeArgs {
    ServeArgs {
        allow_insecure_targets: true,
        // Tests never query DNS (their traffic stays on loopback).
        resolve_on_save: false,
        secret_key: Some(server::config::Secret::new(
            base64::engine::general_purpose::STANDARD.encode(app::secrets::SecretBox::random_key()),
        )),
        role: Role::Web,
        metrics_addr: server::config::OptionalAddr(Some("127.0.0.1:0".parse().unwrap())),
        // Retries are due at once, so a test can drive them without waiting.
        retry_schedule: RetrySchedule::parse("0ms").unwrap(),
        ..ServeArgs::default()
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, test_args()).await
}

pub async fn spawn_app_with(backend: Backend, args: ServeArgs) -> Option<TestApp> {
    spawn_app_on(backend, args, server::db::DbOptions::default()).await
}

/// As [`spawn_app_with`], with the database connected with these options (a page limit for
/// the storage-fault tests).
pub async fn spawn_app_on(
    backend: Backend,
    args: ServeArgs,
    options: server::db::DbOptions,
) -> Option<TestApp> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKW_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/test.db", dir.path().display()),
        Backend::Postgres => fresh_postgres_database().await?,
    };
    let db = server::db::connect_with(&url, options)
        .await
        .expect("database connects and migrates");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::start(db.clone(), &args, listener).await.unwrap();
    let dispatcher = Dispatcher::new(
        db.clone(),
        running.gate.clone(),
        running.wakeup.clone(),
        running.health.clone(),
        server::dispatcher_config(&args, running.secrets.clone()),
    );
    let alerts = server::alerts::Alerts::new(
        db.clone(),
        running.wakeup.clone(),
        server::alerts::AlertsConfig::from_args(&args).expect("alert settings"),
    );
    Some(TestApp {
        base: format!("http://{}", running.addr),
        db,
        running,
        dispatcher,
        alerts,
        backend,
        url,
        _dir: dir,
    })
}

pub fn postgres_admin_url() -> String {
    std::env::var("SKW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A new, empty PostgreSQL database; `None` (test skipped, reason printed) only outside CI.
pub async fn fresh_postgres_database() -> Option<String> {
    let admin_url = postgres_admin_url();
    let admin = match Database::connect(admin_url.as_str()).await {
        Ok(db) => db,
        Err(e) if !in_ci() => {
            eprintln!("SKIPPED (PostgreSQL): cannot connect to {admin_url}: {e}. These tests always run in CI.");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required in CI ({admin_url}): {e}"),
    };
    sweep_old_test_databases(&admin).await;
    let name = format!("skw_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

/// Once per test process: drops the test databases of runs that ended at least an hour ago
/// (a name's UUIDv7 tells when it was made), so that runs on one machine do not fill its disk.
/// A running test's database is younger than that.
async fn sweep_old_test_databases(admin: &DatabaseConnection) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let backend = admin.get_database_backend();
            let Ok(rows) = admin
                .query_all(Statement::from_string(
                    backend,
                    "SELECT datname FROM pg_database WHERE datname LIKE 'skw\\_test\\_%'",
                ))
                .await
            else {
                return;
            };
            let hour_ago = (app::entities::now_ms() / 1000 - 3600) as u64;
            for row in rows {
                let Ok(name) = row.try_get::<String>("", "datname") else {
                    continue;
                };
                let made_at = name
                    .strip_prefix("skw_test_")
                    .and_then(|id| uuid::Uuid::parse_str(id).ok())
                    .and_then(|id| id.get_timestamp())
                    .map(|t| t.to_unix().0);
                if made_at.is_some_and(|secs| secs < hour_ago) {
                    let _ = admin
                        .execute(Statement::from_string(
                            backend,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        ))
                        .await;
                }
            }
        })
        .await;
}

/// Waits until `done` (checked every 25 ms), failing the test with `what` after `deadline`.
pub async fn wait_for(what: &str, deadline: Duration, mut done: impl AsyncFnMut() -> bool) {
    let until = std::time::Instant::now() + deadline;
    while !done().await {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A browser-like client of the app: keeps its cookies (one logged-in user).
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl TestApp {
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// A new account, logged in.
    pub async fn user(&self, email: &str) -> Client {
        let c = self.client();
        let res = c
            .call(
                "auth/signup",
                &[("email", email), ("password", "correct horse battery")],
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "sign-up failed: {}",
            res.text().await.unwrap()
        );
        c
    }

    pub async fn api_key(&self, email: &str) -> String {
        server::cli::create_api_key(&self.db, email, "tests", &[])
            .await
            .unwrap()
    }

    /// Creates a webhook through the server function and returns its id.
    pub async fn webhook(
        &self,
        user: &Client,
        url: &str,
        events: &[&str],
        retries: u8,
        timeout: u16,
    ) -> i64 {
        let mut form = vec![
            ("name".to_string(), "Test hook".to_string()),
            ("url".to_string(), url.to_string()),
            ("active".to_string(), "true".to_string()),
            ("timeout_secs".to_string(), timeout.to_string()),
            ("retry_attempts".to_string(), retries.to_string()),
            ("description".to_string(), String::new()),
        ];
        form.extend(
            events
                .iter()
                .map(|e| ("events[]".to_string(), e.to_string())),
        );
        let res = user.call_owned("webhooks/create", &form).await;
        assert_eq!(
            res.status(),
            200,
            "create failed: {}",
            res.text().await.unwrap()
        );
        let list: serde_json::Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
        list.as_array().unwrap().last().unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn publish(
        &self,
        key: &str,
        event: &str,
        data: serde_json::Value,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(key)
            .json(&serde_json::json!({ "event": event, "data": data }))
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.running.stop(Duration::from_secs(5)).await;
    }

    /// Moves every due time and lease `ms` into the past, as if that much time had passed.
    pub async fn age_queue(&self, ms: i64) {
        use sea_orm::ConnectionTrait;
        self.db
            .execute_unprepared(&format!(
                "UPDATE deliveries SET next_attempt_at = next_attempt_at - {ms}"
            ))
            .await
            .unwrap();
    }
}

impl Client {
    /// Calls a server function the way a script would (form-encoded, JSON answer).
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/fn/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn call_owned(&self, endpoint: &str, form: &[(String, String)]) -> reqwest::Response {
        self.http
            .post(format!("{}/fn/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form the way a browser without JavaScript does.
    pub async fn post_form_as_browser(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        referer: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/fn/{endpoint}", self.base))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", format!("{}{referer}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
}
