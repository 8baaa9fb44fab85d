//! Operator keys: the product's back end's credentials. Created with the CLI, printed once,
//! stored as a SHA-256 (like API keys); told apart from an account's API keys by their prefix.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};

use crate::api_keys::ssr::{hash_key, random_hex};
use crate::entities::{now_ms, operator_key};

/// Every operator key starts so (an account's API keys start `skw_`).
pub const OPERATOR_KEY_PREFIX: &str = "skwop_";

/// How long a checked key is trusted without asking the database again (as API keys).
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

pub fn is_operator_key(presented: &str) -> bool {
    presented.starts_with(OPERATOR_KEY_PREFIX)
}

/// Creates a key; the only time it is seen whole.
pub async fn create(db: &DatabaseConnection, name: &str) -> Result<String, DbErr> {
    let key = format!("{OPERATOR_KEY_PREFIX}{}", random_hex::<24>());
    operator_key::Entity::insert(operator_key::ActiveModel {
        id: Default::default(),
        name: Set(name.to_string()),
        prefix: Set(key[..OPERATOR_KEY_PREFIX.len() + 8].to_string()),
        key_hash: Set(hash_key(&key)),
        created_at: Set(now_ms()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec(db)
    .await?;
    Ok(key)
}

/// Revokes the keys with this name; how many were revoked. (Known to every instance within
/// [`CACHE_TTL`].)
pub async fn revoke(db: &DatabaseConnection, name: &str) -> Result<u64, DbErr> {
    Ok(operator_key::Entity::update_many()
        .col_expr(operator_key::Column::RevokedAt, Expr::value(now_ms()))
        .filter(operator_key::Column::Name.eq(name))
        .filter(operator_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Recently checked operator keys, by hash.
#[derive(Clone, Debug, Default)]
pub struct OperatorKeys(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
);

impl OperatorKeys {
    /// Whether `presented` is a valid (known, not revoked) operator key.
    pub async fn is_valid(&self, db: &DatabaseConnection, presented: &str) -> Result<bool, DbErr> {
        if !is_operator_key(presented) {
            return Ok(false);
        }
        let hash = hash_key(presented);
        let fresh = self
            .0
            .lock()
            .expect("operator keys poisoned")
            .get(&hash)
            .is_some_and(|at| at.elapsed() < CACHE_TTL);
        if fresh {
            return Ok(true);
        }
        let found = operator_key::Entity::find()
            .filter(operator_key::Column::KeyHash.eq(hash.as_str()))
            .filter(operator_key::Column::RevokedAt.is_null())
            .one(db)
            .await?;
        {
            let mut cache = self.0.lock().expect("operator keys poisoned");
            if found.is_none() {
                cache.remove(&hash);
            } else {
                if cache.len() > 1_000 {
                    cache.retain(|_, at| at.elapsed() < CACHE_TTL);
                }
                cache.insert(hash, std::time::Instant::now());
            }
        }
        let Some(found) = found else {
            return Ok(false);
        };
        let touched = operator_key::Entity::update_many()
            .col_expr(operator_key::Column::LastUsedAt, Expr::value(now_ms()))
            .filter(operator_key::Column::Id.eq(found.id))
            .exec(db)
            .await;
        if let Err(e) = touched {
            tracing::warn!(error = %e, "could not note the operator key's use");
        }
        Ok(true)
    }
}
