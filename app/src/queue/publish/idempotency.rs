//! Idempotency keys: a key used again within [`IDEMPOTENCY_WINDOW_MS`] answers with the first
//! publish's answer (or a refusal when the event differs); an older one is free again.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;
use std::collections::HashMap;

use super::validate::Plan;
use super::{Answer, PublishError, PublishRequest, Published, IDEMPOTENCY_WINDOW_MS};
use crate::domain::{AccountId, EventId};
use crate::entities::event;

/// Answers the requests of `plan` whose key was used within the window (they leave
/// `plan.to_write`), and frees the keys of older events for the others. One query for every
/// key of the batch, one update for the expired ones; run inside the publishing transaction.
pub(super) async fn settle(
    txn: &impl ConnectionTrait,
    reqs: &[PublishRequest],
    plan: &mut Plan<'_>,
    answers: &mut [Answer],
    now: i64,
) -> Result<(), DbErr> {
    if plan.keys.is_empty() {
        return Ok(());
    }
    let earlier = earlier_events(txn, plan.keys.values().copied()).await?;
    let mut expired: Vec<EventId> = Vec::new();
    plan.to_write.retain(|&i| {
        let Some(e) = plan.keys.get(&i).and_then(|k| earlier.get(k)) else {
            return true;
        };
        if e.created_at > now - IDEMPOTENCY_WINDOW_MS {
            answers[i] = Some(replay_of(e, &reqs[i]));
            false
        } else {
            expired.push(e.id);
            true
        }
    });
    if !expired.is_empty() {
        event::Entity::update_many()
            .col_expr(
                event::Column::IdempotencyKey,
                Expr::value(Option::<String>::None),
            )
            .filter(event::Column::Id.is_in(expired))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The stored events that hold any of these keys, by (account, key).
async fn earlier_events<'k>(
    db: &impl ConnectionTrait,
    keys: impl Iterator<Item = (AccountId, &'k str)>,
) -> Result<HashMap<(AccountId, &'k str), event::Model>, DbErr> {
    // key -> the accounts of the batch that use it
    let mut by_key: HashMap<&'k str, Vec<AccountId>> = HashMap::new();
    for (account, key) in keys {
        by_key.entry(key).or_default().push(account);
    }
    let mut accounts: Vec<AccountId> = by_key.values().flatten().copied().collect();
    accounts.sort_unstable();
    accounts.dedup();
    let mut found = HashMap::with_capacity(accounts.len());
    for e in event::Entity::find()
        .filter(event::Column::AccountId.is_in(accounts))
        .filter(event::Column::IdempotencyKey.is_in(by_key.keys().copied()))
        .all(db)
        .await?
    {
        // The query may match a key that the batch uses for another account.
        let Some((&key, users)) = e
            .idempotency_key
            .as_deref()
            .and_then(|stored| by_key.get_key_value(stored))
        else {
            continue;
        };
        if users.contains(&e.account_id) {
            found.insert((e.account_id, key), e);
        }
    }
    Ok(found)
}

/// The event that holds this account's key, if any.
pub(super) async fn find_by_key(
    db: &impl ConnectionTrait,
    account_id: AccountId,
    key: &str,
) -> Result<Option<event::Model>, DbErr> {
    event::Entity::secure_find(account_id)
        .filter(event::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// The answer to a repeat of an earlier event's idempotency key: the first answer when the
/// request is the same (type and data), a refusal when the key is reused for another event.
pub(super) fn replay_of(
    earlier: &event::Model,
    req: &PublishRequest,
) -> Result<Published, PublishError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        event: String,
        data: Value,
    }
    let same = serde_json::from_str::<Stored>(&earlier.body)
        .is_ok_and(|s| s.event == req.event_type.as_str() && s.data == req.data)
        && earlier.deliver_at == req.deliver_at
        && earlier.key.as_deref() == req.effective_key().as_ref().map(|k| k.as_str());
    if !same {
        return Err(PublishError::IdempotencyKeyReused);
    }
    Ok(Published {
        event_id: earlier.id,
        deliveries: earlier.delivery_count,
        delivery_ids: Vec::new(),
        replayed: true,
    })
}

/// Answers the repeats of an idempotency key inside one batch with their first's answer.
pub(super) fn fill_repeats(answers: &mut [Answer], repeats: &[(usize, usize)]) {
    for &(i, first) in repeats {
        answers[i] = Some(match &answers[first] {
            Some(Ok(p)) => Ok(Published {
                delivery_ids: Vec::new(),
                replayed: true,
                ..p.clone()
            }),
            Some(Err(PublishError::IdempotencyKeyReused)) => {
                Err(PublishError::IdempotencyKeyReused)
            }
            _ => Err(PublishError::Unavailable),
        });
    }
}
