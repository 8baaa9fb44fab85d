//! The page a browser gets while storage is failing: `503` with `Retry-After` and a short,
//! friendly explanation, instead of a bare `500` or a page that hangs.

use app::storage::{StorageHealth, RETRY_AFTER_SECS};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;

/// In front of the pages (outside the session layer, which reads the database first):
/// a navigation while storage is known to be failing gets the friendly page at once, and so
/// does any page request that failed with a `500` because storage turned out to be failing.
pub async fn storage_page(
    State((health, db)): State<(StorageHealth, DatabaseConnection)>,
    req: Request,
    next: Next,
) -> Response {
    let navigation = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if navigation && health.failing().is_some() {
        return page();
    }
    let res = next.run(req).await;
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR && navigation {
        if health.failing().is_none() {
            // Was it the storage? One probe write tells (a 500 is rare; this is cheap then).
            health.probe(&db).await;
        }
        if health.failing().is_some() {
            return page();
        }
    }
    res
}

fn page() -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Briefly unavailable · SchedulingKit webhooks</title>\
             <link rel=\"stylesheet\" href=\"/pkg/{}.css\"></head>\
             <body><main class=\"page\"><h1>Briefly unavailable</h1>\
             <p>We cannot reach our storage at the moment, so this page cannot be shown and \
             nothing can be saved. Nothing you saved before is lost, and events already \
             accepted will be delivered once storage is back.</p>\
             <p>Please try again in {RETRY_AFTER_SECS} seconds: <a href=\"\">reload this page</a>.</p>\
             </main></body></html>",
            app::OUTPUT_NAME
        )),
    )
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
