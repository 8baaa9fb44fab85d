//! Which webhooks each event of a batch goes to, read in one query inside the publishing
//! transaction.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;

use super::{PublishRequest, Targets};
use crate::domain::{AccountId, EventSet, WebhookId};
use crate::entities::webhook;

/// A webhook an event goes to, and whether it delivers in order per key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub id: WebhookId,
    pub ordered: bool,
    /// The webhook is paused: the delivery is held until it is re-enabled (issue 15).
    pub held: bool,
    /// The webhook as read (a delivery handed off in process is sent with it).
    pub webhook: Arc<webhook::Model>,
}

/// Per request to write (in `to_write`'s order): the webhooks it goes to, or `None` when it
/// names one webhook that its account does not have. Subscribed targets are the account's
/// webhooks subscribed to the event's type — the paused ones get a held delivery; a named one
/// (Send test event) is taken whatever its subscriptions or state, if it is the account's.
/// A subscribed webhook with a filter gets only the events its filter matches
/// (`domain::filter`; evaluated here, outside any database round trip).
pub(super) async fn resolve(
    txn: &impl ConnectionTrait,
    reqs: &[PublishRequest],
    to_write: &[usize],
) -> Result<Vec<Option<Vec<Target>>>, DbErr> {
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
    let mut subscribed: HashMap<AccountId, Vec<(Target, EventSet, Option<String>)>> =
        HashMap::new();
    let mut by_id: HashMap<WebhookId, Arc<webhook::Model>> = HashMap::new();
    if !accounts.is_empty() || !named.is_empty() {
        let cond = Condition::any()
            .add(webhook::Column::AccountId.is_in(accounts.iter().copied()))
            .add(webhook::Column::Id.is_in(named.iter().copied()));
        let mut find = webhook::Entity::find().filter(cond);
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            // A webhook switched on meanwhile waits for this batch, then releases or discards
            // what the batch held for it (nothing stays held for an active webhook).
            find = find.lock_shared();
        }
        for w in find.all(txn).await? {
            let w = Arc::new(w);
            if named.contains(&w.id) {
                by_id.insert(w.id, w.clone());
            }
            if accounts.binary_search(&w.account_id).is_ok() {
                subscribed.entry(w.account_id).or_default().push((
                    Target {
                        id: w.id,
                        ordered: w.ordered,
                        held: !w.active,
                        webhook: w.clone(),
                    },
                    EventSet::from_stored(&w.events),
                    w.filter.clone(),
                ));
            }
        }
    }
    Ok(to_write
        .iter()
        .map(|&i| {
            let req = &reqs[i];
            match req.targets {
                Targets::Subscribed => Some(
                    subscribed
                        .get(&req.account_id)
                        .map(|hooks| {
                            hooks
                                .iter()
                                .filter(|(_, set, filter)| {
                                    set.contains(req.event_type)
                                        && filter.as_deref().is_none_or(|f| {
                                            crate::domain::filter::matches(
                                                f,
                                                req.event_type.as_str(),
                                                &req.data,
                                            )
                                        })
                                })
                                .map(|(t, _, _)| t.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Targets::Only(id) => match by_id.get(&id) {
                    Some(w) if w.account_id == req.account_id => Some(vec![Target {
                        id,
                        ordered: w.ordered,
                        held: false,
                        webhook: w.clone(),
                    }]),
                    _ => None,
                },
            }
        })
        .collect())
}
