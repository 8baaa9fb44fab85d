use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, EventId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: EventId,
    pub account_id: AccountId,
    pub event_type: String,
    /// The exact JSON body POSTed to every receiver: `{"event","timestamp","data"}`.
    pub body: String,
    pub idempotency_key: Option<String>,
    pub delivery_count: i32,
    pub created_at: i64,
    /// A scheduled event: when its deliveries are due.
    pub deliver_at: Option<i64>,
    /// The entity the event is about, e.g. `booking-123`.
    pub key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The event's `data` (what filters and templates see); `null` for a body that is not the
    /// seed's JSON.
    pub fn data(&self) -> serde_json::Value {
        data_of(&self.body)
    }
}

/// The `data` of an event stored as `body` (the seed JSON); `null` for a body that is not.
pub fn data_of(body: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .unwrap_or_default()
}
