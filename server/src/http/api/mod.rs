//! The JSON API under `/api/v1`: bearer API keys only (no cookies), JSON errors everywhere.

mod auth;
mod deliveries;
mod error;
mod event_types;
mod ingest;
mod json;
mod openapi;
mod operator;
mod types;
mod webhooks;

pub use error::ApiError;
pub use ingest::MAX_EVENT_BYTES;
pub use openapi::ApiDoc;

use app::state::AppState;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

/// The account API (bearer API keys) and the operator API (operator keys), which reaches the
/// former under `/api/v1/accounts/{external_id}/…`.
pub fn routes(state: AppState) -> Router {
    let account_api = account_routes(state.clone());
    operator::routes(state, account_api.clone())
        .merge(account_api)
        // After the merge: every route, the operator's too, answers an unknown method in JSON.
        .method_not_allowed_fallback(method_not_allowed)
}

fn account_routes(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/events", post(ingest::publish_event))
        .route(
            "/api/v1/events/{id}",
            axum::routing::delete(ingest::cancel_event),
        )
        .route("/api/v1/event-types", get(event_types::list))
        .route(
            "/api/v1/event-types/{type}/samples",
            get(event_types::samples),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route("/api/v1/webhooks/{id}/test", post(webhooks::test))
        .route("/api/v1/webhooks/{id}/replay", post(webhooks::replay))
        .route(
            "/api/v1/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries::list))
        .route("/api/v1/deliveries/{id}", get(deliveries::get))
        .route(
            "/api/v1/deliveries/{id}/redeliver",
            post(deliveries::redeliver),
        )
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async { not_found() }),
        )
        // (the forwarded requests of the operator's prefix meet this router alone)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
    )
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such API route.",
    )
}
