//! Key generation, hashing and lookup (server only).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

use super::{ApiKeySummary, NewApiKey};
use crate::domain::{AccountId, ApiKeyId, ApiScopes};
use crate::entities::{api_key, now_ms};
use crate::error::AppError;

pub const KEY_PREFIX: &str = "skw_";
const NEW_KEY_SESSION_KEY: &str = "new_api_key";

/// `skw_` and 48 hex digits (24 bytes from the OS RNG).
pub fn generate_key() -> String {
    format!("{KEY_PREFIX}{}", random_hex::<24>())
}

/// `N` random bytes in hex: the secret part of every credential this service hands out (API
/// keys and operator keys: 24 bytes; one-time log-in links: 32), stored only as [`hash_key`].
pub fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system RNG is unavailable");
    hex::encode(bytes)
}

/// Keys carry 192 random bits, so a plain SHA-256 is enough to store them safely.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("API key".to_string());
    }
    if name.chars().count() > 100 {
        return Err("Use at most 100 characters for the name.".into());
    }
    crate::domain::check_visible(name, "name")?;
    Ok(name.to_string())
}

pub async fn create(
    db: &DatabaseConnection,
    account_id: AccountId,
    name: &str,
    scopes: ApiScopes,
) -> Result<NewApiKey, DbErr> {
    let key = generate_key();
    let res = api_key::Entity::insert(api_key::ActiveModel {
        id: Default::default(),
        account_id: Set(account_id),
        name: Set(name.to_string()),
        prefix: Set(key[..KEY_PREFIX.len() + 8].to_string()),
        key_hash: Set(hash_key(&key)),
        created_at: Set(now_ms()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        scopes: Set(Some(scopes.to_stored())),
    })
    .exec(db)
    .await?;
    Ok(NewApiKey {
        id: res.last_insert_id,
        name: name.to_string(),
        key,
        scopes: scopes.iter().collect(),
    })
}

/// The account a presented key acts for, if the key exists and is not revoked.
pub async fn authenticate(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    if !key.starts_with(KEY_PREFIX) || key.len() > 128 {
        return Ok(None);
    }
    api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_key(key)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// Notes that a key was used (at most about once a minute per key, to spare writes).
pub async fn touch(db: &DatabaseConnection, key: &api_key::Model) -> Result<(), DbErr> {
    let now = now_ms();
    if key.last_used_at.is_some_and(|t| now - t < 60_000) {
        return Ok(());
    }
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(key.id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list(
    db: &DatabaseConnection,
    account_id: AccountId,
) -> Result<Vec<ApiKeySummary>, AppError> {
    Ok(api_key::Entity::secure_find(account_id)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|k| ApiKeySummary {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            scopes: ApiScopes::from_stored(k.scopes.as_deref()).iter().collect(),
        })
        .collect())
}

pub async fn revoke(
    db: &DatabaseConnection,
    account_id: AccountId,
    id: ApiKeyId,
) -> Result<(), AppError> {
    let res = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now_ms()))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::AccountId.eq(account_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        // Unknown, another account's, or already revoked: only the last is not a 404.
        let exists = api_key::Entity::secure_find_by_id(account_id, id)
            .one(db)
            .await?
            .is_some();
        if !exists {
            return Err(AppError::NotFound);
        }
    }
    Ok(())
}

/// Hands a key created by a plain form post (no JavaScript) to the page the browser is sent to
/// next. The session row holds it sealed with the secrets key (`SKW_SECRET_KEY`), never in
/// plain text, and only until that page takes it.
pub async fn stash_new_key(
    secrets: &crate::secrets::SecretBox,
    key: &NewApiKey,
) -> Result<(), AppError> {
    let json = serde_json::to_string(key).map_err(|e| {
        tracing::error!(error = %e, "cannot encode the new key");
        AppError::Internal
    })?;
    crate::auth::ssr::session()
        .await?
        .insert(NEW_KEY_SESSION_KEY, secrets.seal(&json))
        .await?;
    Ok(())
}

/// The key stashed by [`stash_new_key`], removed from the session as it is read: it is shown
/// once.
pub async fn take_new_key(
    secrets: &crate::secrets::SecretBox,
) -> Result<Option<NewApiKey>, AppError> {
    // Whatever is there goes (a key stashed in plain text by an older version included).
    let Some(stashed) = crate::auth::ssr::session()
        .await?
        .remove_value(NEW_KEY_SESSION_KEY)
        .await?
    else {
        return Ok(None);
    };
    let key = stashed
        .as_str()
        .and_then(|sealed| secrets.open(sealed).ok())
        .and_then(|json| serde_json::from_str(&json).ok());
    if key.is_none() {
        tracing::warn!("a stashed API key could not be opened (another secrets key?)");
    }
    Ok(key)
}

/// How long a checked key is trusted without asking the database again. A key revoked on
/// another instance keeps working at most this long there; this instance forgets it at once.
pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
struct CachedKey {
    grant: KeyGrant,
    checked_at: std::time::Instant,
}

/// What a valid key grants: the account it acts for, and its scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub key_id: ApiKeyId,
    pub account_id: AccountId,
    pub scopes: ApiScopes,
}

/// Recently checked API keys, by hash: the ingest path asks the database about a key once per
/// [`KEY_CACHE_TTL`] instead of on every request.
#[derive(Clone, Debug, Default)]
pub struct KeyCache(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, CachedKey>>>);

impl KeyCache {
    /// The account a presented key acts for and its scopes (`None`: unknown or revoked).
    pub async fn grant_of(
        &self,
        db: &DatabaseConnection,
        key: &str,
    ) -> Result<Option<KeyGrant>, DbErr> {
        let hash = hash_key(key);
        if let Some(c) = self.0.lock().expect("key cache poisoned").get(&hash) {
            if c.checked_at.elapsed() < KEY_CACHE_TTL {
                return Ok(Some(c.grant));
            }
        }
        let Some(found) = authenticate(db, key).await? else {
            self.0.lock().expect("key cache poisoned").remove(&hash);
            return Ok(None);
        };
        if let Err(e) = touch(db, &found).await {
            tracing::warn!(error = %e, "could not note the API key's use");
        }
        let mut cache = self.0.lock().expect("key cache poisoned");
        if cache.len() > 10_000 {
            cache.retain(|_, c| c.checked_at.elapsed() < KEY_CACHE_TTL);
        }
        let grant = KeyGrant {
            key_id: found.id,
            account_id: found.account_id,
            scopes: ApiScopes::from_stored(found.scopes.as_deref()),
        };
        cache.insert(
            hash,
            CachedKey {
                grant,
                checked_at: std::time::Instant::now(),
            },
        );
        Ok(Some(grant))
    }

    /// Forgets the keys of a deleted account at once.
    pub fn forget_account(&self, account_id: AccountId) {
        self.0
            .lock()
            .expect("key cache poisoned")
            .retain(|_, c| c.grant.account_id != account_id);
    }

    /// Forgets a revoked key at once.
    pub fn forget(&self, key_id: ApiKeyId) {
        self.0
            .lock()
            .expect("key cache poisoned")
            .retain(|_, c| c.grant.key_id != key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn key_names_are_bounded_and_visible() {
        assert_eq!(parse_name("  "), Ok("API key".to_string()));
        assert_eq!(parse_name(" Production "), Ok("Production".to_string()));
        assert!(parse_name(&"x".repeat(101)).is_err());
        let err = parse_name("prod\u{202E}nim").unwrap_err();
        assert!(err.contains("U+202E"), "{err}");
        assert!(parse_name("a\u{200F}b").is_err());
        assert!(parse_name("a\u{0000}b").is_err());
    }
}
