//! The HTTP surface: pages and server functions (with sessions), the JSON API (bearer keys
//! only, no cookies), and health.

pub mod api;
mod guard;
pub mod security;

pub use api::{ApiError, MAX_EVENT_BYTES};

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

pub fn router(state: AppState, public_url: &str) -> Router {
    let secure_cookies = public_url.starts_with("https://");
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(CookieDuration::days(14)));

    let routes = route_list();
    let pages = Router::new()
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(guard::page_access))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            security::Origins::from_public_url(public_url),
            security::same_origin,
        ))
        .with_state(state.clone());

    let api = api::routes(state.clone());

    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(db): State<DatabaseConnection>| async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    crate::metrics::render(&db).await,
                )
            }),
        )
        .with_state(state.db.clone());

    Router::new()
        .merge(ops)
        .merge(api)
        .merge(pages)
        .layer(axum::middleware::from_fn(security::headers))
}

/// Ready when the database answers and its schema is current (no pending migration).
async fn readyz(State(db): State<DatabaseConnection>) -> (StatusCode, Json<serde_json::Value>) {
    use migrations::MigratorTrait;
    if let Err(e) = db.ping().await {
        tracing::warn!(error = %e, "not ready: database unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": "database unreachable"})),
        );
    }
    match migrations::Migrator::get_pending_migrations(&db).await {
        Ok(pending) if pending.is_empty() => {
            (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
        }
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({"status": "unavailable", "reason": format!("{} migrations pending", pending.len())}),
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: cannot read the migrations");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({"status": "unavailable", "reason": "cannot read the schema version"}),
                ),
            )
        }
    }
}
