//! The rows a publish writes: one event per request, one delivery per target — pending (due
//! now, or at the event's `deliver_at`), or held for a paused webhook — inserted in statements
//! of a few bounded shapes.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Serialize;
use serde_json::Value;

use super::targets::Target;
use super::{PublishRequest, Published};
use crate::domain::{DeliveryId, EventId, EventKey, WebhookId};
use crate::entities::{delivery, event};
use crate::queue::sql::pow2_chunks;
use crate::queue::DeliveryStatus;

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
        if !self.deliveries.is_empty() {
            crate::queue::notify::announce(txn).await?;
        }
        Ok(())
    }
}
