//! Sample events for no-code tools (Zapier's "perform list", Make's sample data): an account's
//! last real events of a type, in the shape they are delivered, or the catalog's example.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use crate::domain::{catalog, AccountId, EventType};
use crate::entities::event;

/// How many samples are given.
pub const SAMPLES: usize = 3;
/// How many of the newest events are looked through (test events are skipped).
const LOOK_BACK: u64 = 50;

/// The account's last [`SAMPLES`] events of type `t` (newest first) as delivered in the
/// standard format, leaving out test sends (`"test": true`); the catalog's example when there
/// are none.
pub async fn samples(
    db: &DatabaseConnection,
    account_id: AccountId,
    t: EventType,
) -> Result<Vec<Value>, sea_orm::DbErr> {
    let rows: Vec<String> = event::Entity::find()
        .select_only()
        .column(event::Column::Body)
        .filter(event::Column::AccountId.eq(account_id))
        .filter(event::Column::EventType.eq(t.as_str()))
        .order_by_desc(event::Column::CreatedAt)
        .limit(LOOK_BACK)
        .into_tuple()
        .all(db)
        .await?;
    let found: Vec<Value> = rows
        .iter()
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .filter(|v| v["data"]["test"] != Value::Bool(true))
        .take(SAMPLES)
        .collect();
    Ok(if found.is_empty() {
        vec![catalog::example_event(t)]
    } else {
        found
    })
}
