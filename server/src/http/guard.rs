//! Page access: a logged-out visitor of a `/settings` page is sent to `/login?next=…`, and a
//! logged-in visitor of `/login` or `/signup` straight to the settings. Where password log-in
//! is off, `/login` and `/signup` say where to come in from instead. A session opened by a
//! one-time link is told to the page's shell (framed or not) as a request extension.

use std::sync::Arc;

use app::auth::ssr::USER_ID_KEY;
use app::operator::portal::{LinkSession, Portal, LINK_SESSION_KEY};
use axum::extract::Request;
use axum::extract::State;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

pub async fn page_access(
    State(portal): State<Arc<Portal>>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::GET {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let path = path.as_str();
    let protected = path == "/settings" || path.starts_with("/settings/");
    let auth_page = path == "/login" || path == "/signup";
    if !protected && !auth_page {
        return next.run(req).await;
    }
    let logged_in = matches!(session.get::<i64>(USER_ID_KEY).await, Ok(Some(_)));
    if let Ok(Some(link)) = session.get::<LinkSession>(LINK_SESSION_KEY).await {
        req.extensions_mut().insert(link);
    }
    if protected && !logged_in {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(path);
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        return Redirect::to(&format!("/login?next={encoded}")).into_response();
    }
    if auth_page && logged_in {
        return Redirect::to("/settings/webhooks").into_response();
    }
    if auth_page && !portal.password_login {
        return super::login_link::page(
            axum::http::StatusCode::FORBIDDEN,
            "Log in from your scheduling app",
            &format!(
                "Sign-up and password log-in are switched off here. Open your webhook settings \
                 from {} to come in.",
                portal.product_name
            ),
        );
    }
    next.run(req).await
}
