use sea_orm::entity::prelude::*;

use crate::domain::{DeliveryId, WebhookId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: DeliveryId,
    pub webhook_id: WebhookId,
    /// 1 for the first try of a delivery.
    pub number: i32,
    /// `auto` (the dispatcher) or `manual` (a redelivery asked by the owner).
    pub trigger: crate::queue::AttemptTrigger,
    pub started_at: i64,
    pub duration_ms: i32,
    /// JSON object of the request headers sent.
    pub request_headers: String,
    /// The exact body sent when it differs from the event's (a chat format); see migration 9.
    pub request_body: Option<String>,
    pub response_status: Option<i32>,
    /// JSON object of the response headers received.
    pub response_headers: Option<String>,
    /// At most the first 16 KiB of the response body, as text.
    pub response_body: Option<String>,
    /// `timeout`, `connect`, `dns`, `tls`, `redirect`, `status`, `blocked` or `io`.
    pub error_kind: Option<crate::queue::AttemptErrorKind>,
    pub error_message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
