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

/// Password hashing is bounded to as many hashes at once as the machine has cores: each
/// argon2id hash holds 19 MiB while it runs, so 150 simultaneous sign-ups or log-ins would
/// otherwise take gigabytes. Requests beyond that wait their turn (holding no memory).
fn hashing_gate() -> &'static tokio::sync::Semaphore {
    static GATE: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    GATE.get_or_init(|| tokio::sync::Semaphore::new(hashing_slots()))
}

/// How many password hashes may run at once: the machine's parallelism.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `work` (a password hash or check) on the blocking pool once a hashing slot is free.
pub async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let _slot = hashing_gate()
        .acquire()
        .await
        .expect("the hashing gate is never closed");
    tokio::task::spawn_blocking(work).await.ok()
}

/// Hashes with argon2id (the crate's defaults: 19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: &Password) -> String {
    let password = password.expose().to_string();
    with_hashing_slot(move || {
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
    with_hashing_slot(move || {
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
        alert_mail: Set(true),
        alert_hook: Set(true),
        external_id: Set(None),
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
        back: None,
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
            back: None,
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
    // A password log-in is no link's session (no return link, no embedding).
    session
        .remove_value(crate::operator::portal::LINK_SESSION_KEY)
        .await?;
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
    let Some(user_id) = session.get::<crate::domain::UserId>(USER_ID_KEY).await? else {
        return Ok(None);
    };
    let state = crate::state::app_state()?;
    let link = session
        .get::<crate::operator::portal::LinkSession>(crate::operator::portal::LINK_SESSION_KEY)
        .await?;
    let back = link
        .and_then(|l| l.return_url)
        .map(|url| (url, state.portal.product_name.clone()));
    Ok(user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .map(|u| CurrentUser {
            id: u.id,
            account_id: u.account_id,
            email: u.email,
            back,
        }))
}

/// Refuses sign-up and password log-in where they are switched off (`SKW_PASSWORD_LOGIN=off`).
pub fn password_login_allowed(state: &crate::state::AppState) -> Result<(), AppError> {
    if state.portal.password_login {
        return Ok(());
    }
    Err(AppError::Invalid(crate::domain::FieldErrors::form(
        format!(
        "Sign-up and password log-in are switched off here: open your webhook settings from {}.",
        state.portal.product_name
    ),
    )))
}

/// The logged-in user, or `Unauthorized`.
pub async fn require_user() -> Result<CurrentUser, AppError> {
    optional_user().await?.ok_or(AppError::Unauthorized)
}

/// The client's address: the TCP peer's (the server runs with connection info), or what the
/// operator's trusted proxy header says (`--trusted-proxy-header`).
pub async fn client_ip() -> Option<std::net::IpAddr> {
    use axum::extract::ConnectInfo;
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let policy = crate::state::app_state()
        .map(|s| s.client_addr)
        .unwrap_or_default();
    policy.client_ip(&parts.headers, peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..hashing_slots() * 4 + 3)
            .map(|_| {
                let (now, peak) = (now.clone(), peak.clone());
                tokio::spawn(with_hashing_slot(move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    // Long enough that unbounded tasks would overlap.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak >= 1 && peak <= hashing_slots(), "peak {peak}");
    }

    #[tokio::test]
    async fn hashes_verify() {
        let p = Password::parse("correct horse battery").unwrap();
        let h = hash_password(&p).await;
        assert!(verify_password("correct horse battery", &h).await);
        assert!(!verify_password("wrong horse battery", &h).await);
    }
}
