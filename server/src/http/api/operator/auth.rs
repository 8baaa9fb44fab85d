//! The operator key of a request (`Authorization: Bearer skwop_…`).

use app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::super::auth::bearer;
use super::super::error::ApiError;

/// A request made with a valid operator key.
#[derive(Clone, Copy, Debug)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        if !app::operator::keys::is_operator_key(key) {
            return Err(ApiError::unauthorized(
                "This route takes an operator key (`skwop_…`, made with `schedulingkit-webhooks \
                 operator-key create`); an account's API key cannot act for other accounts.",
            ));
        }
        if !state.operator_keys.is_valid(&state.db, key).await? {
            return Err(ApiError::unauthorized(
                "This operator key is not valid (unknown or revoked).",
            ));
        }
        Ok(Operator)
    }
}
