//! Accounts keyed by the product's own id (`external_id`): created or updated idempotently,
//! read, listed in keyset pages, and deleted with everything they own.
//!
//! A provisioned account has one user, its owner, whose password can never match (`!` is no
//! password hash): such an owner logs in only through a one-time link.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr, TransactionTrait,
};

use crate::domain::{AccountId, Email, ExternalId};
use crate::entities::{account, now_ms, user, webhook};
use crate::error::AppError;

/// The stored "hash" of a provisioned owner: not a PHC string, so no password verifies.
pub const NO_PASSWORD: &str = "!";
/// The longest account name.
pub const MAX_NAME_LEN: usize = 200;
/// The most accounts one page of the list holds.
pub const MAX_PAGE: u64 = 200;

/// An account as the operator API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioned {
    pub account_id: AccountId,
    pub external_id: String,
    pub name: String,
    pub owner_email: String,
    pub owner_user_id: crate::domain::UserId,
    pub created_at: i64,
}

/// What a `PUT` asks for. `None`: keep (required when the account is created).
#[derive(Clone, Debug)]
pub struct Provision {
    pub name: Option<String>,
    pub owner_email: Option<Email>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("`owner_email` is required to create an account")]
    OwnerEmailRequired,
    #[error("another account's owner already has this e-mail")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// An account name: trimmed, 1 to [`MAX_NAME_LEN`] visible characters.
pub fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("The account's name is empty.".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!(
            "Use at most {MAX_NAME_LEN} characters for the name."
        ));
    }
    crate::domain::check_visible(name, "name")?;
    Ok(name.to_string())
}

/// Creates the account with its owner, or updates what is given; `true` when created.
/// Idempotent: the same `PUT` twice leaves one account as the first made it.
pub async fn upsert(
    db: &DatabaseConnection,
    external_id: &ExternalId,
    want: &Provision,
) -> Result<(Provisioned, bool), ProvisionError> {
    // Two first `PUT`s at once: the loser's insert breaks the unique external id, and it
    // then finds the winner's account and updates it.
    for _ in 0..2 {
        match upsert_once(db, external_id, want).await {
            Err(ProvisionError::Db(e))
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
                    && find(db, external_id).await?.is_some() =>
            {
                continue
            }
            other => return other,
        }
    }
    upsert_once(db, external_id, want).await
}

async fn upsert_once(
    db: &DatabaseConnection,
    external_id: &ExternalId,
    want: &Provision,
) -> Result<(Provisioned, bool), ProvisionError> {
    let txn = db.begin().await?;
    let found = account::Entity::find()
        .filter(account::Column::ExternalId.eq(external_id.as_str()))
        .one(&txn)
        .await?;
    let now = now_ms();
    let created = found.is_none();
    let acc = match found {
        Some(acc) => match &want.name {
            Some(name) if *name != acc.name => {
                let mut active: account::ActiveModel = acc.into();
                active.name = Set(name.clone());
                active.update(&txn).await?
            }
            _ => acc,
        },
        None => {
            let Some(email) = &want.owner_email else {
                return Err(ProvisionError::OwnerEmailRequired);
            };
            let acc = account::ActiveModel {
                id: Default::default(),
                name: Set(want.name.clone().unwrap_or_else(|| external_id.to_string())),
                created_at: Set(now),
                alert_mail: Set(true),
                alert_hook: Set(true),
                external_id: Set(Some(external_id.to_string())),
            }
            .insert(&txn)
            .await?;
            user::ActiveModel {
                id: Default::default(),
                account_id: Set(acc.id),
                email: Set(email.as_str().to_string()),
                password_hash: Set(NO_PASSWORD.to_string()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(email_taken)?;
            acc
        }
    };
    let owner = owner_of(&txn, acc.id).await?;
    let owner = match (&want.owner_email, created) {
        (Some(email), false) if email.as_str() != owner.email => {
            let mut active: user::ActiveModel = owner.into();
            active.email = Set(email.as_str().to_string());
            active.update(&txn).await.map_err(email_taken)?
        }
        _ => owner,
    };
    txn.commit().await?;
    Ok((shown(acc, owner), created))
}

fn email_taken(e: DbErr) -> ProvisionError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ProvisionError::EmailTaken,
        _ => e.into(),
    }
}

/// The account's owner: its first user.
pub async fn owner_of(
    db: &impl sea_orm::ConnectionTrait,
    account_id: AccountId,
) -> Result<user::Model, DbErr> {
    user::Entity::find()
        .filter(user::Column::AccountId.eq(account_id))
        .order_by_asc(user::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("the owner of account {account_id}")))
}

fn shown(acc: account::Model, owner: user::Model) -> Provisioned {
    Provisioned {
        account_id: acc.id,
        external_id: acc.external_id.unwrap_or_default(),
        name: acc.name,
        owner_email: owner.email,
        owner_user_id: owner.id,
        created_at: acc.created_at,
    }
}

/// The account with this external id, if any.
pub async fn find(
    db: &DatabaseConnection,
    external_id: &ExternalId,
) -> Result<Option<Provisioned>, DbErr> {
    let Some(acc) = account::Entity::find()
        .filter(account::Column::ExternalId.eq(external_id.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let owner = owner_of(db, acc.id).await?;
    Ok(Some(shown(acc, owner)))
}

/// The provisioned accounts in external id order, after `after`, at most `limit`.
pub async fn list(
    db: &DatabaseConnection,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Provisioned>, DbErr> {
    let mut q = account::Entity::find()
        .filter(account::Column::ExternalId.is_not_null())
        .order_by_asc(account::Column::ExternalId)
        .limit(limit.min(MAX_PAGE));
    if let Some(after) = after {
        q = q.filter(account::Column::ExternalId.gt(after));
    }
    let accounts = q.all(db).await?;
    let ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    let mut owners = std::collections::HashMap::new();
    for u in user::Entity::find()
        .filter(user::Column::AccountId.is_in(ids))
        .order_by_desc(user::Column::Id)
        .all(db)
        .await?
    {
        // Descending: the first (lowest id) user of each account is inserted last and wins.
        owners.insert(u.account_id, u);
    }
    Ok(accounts
        .into_iter()
        .filter_map(|a| {
            let owner = owners.remove(&a.id)?;
            Some(shown(a, owner))
        })
        .collect())
}

/// Deletes an account and all it owns. Its webhooks go first, one at a time, each the way an
/// owner's delete takes it (the delivery rows, then the webhook, in the order the dispatcher's
/// recorder takes them), so that a large account's delete never holds the queue for the
/// others; deliveries of it in flight end cleanly (their outcome finds no row). Then its events,
/// in small batches as retention deletes them, and last the account row, whose users, keys,
/// links and alerts go with it (foreign keys cascade).
pub async fn delete(
    db: &DatabaseConnection,
    gate: &crate::queue::WriteGate,
    account_id: AccountId,
) -> Result<(), AppError> {
    for hook in webhook::Entity::secure_find(account_id).all(db).await? {
        crate::webhooks::ssr::delete(db, hook).await?;
    }
    crate::queue::retention::delete_account_events(db, gate, account_id).await?;
    // A webhook or event created meanwhile (by a page still open) goes with the account
    // (cascade).
    crate::storage::retry_conflicts("delete an account", || async {
        account::Entity::delete_by_id(account_id)
            .exec(db)
            .await
            .map(|_| ())
    })
    .await?;
    Ok(())
}

/// The accounts of these external ids (those that exist), in one query.
pub async fn ids_of(
    db: &DatabaseConnection,
    external_ids: &[&str],
) -> Result<std::collections::HashMap<String, AccountId>, DbErr> {
    if external_ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(account::Entity::find()
        .filter(account::Column::ExternalId.is_in(external_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|a| Some((a.external_id?, a.id)))
        .collect())
}
