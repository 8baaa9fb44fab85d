use sea_orm::entity::prelude::*;

use crate::domain::WebhookId;

/// Finished deliveries of one webhook in one hour, by outcome (for the 24-hour rate and chart).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: WebhookId,
    /// The hour's start, in ms since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour_start: i64,
    pub succeeded: i32,
    pub failed: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
