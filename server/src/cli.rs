//! The scripted-setup commands: `account create` and `api-key create`.

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
