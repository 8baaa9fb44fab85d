//! Reading the delivery log (server only); shared by the pages and the JSON API.

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

use super::model::{AttemptView, DeliveryDetail, DeliveryPage, DeliveryRow, HourBucket, LogFilter};
use crate::domain::{DeliveryId, WebhookId};
use crate::entities::{attempt, delivery, delivery_stat, event, now_ms, webhook};
use crate::queue::HOUR_MS;

pub fn row(d: delivery::Model) -> DeliveryRow {
    let in_flight = d.in_flight();
    DeliveryRow {
        id: d.id.to_string(),
        next_attempt_at: d.waiting_until(),
        status: d.shown_status(now_ms()).as_str().to_string(),
        deliver_at: d.deliver_at,
        key: d.key,
        sequence: d.sequence,
        event_type: d.event_type,
        attempts: d.attempt_count,
        last_status_code: d.last_status_code,
        last_duration_ms: d.last_duration_ms,
        last_error: d.last_error,
        created_at: d.created_at,
        in_flight,
    }
}

/// One page, newest first: keyset pagination on the (time-ordered) delivery id, so any page
/// costs one index range scan however deep it is.
pub async fn list(
    db: &DatabaseConnection,
    webhook_id: WebhookId,
    filter: &LogFilter,
    limit: u64,
) -> Result<DeliveryPage, DbErr> {
    let mut q = delivery::Entity::find().filter(delivery::Column::WebhookId.eq(webhook_id));
    if let Some(s) = filter
        .status
        .as_deref()
        .and_then(crate::queue::ShownStatus::parse)
    {
        q = q.filter(sea_orm::sea_query::Expr::cust(
            crate::queue::shown_status_sql(s, now_ms()),
        ));
    }
    if let Some(e) = &filter.event {
        q = q.filter(delivery::Column::EventType.eq(e.as_str()));
    }
    if let Some(c) = filter
        .cursor
        .as_deref()
        .and_then(|c| c.parse::<DeliveryId>().ok())
    {
        q = q.filter(delivery::Column::Id.lt(c));
    }
    let mut rows = q
        .order_by_desc(delivery::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(DeliveryPage {
        rows: rows.into_iter().map(row).collect(),
        next_cursor,
    })
}

fn header_pairs(json: Option<&str>) -> Vec<(String, String)> {
    json.and_then(|j| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(j).ok())
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn attempt_view(a: attempt::Model) -> AttemptView {
    AttemptView {
        number: a.number,
        trigger: a.trigger.as_str().to_string(),
        started_at: a.started_at,
        duration_ms: a.duration_ms,
        request_headers: header_pairs(Some(&a.request_headers)),
        response_status: a.response_status,
        response_headers: header_pairs(a.response_headers.as_deref()),
        response_body: a.response_body,
        error_kind: a.error_kind.map(|k| k.as_str().to_string()),
        error_message: a.error_message,
    }
}

/// A delivery of this webhook with its event and every attempt (newest first).
pub async fn detail(
    db: &DatabaseConnection,
    webhook: &webhook::Model,
    id: DeliveryId,
) -> Result<Option<DeliveryDetail>, DbErr> {
    let Some(d) = delivery::Entity::find_by_id(id)
        .filter(delivery::Column::WebhookId.eq(webhook.id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let event_body = event::Entity::find_by_id(d.event_id)
        .one(db)
        .await?
        .map(|e| e.body)
        .unwrap_or_default();
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(id))
        .order_by_desc(attempt::Column::Number)
        .order_by_desc(attempt::Column::Id)
        .all(db)
        .await?;
    // The bytes sent (and signed): the latest attempt's own body when its format gave one, the
    // event's body when it was sent as is; before any attempt, what the webhook's format will
    // send.
    let body_raw = match attempts.first() {
        Some(a) => a.request_body.clone().unwrap_or(event_body),
        None => crate::domain::WebhookFormat::parse(&webhook.format)
            .unwrap_or_default()
            .render(&d.event_type, &event_body),
    };
    let body_pretty = serde_json::from_str::<serde_json::Value>(&body_raw)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| body_raw.clone());
    let attempts = attempts.into_iter().map(attempt_view).collect();
    Ok(Some(DeliveryDetail {
        event_id: d.event_id.to_string(),
        delivery: row(d),
        webhook_id: webhook.id,
        webhook_name: webhook.name.clone(),
        url: webhook.url.clone(),
        body_raw,
        body_pretty,
        attempts,
    }))
}

/// How many of a webhook's deliveries are scheduled for later (shown `scheduled`).
pub async fn scheduled_count(db: &DatabaseConnection, webhook_id: WebhookId) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(delivery::Column::DeliverAt.is_not_null())
        .filter(sea_orm::sea_query::Expr::cust(
            crate::queue::shown_status_sql(crate::queue::ShownStatus::Scheduled, now_ms()),
        ))
        .count(db)
        .await
}

/// The last 24 hours, hour by hour (oldest first, 24 buckets, empty hours included).
pub async fn hourly(
    db: &DatabaseConnection,
    webhook_id: WebhookId,
) -> Result<Vec<HourBucket>, DbErr> {
    let now = now_ms();
    let current = now - now % HOUR_MS;
    let first = current - 23 * HOUR_MS;
    let stats: HashMap<i64, delivery_stat::Model> = delivery_stat::Entity::find()
        .filter(delivery_stat::Column::WebhookId.eq(webhook_id))
        .filter(delivery_stat::Column::HourStart.gte(first))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.hour_start, s))
        .collect();
    Ok((0..24)
        .map(|i| {
            let hour_start = first + i * HOUR_MS;
            let s = stats.get(&hour_start);
            HourBucket {
                hour_start,
                succeeded: s.map_or(0, |s| s.succeeded),
                failed: s.map_or(0, |s| s.failed),
            }
        })
        .collect())
}

/// Succeeded and total finished deliveries over the last 24 hourly buckets, per webhook.
pub async fn totals_24h(
    db: &DatabaseConnection,
    webhook_ids: &[WebhookId],
) -> Result<HashMap<WebhookId, (i64, i64)>, DbErr> {
    if webhook_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let now = now_ms();
    let first = now - now % HOUR_MS - 23 * HOUR_MS;
    let mut out: HashMap<WebhookId, (i64, i64)> = HashMap::new();
    for s in delivery_stat::Entity::find()
        .filter(delivery_stat::Column::WebhookId.is_in(webhook_ids.iter().copied()))
        .filter(delivery_stat::Column::HourStart.gte(first))
        .all(db)
        .await?
    {
        let e = out.entry(s.webhook_id).or_default();
        e.0 += i64::from(s.succeeded);
        e.1 += i64::from(s.succeeded) + i64::from(s.failed);
    }
    Ok(out)
}

/// The newest delivery of a webhook.
pub async fn latest(
    db: &DatabaseConnection,
    webhook_id: WebhookId,
) -> Result<Option<DeliveryRow>, DbErr> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .order_by_desc(delivery::Column::Id)
        .one(db)
        .await?
        .map(row))
}
