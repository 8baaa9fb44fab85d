//! The scripted-setup commands: `account create`, `api-key create` and `operator-key
//! create|revoke`.

use app::domain::{ApiScope, ApiScopes, Email, Password};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Creates an account; the password comes from `password_line` (stdin's first line).
pub async fn create_account(
    db: &DatabaseConnection,
    email: &str,
    password_line: &str,
) -> Result<String, String> {
    let email = Email::parse(email)?;
    let password = Password::parse(password_line.trim_end_matches(['\r', '\n']))?;
    match app::auth::ssr::create_account(db, &email, &password).await {
        Ok(user) => Ok(format!(
            "created account {} for {}",
            user.account_id, user.email
        )),
        Err(app::auth::ssr::CreateAccountError::EmailTaken) => {
            Err(format!("an account with {} already exists", email.as_str()))
        }
        Err(app::auth::ssr::CreateAccountError::Db(e)) => Err(format!("database error: {e}")),
    }
}

/// Creates an API key for the account of the user with this e-mail, with these scopes (none:
/// every scope); returns the key.
pub async fn create_api_key(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    scopes: &[ApiScope],
) -> Result<String, String> {
    let email = Email::parse(email)?;
    let user = app::entities::user::Entity::find()
        .filter(app::entities::user::Column::Email.eq(email.as_str()))
        .one(db)
        .await
        .map_err(|e| format!("database error: {e}"))?
        .ok_or_else(|| format!("no account with the e-mail {}", email.as_str()))?;
    let name = app::api_keys::ssr::parse_name(name)?;
    let scopes = if scopes.is_empty() {
        ApiScopes::all()
    } else {
        ApiScopes::of(scopes.iter().copied())
    };
    let key = app::api_keys::ssr::create(db, user.account_id, &name, scopes)
        .await
        .map_err(|e| format!("database error: {e}"))?;
    Ok(key.key)
}

/// Creates an operator key; returns it (printed once, stored hashed).
pub async fn create_operator_key(db: &DatabaseConnection, name: &str) -> Result<String, String> {
    let name = app::api_keys::ssr::parse_name(name)?;
    app::operator::keys::create(db, &name)
        .await
        .map_err(|e| format!("database error: {e}"))
}

/// Revokes the operator keys named so.
pub async fn revoke_operator_key(db: &DatabaseConnection, name: &str) -> Result<String, String> {
    match app::operator::keys::revoke(db, name).await {
        Ok(0) => Err(format!("no operator key named {name:?} is in use")),
        Ok(n) => Ok(format!("revoked {n} operator key(s) named {name:?}")),
        Err(e) => Err(format!("database error: {e}")),
    }
}
