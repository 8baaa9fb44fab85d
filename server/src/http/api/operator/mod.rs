//! The operator API: the scheduling product's back end, with an operator key, provisions
//! accounts by its own ids, publishes for any of them (one event or a batch), makes one-time
//! log-in links, and reaches every route of an account's API under
//! `/api/v1/accounts/{external_id}/…`. An account's API key can do none of this; an operator
//! key does nothing on the account routes without the prefix, and nothing on the pages.

pub mod accounts;
mod acting;
mod auth;
pub mod batch;
pub mod links;
pub mod types;

pub use accounts::{delete_account, get_account, list_accounts, put_account};
pub use acting::forward;
pub use batch::publish_batch;
pub use links::create_login_link;

use app::state::AppState;
use axum::routing::{any, get, post};
use axum::Router;

/// The operator routes; `account_api` is the account API the prefixed routes reach.
pub fn routes(state: AppState, account_api: Router) -> Router {
    Router::new()
        .route("/api/v1/accounts", get(list_accounts))
        .route(
            "/api/v1/accounts/{external_id}",
            get(get_account).put(put_account).delete(delete_account),
        )
        .route(
            "/api/v1/accounts/{external_id}/login-links",
            post(create_login_link),
        )
        .route("/api/v1/events/batch", post(publish_batch))
        .route(
            "/api/v1/accounts/{external_id}/{*rest}",
            any(
                move |axum::extract::State(state): axum::extract::State<AppState>,
                      op: auth::Operator,
                      axum::extract::Path((external_id, _rest)): axum::extract::Path<(
                    String,
                    String,
                )>,
                      req: axum::extract::Request| {
                    let api = account_api.clone();
                    async move { forward(state, op, external_id, req, api).await }
                },
            ),
        )
        .with_state(state)
}
