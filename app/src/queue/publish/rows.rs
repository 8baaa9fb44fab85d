//! The rows a publish writes: one event per request, one pending delivery per target, inserted
//! in statements of a few bounded shapes.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Serialize;
use serde_json::Value;

use super::{PublishRequest, Published};
use crate::domain::{DeliveryId, EventId, WebhookId};
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
    deliveries: Vec<delivery::ActiveModel>,
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
            written: Vec::new(),
        }
    }

    /// Adds request `i`'s event and one delivery per target, all due now.
    pub fn add(&mut self, i: usize, req: &PublishRequest, targets: &[WebhookId]) {
        let now = self.now;
        let event_id = EventId::new();
        let body = serde_json::to_string(&Body {
            event: req.event_type.as_str(),
            timestamp: self.timestamp.clone(),
            data: &req.data,
        })
        .expect("a JSON value always serializes");
        self.events.push(event::ActiveModel {
            id: Set(event_id),
            account_id: Set(req.account_id),
            event_type: Set(req.event_type.as_str().to_string()),
            body: Set(body),
            idempotency_key: Set(req.idempotency_key.clone()),
            delivery_count: Set(targets.len() as i32),
            created_at: Set(now),
        });
        let mut ids = Vec::with_capacity(targets.len());
        for &webhook_id in targets {
            let id = DeliveryId::new();
            ids.push(id);
            self.deliveries.push(delivery::ActiveModel {
                id: Set(id),
                event_id: Set(event_id),
                webhook_id: Set(webhook_id),
                account_id: Set(req.account_id),
                event_type: Set(req.event_type.as_str().to_string()),
                status: Set(DeliveryStatus::Pending),
                attempt_count: Set(0),
                next_attempt_at: Set(Some(now)),
                lease_token: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                last_duration_ms: Set(None),
                created_at: Set(now),
                completed_at: Set(None),
                manual: Set(false),
            });
        }
        self.written.push((
            i,
            Published {
                event_id,
                deliveries: ids.len() as i32,
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
