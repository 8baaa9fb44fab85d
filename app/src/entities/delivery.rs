use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, DeliveryId, EventId, WebhookId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    /// UUIDv7: unique, time-ordered; sent as `X-Webhook-Delivery-Id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DeliveryId,
    pub event_id: EventId,
    pub webhook_id: WebhookId,
    pub account_id: AccountId,
    pub event_type: String,
    pub status: crate::queue::DeliveryStatus,
    pub attempt_count: i32,
    /// When pending: when the next try is due, or when the current claim's lease ends.
    pub next_attempt_at: Option<i64>,
    /// Set while a worker holds the delivery; its completion must present the same token.
    pub lease_token: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i32>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// The next attempt is a manual redelivery: recorded, never retried automatically.
    pub manual: bool,
    /// A scheduled delivery: when it was due first (`None`: sent as soon as published).
    pub deliver_at: Option<i64>,
    /// The entity the event is about (`X-Webhook-Key`).
    pub key: Option<String>,
    /// Its number among this webhook's deliveries with the same key (`X-Webhook-Sequence`).
    pub sequence: Option<i64>,
    /// The webhook delivers in order per key (a copy of `webhooks.ordered`, kept in step).
    pub ordered: bool,
    /// With `manual`: the next attempt is a bulk replay (recorded with trigger `replay`).
    pub replay: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
