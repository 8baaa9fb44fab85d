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
