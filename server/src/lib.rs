#![recursion_limit = "256"]
//! The `schedulingkit-webhooks` server: wires the web app (`app` crate) into axum, runs the
//! JSON API and the dispatcher, and offers the CLI's commands.

pub mod cli;
pub mod config;
pub mod db;
pub mod dispatcher;
pub mod http;
pub mod metrics;

use app::domain::TargetPolicy;
use app::queue::Wakeup;
use app::state::AppState;
use leptos::prelude::LeptosOptions;
use sea_orm::DatabaseConnection;
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

/// Serves on `listener` and, unless the role is web-only, runs the dispatcher.
pub async fn start(
    db: DatabaseConnection,
    args: &ServeArgs,
    listener: TcpListener,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
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
    let wakeup = Wakeup::default();
    let gate = app::queue::WriteGate::for_database(&db);
    let health = app::storage::StorageHealth::default();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let runs_dispatcher = args.role != Role::Web;
    let readiness = http::Readiness {
        db: db.clone(),
        health: health.clone(),
        claim_stale_after: runs_dispatcher.then(|| claim_stale_after(args)),
        started_ms: app::entities::now_ms(),
    };
    let metrics_addr = match args.metrics_addr.0 {
        Some(at) => Some(http::serve_metrics(at, readiness.clone(), shutdown_rx.clone()).await?),
        None => None,
    };

    let web = if args.role != Role::Worker {
        let leptos_options = LeptosOptions::builder()
            .output_name(app::OUTPUT_NAME)
            .site_root(args.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let state = AppState {
            leptos_options,
            db: db.clone(),
            wakeup: wakeup.clone(),
            policy: policy(args),
            publisher: app::queue::Publisher::start(
                db.clone(),
                gate.clone(),
                wakeup.clone(),
                health.clone(),
            ),
            storage: health.clone(),
            gate: gate.clone(),
            api_keys: Default::default(),
            login_limiter: Default::default(),
            client_addr: app::auth::client_addr::ClientAddrPolicy::new(
                args.trusted_proxy_header.as_deref(),
            )
            .map_err(std::io::Error::other)?,
            secrets: secrets.clone(),
        };
        let router = http::router(state, &args.public_url, readiness);
        let mut rx = shutdown_rx.clone();
        Some(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
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
    } else {
        None
    };

    // Other instances' publishes wake this one's dispatcher (PostgreSQL LISTEN/NOTIFY).
    if args.role != Role::Web {
        let listener = tokio::spawn(app::queue::notify::listen(db.clone(), wakeup.clone()));
        let mut rx = shutdown.subscribe();
        tokio::spawn(async move {
            let _ = rx.wait_for(|stop| *stop).await;
            listener.abort();
        });
    }
    let dispatcher = if args.role != Role::Web {
        let d = Dispatcher::new(
            db.clone(),
            gate.clone(),
            wakeup.clone(),
            health.clone(),
            dispatcher_config(args, secrets.clone()),
        );
        Some(tokio::spawn(d.run(
            shutdown_rx,
            Duration::from_millis(args.shutdown_grace_ms),
        )))
    } else {
        None
    };

    // Old events, deliveries and attempts are pruned hourly (by the dispatching processes).
    if let (true, Some(days)) = (args.role != Role::Web, args.retention_days.0) {
        let (db, gate) = (db.clone(), gate.clone());
        let max_age_ms = i64::from(days.get()) * 86_400_000;
        let mut rx = shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                match app::queue::retention::prune(&db, &gate, max_age_ms).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "pruned events past the retention period"),
                    Err(e) => tracing::warn!(error = %e, "retention pass failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = rx.wait_for(|stop| *stop) => return,
                }
            }
        });
    }
    // While storage is failing, a probe write every second finds out when it is back (so a
    // process without traffic recovers too).
    {
        let (db, health) = (db.clone(), health.clone());
        let mut rx = shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = rx.wait_for(|stop| *stop) => return,
                }
                if health.failing().is_some() {
                    health.probe(&db).await;
                }
            }
        });
    }
    // Expired login sessions are removed hourly.
    let store = app::session_store::DbSessionStore::new(db.clone());
    let mut rx = shutdown.subscribe();
    tokio::spawn(async move {
        loop {
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = rx.wait_for(|stop| *stop) => return,
            }
        }
    });

    Ok(Running {
        addr,
        metrics_addr,
        health,
        secrets,
        db,
        wakeup,
        gate,
        shutdown,
        drain: Duration::from_millis(args.shutdown_grace_ms),
        web,
        dispatcher,
    })
}
