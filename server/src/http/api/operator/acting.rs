//! `/api/v1/accounts/{external_id}/{*rest}`: every route of an account's API, for the account
//! of that external id, with an operator key. The request is handed to the account API's own
//! router as `/api/v1/{rest}`, marked [`ActingFor`] the account — so the same handlers, limits
//! and answers serve it, and no route can be forgotten.

use app::state::AppState;
use axum::extract::Request;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use super::super::auth::ActingFor;
use super::super::error::ApiError;
use super::accounts::provisioned;
use super::auth::Operator;

pub async fn forward(
    state: AppState,
    _op: Operator,
    external_id: String,
    req: Request,
    account_api: Router,
) -> Response {
    let account = match provisioned(&state, &external_id).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    // The rest of the path as sent (not decoded), after `/api/v1/accounts/{external_id}/`.
    let rest = req
        .uri()
        .path()
        .splitn(6, '/')
        .nth(5)
        .unwrap_or_default()
        .to_string();
    let target = match req.uri().query() {
        Some(q) => format!("/api/v1/{rest}?{q}"),
        None => format!("/api/v1/{rest}"),
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "There is no such API route.",
        )
        .into_response();
    };
    // A new request of the same method, headers and body: not the same extensions, since axum
    // keeps this route's path parameters there and the account route would take them for its
    // own (`/webhooks/{id}` would find three).
    let (parts, body) = req.into_parts();
    let mut forwarded = Request::new(body);
    *forwarded.method_mut() = parts.method;
    *forwarded.uri_mut() = uri;
    *forwarded.version_mut() = parts.version;
    *forwarded.headers_mut() = parts.headers;
    if let Some(peer) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        forwarded.extensions_mut().insert(*peer);
    }
    forwarded
        .extensions_mut()
        .insert(ActingFor(account.account_id));
    match account_api.oneshot(forwarded).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}
