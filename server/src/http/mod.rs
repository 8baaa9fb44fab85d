//! The HTTP surface: pages and server functions (with sessions), the JSON API (bearer keys
//! only, no cookies), and health.

pub mod api;
mod guard;
pub mod security;

pub use api::{ApiError, MAX_EVENT_BYTES};

use app::session_store::DbSessionStore;
use app::state::AppState;
use app::{shell, App};
use axum::routing::get;
use axum::Router;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
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

    let api = api::routes(state);

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api)
        .merge(pages)
        .layer(axum::middleware::from_fn(security::headers))
}
