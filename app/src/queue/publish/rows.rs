//! The rows a publish writes: one event per request, one delivery per target — pending (due
//! now, or at the event's `deliver_at`), or held for a paused webhook — inserted in statements
//! of a few bounded shapes.

use sea_orm::{ActiveValue, ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

use super::targets::Target;
use super::{PublishRequest, Published};
use crate::domain::{DeliveryId, EventId, EventKey, WebhookId};
use crate::entities::{delivery, event, webhook};
use crate::queue::lifecycle::handoff::{self, Handed, Handoff, Reservation};
use crate::queue::sql::pow2_chunks;
use crate::queue::{DeliveryStatus, Job};

/// The JSON every receiver gets: `{"event","timestamp","data"}`.
#[derive(Serialize)]
struct Body<'a> {
    event: &'a str,
    timestamp: String,
    data: &'a Value,
}

/// A batch's new rows, and each written request's answer.
pub(super) struct Rows {
    /// When the batch is written (ms since the epoch), and the same as the body's `timestamp`.
    now: i64,
    timestamp: String,
    events: Vec<event::ActiveModel>,
    pub(super) deliveries: Vec<delivery::ActiveModel>,
    /// The deliveries that carry a key, to be numbered (index into `deliveries`, webhook, key).
    pub(super) keyed: Vec<(usize, WebhookId, String)>,
    /// The events that carry a key: (index into the batch, event, key).
    pub(super) keyed_events: Vec<(usize, EventId, EventKey)>,
    /// (index into the batch, its answer once committed)
    pub written: Vec<(usize, Published)>,
    /// Per delivery: its webhook, its event (index into `events`), and whether it may be
    /// handed off (due now, not held, not an ordered webhook's keyed delivery).
    meta: Vec<RowMeta>,
    /// How many deliveries a dispatcher has to claim (waiting: pending and not handed off).
    pub(super) waiting: usize,
}

struct RowMeta {
    webhook: Arc<webhook::Model>,
    event: usize,
    handable: bool,
}

/// The deliveries of a batch leased to this process's dispatcher (indices into the rows),
/// with their slots, and the lease's token.
pub(super) struct HandedOff {
    token: i64,
    rows: Vec<(usize, Reservation)>,
}

impl Rows {
    /// No rows yet, for a batch written at `now`.
    pub fn new(now: i64) -> Rows {
        Rows {
            now,
            timestamp: chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            events: Vec::new(),
            deliveries: Vec::new(),
            keyed: Vec::new(),
            keyed_events: Vec::new(),
            written: Vec::new(),
            meta: Vec::new(),
            waiting: 0,
        }
    }

    /// Adds request `i`'s event and one delivery per target, due now (or at its
    /// `deliver_at`, when that is still ahead).
    pub fn add(&mut self, i: usize, req: &PublishRequest, targets: &[Target]) {
        let now = self.now;
        let event_id = EventId::new();
        let scheduled = req.deliver_at.filter(|&t| t > now);
        // A scheduled event's `timestamp` is its time.
        let timestamp = match scheduled {
            Some(at) => chrono::DateTime::from_timestamp_millis(at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => self.timestamp.clone(),
        };
        let body = serde_json::to_string(&Body {
            event: req.event_type.as_str(),
            timestamp,
            data: &req.data,
        })
        .expect("a JSON value always serializes");
        let key = req.effective_key();
        self.events.push(event::ActiveModel {
            id: Set(event_id),
            account_id: Set(req.account_id),
            event_type: Set(req.event_type.as_str().to_string()),
            body: Set(body),
            idempotency_key: Set(req.idempotency_key.clone()),
            delivery_count: Set(targets.len() as i32),
            created_at: Set(now),
            deliver_at: Set(req.deliver_at),
            key: Set(key.as_ref().map(|k| k.as_str().to_string())),
        });
        let mut ids = Vec::with_capacity(targets.len());
        let mut sent = 0;
        for target in targets {
            let id = DeliveryId::new();
            ids.push(id);
            if let Some(k) = &key {
                self.keyed
                    .push((self.deliveries.len(), target.id, k.as_str().to_string()));
            }
            self.meta.push(RowMeta {
                webhook: target.webhook.clone(),
                event: self.events.len() - 1,
                handable: !target.held && scheduled.is_none() && !(target.ordered && key.is_some()),
            });
            self.waiting += usize::from(!target.held);
            self.deliveries.push(delivery::ActiveModel {
                id: Set(id),
                event_id: Set(event_id),
                webhook_id: Set(target.id),
                account_id: Set(req.account_id),
                event_type: Set(req.event_type.as_str().to_string()),
                status: Set(if target.held {
                    DeliveryStatus::Held
                } else {
                    DeliveryStatus::Pending
                }),
                attempt_count: Set(0),
                // Held: no due time until its webhook is re-enabled with "send".
                next_attempt_at: Set((!target.held).then_some(scheduled.unwrap_or(now))),
                lease_token: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                last_duration_ms: Set(None),
                created_at: Set(now),
                completed_at: Set(None),
                manual: Set(false),
                deliver_at: Set(scheduled),
                key: Set(key.as_ref().map(|k| k.as_str().to_string())),
                sequence: Set(None),
                ordered: Set(target.ordered),
                replay: Set(false),
            });
            sent += usize::from(!target.held);
        }
        if let Some(k) = key {
            self.keyed_events.push((i, event_id, k));
        }
        self.written.push((
            i,
            Published {
                event_id,
                // Held deliveries are kept, not (yet) delivered.
                deliveries: sent as i32,
                delivery_ids: ids,
                replayed: false,
            },
        ));
    }

    /// Leases to this process's dispatcher the deliveries it can start at once (see
    /// [`handoff`]): their rows are written in flight, and [`Rows::jobs`] gives their jobs once
    /// committed.
    pub fn hand_off(&mut self, to: &Handoff) -> HandedOff {
        let token = handoff::new_token();
        let mut rows = Vec::new();
        for (i, meta) in self.meta.iter().enumerate() {
            if !meta.handable {
                continue;
            }
            let Some(slot) = to.reserve(meta.webhook.id) else {
                continue;
            };
            let row = &mut self.deliveries[i];
            row.lease_token = Set(Some(token));
            row.next_attempt_at = Set(Some(to.lease_until(self.now, &meta.webhook)));
            rows.push((i, slot));
        }
        self.waiting -= rows.len();
        HandedOff { token, rows }
    }

    /// The jobs of the deliveries handed off, once their rows are committed. The jobs of one
    /// event share one copy of its body.
    pub fn jobs(&self, handed: HandedOff) -> Vec<(Job, Reservation)> {
        fn value<V: Into<sea_orm::Value>>(v: &ActiveValue<V>) -> &V {
            match v {
                ActiveValue::Set(v) | ActiveValue::Unchanged(v) => v,
                ActiveValue::NotSet => unreachable!("every column of a new row is set"),
            }
        }
        let mut bodies: Vec<Option<Arc<str>>> = vec![None; self.events.len()];
        handed
            .rows
            .into_iter()
            .map(|(i, slot)| {
                let row = &self.deliveries[i];
                let meta = &self.meta[i];
                let event = &self.events[meta.event];
                let body = bodies[meta.event]
                    .get_or_insert_with(|| Arc::from(value(&event.body).as_str()));
                let job = Handed {
                    delivery_id: *value(&row.id),
                    token: handed.token,
                    event_type: value(&event.event_type).as_str(),
                    body,
                    event_created_at: self.now,
                    key: value(&row.key).as_deref(),
                    sequence: *value(&row.sequence),
                    webhook: &meta.webhook,
                }
                .job();
                (job, slot)
            })
            .collect()
    }

    /// Inserts the rows (and tells other instances there is work, when there is).
    pub async fn insert(&self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        // Bounded statements of a few shapes (SQLite takes at most 32 766 bound values, and
        // reuses a prepared statement only for the same text).
        for chunk in pow2_chunks(&self.events, 256) {
            event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
        for chunk in pow2_chunks(&self.deliveries, 128) {
            delivery::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
        if self.waiting > 0 {
            crate::queue::notify::announce(txn).await?;
        }
        Ok(())
    }
}
