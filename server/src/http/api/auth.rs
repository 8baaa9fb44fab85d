//! Bearer API keys for the JSON API (never cookies), and the scope each route requires.
//!
//! A handler gets its account only through [`ApiAccount<S>`], whose type parameter is the
//! scope the route requires (`ApiAccount<WebhooksRead>`): there is no extractor without one,
//! so a new route cannot forget to name its scope. The check runs before any other extractor
//! of the request (path, query, body) and before the handler, so a key without the scope
//! changes nothing: `401 unauthorized` without a valid key, then `403 insufficient_scope`.

use std::marker::PhantomData;

use app::domain::{AccountId, ApiScope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use app::state::AppState;

/// A scope a route requires, as a type (the parameter of [`ApiAccount`]).
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: ApiScope;
}

macro_rules! required_scopes {
    ($($(#[$doc:meta])* $name:ident => $scope:ident),+ $(,)?) => {$(
        $(#[$doc])*
        pub enum $name {}
        impl RequiredScope for $name {
            const SCOPE: ApiScope = ApiScope::$scope;
        }
    )+};
}

required_scopes!(
    /// `events:publish`: publish and cancel events.
    EventsPublish => EventsPublish,
    /// `webhooks:read`: list and read webhooks.
    WebhooksRead => WebhooksRead,
    /// `webhooks:write`: create, change, delete, test, rotate and replay webhooks.
    WebhooksWrite => WebhooksWrite,
    /// `deliveries:read`: the delivery log.
    DeliveriesRead => DeliveriesRead,
    /// `deliveries:write`: redeliver.
    DeliveriesWrite => DeliveriesWrite,
);

/// Set on a request the operator API forwards to the account's routes
/// (`/api/v1/accounts/{external_id}/…`): the account it acts for, checked with an operator key.
/// Only [`super::operator`] inserts it; a request from the network cannot carry it.
#[derive(Clone, Copy, Debug)]
pub struct ActingFor(pub AccountId);

/// The account an API request acts for, from `Authorization: Bearer <key>`, whose key holds
/// the scope `S` — or, forwarded by the operator API, the account named in its path (an
/// operator key holds every scope).
#[derive(Debug)]
pub struct ApiAccount<S: RequiredScope> {
    pub account_id: AccountId,
    scope: PhantomData<fn() -> S>,
}

impl<S: RequiredScope> Clone for ApiAccount<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: RequiredScope> Copy for ApiAccount<S> {}

impl<S: RequiredScope> FromRequestParts<AppState> for ApiAccount<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(ActingFor(account_id)) = parts.extensions.get::<ActingFor>() {
            return Ok(ApiAccount {
                account_id: *account_id,
                scope: PhantomData,
            });
        }
        let key = bearer(parts)?;
        if app::operator::keys::is_operator_key(key) {
            return Err(ApiError::unauthorized(
                "An operator key acts for an account under /api/v1/accounts/{external_id}/…; \
                 this route takes an account's API key.",
            ));
        }
        let account_id = authenticate(state, key, S::SCOPE).await?;
        Ok(ApiAccount {
            account_id,
            scope: PhantomData,
        })
    }
}

/// The key of `Authorization: Bearer <key>`.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    {
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
        Ok(key)
    }
}

async fn authenticate(state: &AppState, key: &str, scope: ApiScope) -> Result<AccountId, ApiError> {
    let grant = state
        .api_keys
        .grant_of(&state.db, key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This API key is not valid (unknown or revoked)."))?;
    if !grant.scopes.contains(scope) {
        return Err(ApiError::insufficient_scope(scope));
    }
    Ok(grant.account_id)
}
