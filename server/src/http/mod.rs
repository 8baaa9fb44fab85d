//! The HTTP surface: pages and server functions (with sessions), the JSON API (bearer keys
//! only, no cookies), and health.

pub mod api;
mod caching;
mod forms;
mod guard;
mod login_link;
mod partitioned;
pub mod security;
mod unavailable;

pub use api::MAX_EVENT_BYTES;

use app::session_store::DbSessionStore;
use app::state::AppState;
use app::{shell, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use sea_orm::DatabaseConnection;
use std::sync::OnceLock;
use tower_sessions::cookie::{time::Duration as CookieDuration, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "skw_session";

/// The app's routes, generated once per process. Generating them renders the app with
/// resource loading suppressed process-wide (leptos' `SuppressResourceLoad`), so it must not
/// overlap with a request being served (leptos-rs/leptos#4773): doing it once, before any
/// server of this process serves, guarantees that.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// What `/readyz` and `/metrics` read.
#[derive(Clone)]
pub struct Readiness {
    pub db: DatabaseConnection,
    pub health: app::storage::StorageHealth,
    /// Not ready when the dispatcher's last pass is older than this (`None`: no dispatcher in
    /// this process).
    pub claim_stale_after: Option<std::time::Duration>,
    /// When this process started (ms since the epoch): a dispatcher that never completed a
    /// pass is stale once this is older than the threshold.
    pub started_ms: i64,
}

/// Serves `/metrics` on its own listener (loopback by default); returns its address.
pub async fn serve_metrics(
    at: std::net::SocketAddr,
    readiness: Readiness,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(at).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen for /metrics on {at}: {e}"))
    })?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(readiness);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(addr)
}

async fn metrics(State(r): State<Readiness>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(&r.db, &r.health).await,
    )
}

pub fn router(state: AppState, public_url: &str, readiness: Readiness) -> Router {
    let secure_cookies = public_url.starts_with("https://");
    // Framed by another site, the pages' cookie must be sent to them as a third party:
    // `SameSite=None`, which browsers take only with `Secure` (HTTPS; loopback counts as secure).
    // Forged cross-site forms are still refused by the same-origin check below.
    // And `Partitioned`, so that browsers blocking third-party cookies keep it for the frame
    // (partitioned.rs).
    let (same_site, secure) = if state.portal.embeddable() {
        (SameSite::None, true)
    } else {
        (SameSite::Lax, secure_cookies)
    };
    let portal = state.portal.clone();
    let embeddable = portal.embeddable();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(same_site)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(CookieDuration::days(14)));

    let routes = route_list();
    let pages = Router::new()
        .route("/login/link/{token}", get(login_link::open))
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            portal.clone(),
            guard::page_access,
        ))
        .layer(axum::middleware::from_fn(forms::form_errors))
        .layer(sessions)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if embeddable {
                    partitioned::session_cookie(req, next).await
                } else {
                    next.run(req).await
                }
            },
        ))
        .layer(axum::middleware::from_fn(caching::cache_policy))
        .layer(axum::middleware::from_fn_with_state(
            (state.storage.clone(), state.db.clone()),
            unavailable::storage_page,
        ))
        .layer(axum::middleware::from_fn_with_state(
            security::Origins::from_public_url(public_url),
            security::same_origin,
        ))
        .with_state(state.clone());

    let api = api::routes(state.clone());

    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness);

    Router::new()
        .merge(ops)
        .merge(api)
        .merge(pages)
        // brotli or gzip by Accept-Encoding, for text, JSON and WASM; never for images or
        // event streams, nor for bodies under 32 bytes (tower-http's default predicate).
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            portal,
            security::headers,
        ))
}

/// Ready when storage can be written, the database answers with a current schema (no
/// pending migration), and — where this process dispatches — the dispatcher has completed a
/// claim pass lately (see [`crate::claim_stale_after`]). Otherwise `503` with the reason.
async fn readyz(State(r): State<Readiness>) -> (StatusCode, Json<serde_json::Value>) {
    use migrations::MigratorTrait;
    let unavailable = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": reason})),
        )
    };
    if let Some(outage) = r.health.failing() {
        return unavailable(format!(
            "storage cannot be written since {} ms ago",
            app::entities::now_ms() - outage.since_ms
        ));
    }
    if let Err(e) = r.db.ping().await {
        tracing::warn!(error = %e, "not ready: database unreachable");
        r.health.observe_err(&e);
        return unavailable("database unreachable".into());
    }
    if let Some(stale) = r.claim_stale_after {
        let last = r.health.last_claim_pass().unwrap_or(r.started_ms);
        let age = app::entities::now_ms() - last;
        if age > stale.as_millis() as i64 {
            return unavailable(format!(
                "the dispatcher has not completed a claim pass for {} s",
                age / 1000
            ));
        }
    }
    match migrations::Migrator::get_pending_migrations(&r.db).await {
        Ok(pending) if pending.is_empty() => {
            (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
        }
        Ok(pending) => unavailable(format!("{} migrations pending", pending.len())),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: cannot read the migrations");
            unavailable("cannot read the schema version".into())
        }
    }
}
