//! Bearer API keys for the JSON API (never cookies).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use app::state::AppState;

/// The account an API request acts for, from `Authorization: Bearer <key>`.
#[derive(Clone, Copy, Debug)]
pub struct ApiAccount {
    pub account_id: app::domain::AccountId,
}

impl FromRequestParts<AppState> for ApiAccount {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("Send your API key as `Authorization: Bearer skw_…`.")
            })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("The Authorization header must be `Bearer <API key>`.")
            })?;
        authenticate(state, key).await
    }
}

async fn authenticate(state: &AppState, key: &str) -> Result<ApiAccount, ApiError> {
    let account_id = state
        .api_keys
        .account_of(&state.db, key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This API key is not valid (unknown or revoked)."))?;
    Ok(ApiAccount { account_id })
}
