#![recursion_limit = "256"]
//! The `schedulingkit-webhooks` server: wires the web app (`app` crate) into axum, runs the
//! JSON API and the dispatcher, and offers the CLI's commands.

pub mod alerts;
pub mod cli;
pub mod config;
pub mod db;
pub mod dispatcher;
pub mod http;
pub mod metrics;
pub mod precompress;

use app::domain::TargetPolicy;
use app::queue::Wakeup;
use app::state::AppState;
use leptos::prelude::LeptosOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use config::{Role, ServeArgs};
use dispatcher::{Dispatcher, DispatcherConfig};

/// A started server: its address and handles to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (`None`: switched off).
    pub metrics_addr: Option<SocketAddr>,
    /// Whether storage is failing now; the dispatcher's last pass.
    pub health: app::storage::StorageHealth,
    pub secrets: app::secrets::SecretBox,
    pub db: DatabaseConnection,
    pub wakeup: Wakeup,
    pub gate: app::queue::WriteGate,
    /// The pages' branding, log-in and embedding settings; tests move its links' clock.
    pub portal: std::sync::Arc<app::operator::portal::Portal>,
    /// How many deliveries this process's dispatcher started by hand-off (0 without one).
    pub handed_off: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How many claim passes this process's dispatcher has made (0 without one).
    pub claim_passes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    shutdown: watch::Sender<bool>,
    /// The shutdown grace (`SKW_SHUTDOWN_GRACE_MS`).
    drain: Duration,
    web: Option<JoinHandle<()>>,
    dispatcher: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests and claiming deliveries, lets in-flight work finish (within
    /// `drain`: requests still running then are dropped; the dispatcher gives back what it
    /// holds and writes its last outcomes within half a second more), and returns when
    /// everything has stopped.
    pub async fn stop(mut self, drain: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(mut web) = self.web.take() {
            if tokio::time::timeout(drain, &mut web).await.is_err() {
                web.abort();
            }
        }
        if let Some(d) = self.dispatcher.take() {
            let _ = d.await;
        }
    }

    /// Waits until a stop is asked for (SIGTERM, through [`Running::shutdown_handle`]) and
    /// everything has stopped, within the shutdown grace (see [`Running::stop`]).
    pub async fn wait(self) {
        let mut asked = self.shutdown.subscribe();
        let _ = asked.wait_for(|stop| *stop).await;
        let drain = self.drain;
        self.stop(drain).await;
    }

    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

pub fn dispatcher_config(args: &ServeArgs, secrets: app::secrets::SecretBox) -> DispatcherConfig {
    let mut cfg = DispatcherConfig::new(policy(args), args.retry_schedule.clone(), secrets);
    cfg.workers = args.workers.get();
    cfg.per_webhook = args.per_webhook_concurrency.get();
    cfg.poll_interval = Duration::from_millis(args.poll_interval_ms);
    cfg.lease_grace = Duration::from_millis(args.lease_grace_ms);
    cfg.auto_disable =
        config::auto_disable_rule(args.auto_disable_after, args.auto_disable_min_failures);
    cfg
}

/// `/readyz` fails when the dispatcher has not completed a pass for this long: ten poll
/// intervals, and at least 30 s (a pass takes one claim query; the loop makes one at least
/// every poll interval, and at once when woken).
pub fn claim_stale_after(args: &ServeArgs) -> Duration {
    Duration::from_millis(args.poll_interval_ms.saturating_mul(10)).max(Duration::from_secs(30))
}

pub fn policy(args: &ServeArgs) -> TargetPolicy {
    TargetPolicy {
        allow_insecure: args.allow_insecure_targets,
        resolve_on_save: args.resolve_on_save,
    }
}

/// Serves on `listener` and, unless the role is web-only, runs the dispatcher. `db` must be
/// migrated (`db::open` refuses a database that is not, `db::connect` migrates it).
///
/// The steps: the state every part shares, the `/metrics` listener, the pages and API, the
/// dispatcher, and the background tasks.
pub async fn start(
    db: DatabaseConnection,
    args: &ServeArgs,
    listener: TcpListener,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let shared = Shared::new(db, args)?;
    crate::metrics::metrics();
    let metrics_addr = match args.metrics_addr.0 {
        Some(at) => {
            Some(http::serve_metrics(at, shared.readiness.clone(), shared.stopping()).await?)
        }
        None => None,
    };
    let alerts = alerts::AlertsConfig::from_args(args).map_err(std::io::Error::other)?;
    // The dispatcher first: a process that serves and dispatches hands what it publishes
    // straight to its own workers (`app::queue::lifecycle::handoff`).
    let dispatcher = match args.role {
        Role::Web => None,
        Role::All | Role::Worker => Some(Dispatcher::new(
            shared.db.clone(),
            shared.gate.clone(),
            shared.wakeup.clone(),
            shared.health.clone(),
            dispatcher_config(args, shared.secrets.clone()),
        )),
    };
    let web = match args.role {
        Role::Worker => None,
        Role::All | Role::Web => {
            let handoff = dispatcher.as_ref().map(Dispatcher::handoff);
            Some(serve_web(&shared, args, listener, addr, handoff)?)
        }
    };
    let handed_off = dispatcher
        .as_ref()
        .map(Dispatcher::handed_off)
        .unwrap_or_default();
    let claim_passes = dispatcher
        .as_ref()
        .map(Dispatcher::passes)
        .unwrap_or_default();
    let dispatcher = dispatcher.map(|dispatcher| {
        tokio::spawn(
            alerts::Alerts::new(shared.db.clone(), shared.wakeup.clone(), alerts)
                .run(shared.stopping()),
        );
        spawn_dispatcher(&shared, args, dispatcher)
    });
    spawn_background_tasks(&shared, args);
    Ok(Running {
        addr,
        metrics_addr,
        health: shared.health,
        secrets: shared.secrets,
        db: shared.db,
        wakeup: shared.wakeup,
        gate: shared.gate,
        portal: shared.portal,
        handed_off,
        claim_passes,
        shutdown: shared.shutdown,
        drain: Duration::from_millis(args.shutdown_grace_ms),
        web,
        dispatcher,
    })
}

/// What the parts of a started server share.
struct Shared {
    db: DatabaseConnection,
    secrets: app::secrets::SecretBox,
    wakeup: Wakeup,
    gate: app::queue::WriteGate,
    health: app::storage::StorageHealth,
    shutdown: watch::Sender<bool>,
    readiness: http::Readiness,
    portal: std::sync::Arc<app::operator::portal::Portal>,
}

impl Shared {
    fn new(db: DatabaseConnection, args: &ServeArgs) -> std::io::Result<Shared> {
        let (secrets, created) = app::secrets::SecretBox::load(
            args.secret_key.as_ref().map(config::Secret::expose),
            &args.secret_key_file,
        )
        .map_err(|e| std::io::Error::other(format!("encryption key: {e}")))?;
        if created {
            tracing::warn!(
                file = %args.secret_key_file.display(),
                "generated a new key for the signing secrets at rest; back this file up (or set SKW_SECRET_KEY): without it stored secrets cannot be read"
            );
        }
        let health = app::storage::StorageHealth::default();
        let readiness = http::Readiness {
            db: db.clone(),
            health: health.clone(),
            claim_stale_after: (args.role != Role::Web).then(|| claim_stale_after(args)),
            started_ms: app::entities::now_ms(),
        };
        Ok(Shared {
            gate: app::queue::WriteGate::for_database(&db),
            db,
            secrets,
            wakeup: Wakeup::default(),
            health,
            shutdown: watch::channel(false).0,
            readiness,
            portal: std::sync::Arc::new(portal(args)),
        })
    }

    /// Turns true when the server is asked to stop.
    fn stopping(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// The pages' settings from the `SKW_*` ones.
pub fn portal(args: &ServeArgs) -> app::operator::portal::Portal {
    app::operator::portal::Portal {
        public_url: args.public_url.clone(),
        product_name: args.product_name.clone(),
        logo_url: args.logo_url.clone(),
        accent: args.accent_color.clone(),
        password_login: args.password_login,
        frame_ancestors: args.frame_ancestors.0.clone(),
        return_origins: args.return_origins.0.clone(),
        link_ttl_ms: args.login_link_ttl.0.as_millis() as i64,
        link_session_secs: args.link_session_ttl.0.as_secs() as i64,
        clock: Default::default(),
    }
}

/// Whether cargo-leptos built the bundle with hashed file names: it then writes `hash.txt`
/// beside the binary, which leptos reads to name the files in the pages.
fn hash_file_beside_the_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").is_file()))
        .unwrap_or(false)
}

/// The pages and the API on `listener`, until the stop.
fn serve_web(
    shared: &Shared,
    args: &ServeArgs,
    listener: TcpListener,
    addr: SocketAddr,
    handoff: Option<app::queue::Handoff>,
) -> std::io::Result<JoinHandle<()>> {
    let leptos_options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(args.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .hash_files(hash_file_beside_the_binary())
        .build();
    let state = AppState {
        leptos_options,
        db: shared.db.clone(),
        wakeup: shared.wakeup.clone(),
        policy: policy(args),
        publisher: app::queue::Publisher::start(app::queue::Destination {
            db: shared.db.clone(),
            gate: shared.gate.clone(),
            wakeup: shared.wakeup.clone(),
            health: shared.health.clone(),
            handoff,
        }),
        storage: shared.health.clone(),
        gate: shared.gate.clone(),
        api_keys: Default::default(),
        login_limiter: Default::default(),
        client_addr: app::auth::client_addr::ClientAddrPolicy::new(
            args.trusted_proxy_header.as_deref(),
        )
        .map_err(std::io::Error::other)?,
        secrets: shared.secrets.clone(),
        portal: shared.portal.clone(),
        operator_keys: Default::default(),
    };
    let router = http::router(state, &args.public_url, shared.readiness.clone());
    let mut stopping = shared.stopping();
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        // With the peer's address in every request (the per-address limits need it).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "the web server stopped");
        }
    }))
}

/// The dispatcher, and the LISTEN/NOTIFY listener through which other instances' publishes
/// wake it (PostgreSQL), until the stop.
fn spawn_dispatcher(shared: &Shared, args: &ServeArgs, dispatcher: Dispatcher) -> JoinHandle<()> {
    let listener = tokio::spawn(app::queue::notify::listen(
        shared.db.clone(),
        shared.wakeup.clone(),
    ));
    let mut stopping = shared.stopping();
    tokio::spawn(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        listener.abort();
    });
    tokio::spawn(dispatcher.run(
        shared.stopping(),
        Duration::from_millis(args.shutdown_grace_ms),
    ))
}

/// The periodic housekeeping: retention (in the dispatching processes, unless it is off),
/// the storage probe while storage is failing, and the removal of expired sessions.
fn spawn_background_tasks(shared: &Shared, args: &ServeArgs) {
    const HOURLY: Duration = Duration::from_secs(3600);
    if let (Role::All | Role::Worker, Some(days)) = (args.role, args.retention_days.0) {
        let (db, gate) = (shared.db.clone(), shared.gate.clone());
        let max_age_ms = i64::from(days.get()) * 86_400_000;
        spawn_periodic("retention", HOURLY, shared.stopping(), move || {
            let (db, gate) = (db.clone(), gate.clone());
            async move {
                let n = app::queue::retention::prune(&db, &gate, max_age_ms).await?;
                if n > 0 {
                    tracing::info!(events = n, "pruned events past the retention period");
                }
                Ok::<_, sea_orm::DbErr>(())
            }
        });
    }
    // While storage is failing, a probe write every second finds out when it is back (so a
    // process without traffic recovers too).
    let (db, health) = (shared.db.clone(), shared.health.clone());
    spawn_periodic(
        "storage probe",
        Duration::from_secs(1),
        shared.stopping(),
        move || {
            let (db, health) = (db.clone(), health.clone());
            async move {
                if health.failing().is_some() {
                    health.probe(&db).await;
                }
                Ok::<_, std::convert::Infallible>(())
            }
        },
    );
    // SQLite: the WAL is copied into the database here, not by the commit that fills it.
    if shared.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let db = shared.db.clone();
        spawn_periodic(
            "WAL checkpoint",
            db::CHECKPOINT_EVERY,
            shared.stopping(),
            move || {
                let db = db.clone();
                async move { db::checkpoint(&db).await }
            },
        );
    }
    let store = app::session_store::DbSessionStore::new(shared.db.clone());
    spawn_periodic("expired sessions", HOURLY, shared.stopping(), move || {
        let store = store.clone();
        async move { store.delete_expired().await.map(drop) }
    });
}

/// Runs `task` now and then every `every` until `stopping` turns true (a run under way
/// finishes; the wait between runs is cut short). A failed run is logged with the task's
/// name, and the next one comes as usual.
pub fn spawn_periodic<F, Fut, E>(
    name: &'static str,
    every: Duration,
    mut stopping: watch::Receiver<bool>,
    mut task: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        while !*stopping.borrow() {
            if let Err(e) = task().await {
                tracing::warn!(task = name, error = %e, "periodic task failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_periodic_task_runs_on_after_failures_and_stops_with_the_server() {
        let runs = Arc::new(AtomicUsize::new(0));
        let (stop, stopping) = watch::channel(false);
        let counted = runs.clone();
        let handle = spawn_periodic("test", Duration::from_millis(10), stopping, move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n.is_multiple_of(2) {
                    Err(format!("run {n} failed"))
                } else {
                    Ok(())
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            runs.load(Ordering::SeqCst) >= 3,
            "it runs again after a failure"
        );
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), handle)
            .await
            .expect("it stops at once")
            .unwrap();
        let after = runs.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(runs.load(Ordering::SeqCst), after, "and runs no more");
    }
}
