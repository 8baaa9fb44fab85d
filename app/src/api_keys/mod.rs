//! API keys: the bearer credentials of the ingest and management API. A key is shown once, at
//! creation; only its SHA-256 is stored.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub use page::ApiKeysPage;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: crate::domain::ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// What the key may do (every scope for a key from before scopes).
    pub scopes: Vec<crate::domain::ApiScope>,
}

/// A key just created: the only time its full value is available.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub id: crate::domain::ApiKeyId,
    pub name: String,
    pub key: String,
    pub scopes: Vec<crate::domain::ApiScope>,
}

#[server(prefix = "/fn", endpoint = "api-keys/list")]
pub async fn list_api_keys() -> Result<Vec<ApiKeySummary>, AppError> {
    crate::request::as_user(
        "api-keys/list",
        |crate::request::UserRequest { user, state }| async move {
            let db = state.db;
            ssr::list(&db, user.account_id).await
        },
    )
    .await
}

#[server(prefix = "/fn", endpoint = "api-keys/create")]
pub async fn create_api_key(
    #[server(default)] name: String,
    // The ticked scope checkboxes (`scopes[]`); none ticked is refused.
    #[server(default)] scopes: Vec<String>,
) -> Result<NewApiKey, AppError> {
    crate::request::as_user(
        "api-keys/create",
        |crate::request::UserRequest { user, state }| async move {
            let mut errors = crate::domain::FieldErrors::default();
            let name = ssr::parse_name(&name)
                .map_err(|e| errors.add("name", e))
                .ok();
            let scopes = crate::domain::ApiScopes::parse(&scopes)
                .map_err(|e| errors.add("scopes", e))
                .ok();
            let (Some(name), Some(scopes)) = (name, scopes) else {
                return Err(AppError::Invalid(errors));
            };
            let created = ssr::create(&state.db, user.account_id, &name, scopes).await?;
            if crate::request::wants_html() {
                // Without JavaScript the page is reloaded: hand the key over through the
                // session, sealed, once.
                ssr::stash_new_key(&state.secrets, &created).await?;
                leptos_axum::redirect("/settings/api-keys");
            }
            Ok(created)
        },
    )
    .await
}

/// The key created by the previous (plain form) request, if any; it is forgotten once read.
#[server(prefix = "/fn", endpoint = "api-keys/take-new")]
pub async fn take_new_api_key() -> Result<Option<NewApiKey>, AppError> {
    crate::request::as_user("api-keys/take-new", |cx| async move {
        ssr::take_new_key(&cx.state.secrets).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "api-keys/revoke")]
pub async fn revoke_api_key(id: crate::domain::ApiKeyId) -> Result<(), AppError> {
    crate::request::as_user(
        "api-keys/revoke",
        |crate::request::UserRequest { user, state }| async move {
            ssr::revoke(&state.db, user.account_id, id).await?;
            state.api_keys.forget(id);
            Ok(())
        },
    )
    .await
}
