//! Password hashing, account creation and the session (server only).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, SqlErr, TransactionTrait,
};
use tower_sessions::Session;

use super::CurrentUser;
use crate::domain::{Email, Password};
use crate::entities::{account, now_ms, user};
use crate::error::AppError;

/// The session key holding the logged-in user's id.
pub const USER_ID_KEY: &str = "uid";

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("an account with this e-mail already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Hashes with argon2id (the crate's defaults: 19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: &Password) -> String {
    let password = password.expose().to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing with default parameters cannot fail")
            .to_string()
    })
    .await
    .expect("the hashing task panicked")
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Creates an account with its first user.
pub async fn create_account(
    db: &DatabaseConnection,
    email: &Email,
    password: &Password,
) -> Result<CurrentUser, CreateAccountError> {
    let hash = hash_password(password).await;
    let now = now_ms();
    let txn = db.begin().await?;
    let acc = account::Entity::insert(account::ActiveModel {
        id: Default::default(),
        name: Set(email.as_str().to_string()),
        created_at: Set(now),
    })
    .exec(&txn)
    .await?;
    let inserted = user::Entity::insert(user::ActiveModel {
        id: Default::default(),
        account_id: Set(acc.last_insert_id),
        email: Set(email.as_str().to_string()),
        password_hash: Set(hash),
        created_at: Set(now),
    })
    .exec(&txn)
    .await;
    let user_id = match inserted {
        Ok(r) => r.last_insert_id,
        Err(e) => {
            txn.rollback().await?;
            return Err(match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => CreateAccountError::EmailTaken,
                _ => e.into(),
            });
        }
    };
    txn.commit().await?;
    Ok(CurrentUser {
        id: user_id,
        account_id: acc.last_insert_id,
        email: email.as_str().to_string(),
    })
}

/// Checks an e-mail and password. Unknown e-mails cost the same hashing time as wrong passwords,
/// so response times do not reveal which e-mails have accounts.
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<Option<CurrentUser>, DbErr> {
    let email = email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?;
    match found {
        Some(u) if verify_password(password, &u.password_hash).await => Ok(Some(CurrentUser {
            id: u.id,
            account_id: u.account_id,
            email: u.email,
        })),
        Some(_) => Ok(None),
        None => {
            verify_password(password, DUMMY_HASH).await;
            Ok(None)
        }
    }
}

/// An argon2id hash of a random string, verified against when the e-mail is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "session layer missing");
        AppError::Internal
    })
}

/// Logs the user in: a new session id (no fixation), holding the user's id.
pub async fn start_session(user: &CurrentUser) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, user.id).await?;
    Ok(())
}

pub async fn end_session() -> Result<(), AppError> {
    session().await?.flush().await?;
    Ok(())
}

/// The logged-in user, if any.
pub async fn optional_user() -> Result<Option<CurrentUser>, AppError> {
    let session = session().await?;
    let Some(user_id) = session.get::<i64>(USER_ID_KEY).await? else {
        return Ok(None);
    };
    let db = crate::state::app_state()?.db;
    Ok(user::Entity::find_by_id(user_id)
        .one(&db)
        .await?
        .map(|u| CurrentUser {
            id: u.id,
            account_id: u.account_id,
            email: u.email,
        }))
}

/// The logged-in user, or `Unauthorized`.
pub async fn require_user() -> Result<CurrentUser, AppError> {
    optional_user().await?.ok_or(AppError::Unauthorized)
}

/// The client's address, when the server was started with connection info.
pub async fn client_ip() -> Option<std::net::IpAddr> {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|c| c.0.ip())
}
