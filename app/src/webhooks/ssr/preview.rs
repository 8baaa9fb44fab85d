//! The edit page's request preview: what the webhook would be sent for a chosen event, built by
//! the same code as the dispatcher's requests (`domain::outgoing`).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::outgoing::{self, BodyShape, Envelope};
use crate::domain::{catalog, DeliveryId, EventId, EventSet, EventType, SigningSecret};
use crate::entities::{event, now_ms, webhook};
use crate::error::AppError;
use crate::secrets::SecretBox;
use crate::webhooks::model::{PreviewSource, RequestPreview};

/// How many of the account's recent events (of the webhook's types) can be previewed.
pub const PREVIEW_EVENTS: u64 = 10;

/// The preview of `source` (`example:<type>` or `event:<id>`; empty or unknown: the first
/// subscribed type's example).
pub async fn preview(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    model: &webhook::Model,
    source: &str,
) -> Result<RequestPreview, AppError> {
    let types = EventSet::from_stored(&model.events);
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let recent = event::Entity::find()
        .filter(event::Column::AccountId.eq(model.account_id))
        .filter(event::Column::EventType.is_in(names))
        .order_by_desc(event::Column::CreatedAt)
        .limit(PREVIEW_EVENTS)
        .all(db)
        .await?;
    let mut sources: Vec<PreviewSource> = types
        .iter()
        .chain([EventType::WebhookTest])
        .map(|t| PreviewSource {
            value: format!("example:{t}"),
            label: format!("Example {t}"),
        })
        .collect();
    sources.extend(recent.iter().map(|e| {
        let data = e.data();
        PreviewSource {
            value: format!("event:{}", e.id),
            label: format!(
                "{} {} — {}",
                e.event_type,
                chrono::DateTime::from_timestamp_millis(e.created_at)
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
                crate::domain::Message::from_data(&e.event_type, &data, None).summary
            ),
        }
    }));

    // The event: one of this account's (looked up by id within the account), or an example.
    let chosen = match source.split_once(':') {
        Some(("event", id)) => match id.parse::<EventId>() {
            Ok(id) => event::Entity::find_by_id(id)
                .filter(event::Column::AccountId.eq(model.account_id))
                .one(db)
                .await?
                .map(|e| (format!("event:{}", e.id), e.event_type, e.body)),
            Err(_) => None,
        },
        Some(("example", t)) => EventType::parse(t).ok().map(|t| {
            (
                format!("example:{t}"),
                t.as_str().to_string(),
                catalog::example_event(t).to_string(),
            )
        }),
        _ => None,
    };
    let (source, event_type, body) = chosen.unwrap_or_else(|| {
        let t = types.iter().next().unwrap_or(EventType::WebhookTest);
        (
            format!("example:{t}"),
            t.as_str().to_string(),
            catalog::example_event(t).to_string(),
        )
    });

    let now = now_ms();
    let current = super::secret_of(secrets, model)
        .and_then(|s| SigningSecret::parse(&s).map_err(|_| AppError::Internal));
    let previous = secrets.open_previous_secret(
        model.previous_secret.as_deref(),
        model.previous_secret_expires_at,
        now,
    );
    let shape = BodyShape::stored(
        &model.format,
        model.template.as_deref(),
        model.content_type.as_deref(),
    );
    let delivery_id = DeliveryId::new().to_string();
    let out = outgoing::build(
        &shape,
        &Envelope {
            delivery_id: &delivery_id,
            event_type: &event_type,
            stored_body: &std::sync::Arc::from(body.as_str()),
            key: None,
            timestamp: now / 1000,
        },
        current.as_ref().map_err(|_| "it does not open"),
        previous.as_ref(),
    );
    let mut headers: Vec<(String, String)> = out
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    headers.extend(
        model
            .header_names()
            .into_iter()
            // As on the wire: HTTP/1.1 header names go out in lower case.
            .map(|n| {
                (
                    n.to_ascii_lowercase(),
                    crate::domain::custom_headers::MASK.to_string(),
                )
            }),
    );
    let data = event::data_of(&body);
    let filtered_out = event_type != EventType::WebhookTest.as_str()
        && model
            .filter
            .as_deref()
            .is_some_and(|f| !crate::domain::filter::matches(f, &event_type, &data));
    let note = match out.refused {
        Some(reason) => Some(format!("This event would not be sent: {reason}.")),
        None if filtered_out => {
            Some("The filter leaves this event out: no delivery would be made for it.".into())
        }
        None => None,
    };
    Ok(RequestPreview {
        sources,
        source,
        headers,
        body: out.body.to_string(),
        note,
    })
}
