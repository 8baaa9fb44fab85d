//! Page access: a logged-out visitor of a `/settings` page is sent to `/login?next=…`, and a
//! logged-in visitor of `/login` or `/signup` straight to the settings.

use app::auth::ssr::USER_ID_KEY;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

pub async fn page_access(session: Session, req: Request, next: Next) -> Response {
    if req.method() != Method::GET {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let protected = path == "/settings" || path.starts_with("/settings/");
    let auth_page = path == "/login" || path == "/signup";
    if !protected && !auth_page {
        return next.run(req).await;
    }
    let logged_in = matches!(session.get::<i64>(USER_ID_KEY).await, Ok(Some(_)));
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
    next.run(req).await
}
