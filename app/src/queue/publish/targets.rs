//! Which webhooks each event of a batch goes to, read in one query inside the publishing
//! transaction.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;

use super::{PublishRequest, Targets};
use crate::domain::{AccountId, EventSet, WebhookId};
use crate::entities::webhook;

/// Per request to write (in `to_write`'s order): the webhooks it goes to, or `None` when it
/// names one webhook that its account does not have. Subscribed targets are the account's
/// active webhooks subscribed to the event's type; a named one (Send test event) is taken
/// whatever its subscriptions or state, if it is the account's.
pub(super) async fn resolve(
    txn: &impl ConnectionTrait,
    reqs: &[PublishRequest],
    to_write: &[usize],
) -> Result<Vec<Option<Vec<WebhookId>>>, DbErr> {
    let mut accounts: Vec<AccountId> = Vec::new();
    let mut named: Vec<WebhookId> = Vec::new();
    for &i in to_write {
        match reqs[i].targets {
            Targets::Subscribed => accounts.push(reqs[i].account_id),
            Targets::Only(id) => named.push(id),
        }
    }
    accounts.sort_unstable();
    accounts.dedup();
    let mut active: HashMap<AccountId, Vec<(WebhookId, EventSet)>> = HashMap::new();
    let mut by_id: HashMap<WebhookId, AccountId> = HashMap::new();
    if !accounts.is_empty() || !named.is_empty() {
        let cond = Condition::any()
            .add(
                Condition::all()
                    .add(webhook::Column::AccountId.is_in(accounts.iter().copied()))
                    .add(webhook::Column::Active.eq(true)),
            )
            .add(webhook::Column::Id.is_in(named.iter().copied()));
        for w in webhook::Entity::find().filter(cond).all(txn).await? {
            if named.contains(&w.id) {
                by_id.insert(w.id, w.account_id);
            }
            if w.active && accounts.binary_search(&w.account_id).is_ok() {
                active
                    .entry(w.account_id)
                    .or_default()
                    .push((w.id, EventSet::from_stored(&w.events)));
            }
        }
    }
    Ok(to_write
        .iter()
        .map(|&i| {
            let req = &reqs[i];
            match req.targets {
                Targets::Subscribed => Some(
                    active
                        .get(&req.account_id)
                        .map(|hooks| {
                            hooks
                                .iter()
                                .filter(|(_, set)| set.contains(req.event_type))
                                .map(|(id, _)| *id)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Targets::Only(id) => (by_id.get(&id) == Some(&req.account_id)).then(|| vec![id]),
            }
        })
        .collect())
}
