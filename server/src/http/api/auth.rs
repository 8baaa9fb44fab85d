//! Bearer API keys for the JSON API (never cookies).

use app::api_keys::ssr as keys;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::DatabaseConnection;

use super::error::ApiError;
use app::state::AppState;

/// The account an API request acts for, from `Authorization: Bearer <key>`.
#[derive(Clone, Copy, Debug)]
pub struct ApiAccount {
    pub account_id: i64,
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
        authenticate(&state.db, key).await
    }
}

async fn authenticate(db: &DatabaseConnection, key: &str) -> Result<ApiAccount, ApiError> {
    let found = keys::authenticate(db, key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This API key is not valid (unknown or revoked)."))?;
    if let Err(e) = keys::touch(db, &found).await {
        tracing::warn!(error = %e, "could not note the API key's use");
    }
    Ok(ApiAccount {
        account_id: found.account_id,
    })
}
