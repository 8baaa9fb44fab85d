//! One-time log-in links: made by the operator API for one account, good for one use within
//! a short time, opening a page of this site logged in as that account's owner.
//!
//! The token is 256 random bits; only its SHA-256 is stored, so a copy of the database opens
//! nothing. A link is spent by one conditional update (`used_at` still empty, not expired), so
//! two requests racing with the same link cannot both log in.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};

use crate::api_keys::ssr::{hash_key, random_hex};
use crate::domain::AccountId;
use crate::entities::{login_link, webhook};

/// The page a link opens when none is asked for.
pub const DEFAULT_PATH: &str = "/settings/webhooks";
/// Links are purged this long after they expire.
const KEEP_EXPIRED_MS: i64 = 24 * 3600 * 1000;

/// Why a link does not log in; each gets its own page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No link has this token (never made, mistyped, changed, or purged).
    Unknown,
    Used,
    Expired,
}

/// A link's `path`: a page of the settings of this site (no other origin, no scheme), and —
/// where it names a webhook — one of this account's.
pub async fn check_path(
    db: &DatabaseConnection,
    account_id: AccountId,
    path: Option<&str>,
) -> Result<String, String> {
    let Some(path) = path else {
        return Ok(DEFAULT_PATH.to_string());
    };
    // `safe_next` answers the default for anything that is not a path of this site.
    if crate::auth::safe_next(Some(path)) != path {
        return Err("`path` must be a path of this site, like /settings/webhooks.".into());
    }
    let bare = path.split(['?', '#']).next().unwrap_or_default();
    if bare != "/settings" && !bare.starts_with("/settings/") {
        return Err("`path` must be one of the settings pages (it starts with /settings).".into());
    }
    if let Some(rest) = bare.strip_prefix("/settings/webhooks/") {
        let id = rest.split('/').next().unwrap_or_default();
        if let Ok(id) = id.parse::<i64>() {
            let owned =
                webhook::Entity::secure_find_by_id(account_id, crate::domain::WebhookId(id))
                    .one(db)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "checking a link's path failed");
                        "The path could not be checked; please retry.".to_string()
                    })?;
            if owned.is_none() {
                return Err(format!("This account has no webhook {id}: `path` names another account's page or none."));
            }
        }
    }
    Ok(path.to_string())
}

/// A `return_url`: an `http(s)` URL on one of the operator's allowed origins.
pub fn check_return_url(url: &str, allowed_origins: &[String]) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|_| {
        "`return_url` must be an absolute URL, like https://app.example.com/settings.".to_string()
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("`return_url` must be an http or https URL.".into());
    }
    let origin = parsed.origin().ascii_serialization();
    if !allowed_origins.contains(&origin) {
        return Err(format!(
            "`return_url`'s origin {origin} is not one of the allowed return origins (SKW_RETURN_ORIGINS)."
        ));
    }
    Ok(parsed.to_string())
}

pub struct NewLink {
    pub account_id: AccountId,
    pub path: String,
    pub return_url: Option<String>,
    pub embedded: bool,
}

/// Stores a link valid until `now + ttl_ms`; returns its token (the only time it is seen).
pub async fn create(
    db: &DatabaseConnection,
    link: NewLink,
    now: i64,
    ttl_ms: i64,
) -> Result<(String, i64), DbErr> {
    let token = random_hex::<32>();
    let expires_at = now + ttl_ms;
    login_link::Entity::delete_many()
        .filter(login_link::Column::ExpiresAt.lt(now - KEEP_EXPIRED_MS))
        .exec(db)
        .await?;
    login_link::Entity::insert(login_link::ActiveModel {
        id: Default::default(),
        token_hash: Set(hash_key(&token)),
        account_id: Set(link.account_id),
        path: Set(link.path),
        return_url: Set(link.return_url),
        embedded: Set(link.embedded),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec(db)
    .await?;
    Ok((token, expires_at))
}

/// Spends the link with this token at `now`: its row, or why it does not log in.
pub async fn redeem(
    db: &DatabaseConnection,
    token: &str,
    now: i64,
) -> Result<Result<login_link::Model, Refused>, DbErr> {
    // Only the shape a token has is looked up (64 hex digits).
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(Refused::Unknown));
    }
    let hash = hash_key(&token.to_ascii_lowercase());
    let Some(link) = login_link::Entity::find()
        .filter(login_link::Column::TokenHash.eq(hash.as_str()))
        .one(db)
        .await?
    else {
        return Ok(Err(Refused::Unknown));
    };
    if link.used_at.is_some() {
        return Ok(Err(Refused::Used));
    }
    if link.expires_at <= now {
        return Ok(Err(Refused::Expired));
    }
    let spent = login_link::Entity::update_many()
        .col_expr(login_link::Column::UsedAt, Expr::value(now))
        .filter(login_link::Column::Id.eq(link.id))
        .filter(login_link::Column::UsedAt.is_null())
        .filter(login_link::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if spent.rows_affected != 1 {
        return Ok(Err(Refused::Used));
    }
    Ok(Ok(link))
}

#[cfg(test)]
mod tests {
    use super::check_return_url;

    #[test]
    fn return_urls_must_be_on_an_allowed_origin() {
        let allowed = vec!["https://app.example.com".to_string()];
        assert_eq!(
            check_return_url("https://app.example.com/settings?x=1", &allowed).unwrap(),
            "https://app.example.com/settings?x=1"
        );
        for bad in [
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "http://app.example.com/",
            "https://app.example.com:444/",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(check_return_url(bad, &allowed).is_err(), "{bad}");
        }
        assert!(check_return_url("https://app.example.com/", &[]).is_err());
    }
}
