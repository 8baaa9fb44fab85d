//! The exact request a delivery sends (server only): the body in the webhook's format and the
//! headers, signed over exactly those bytes. The dispatcher sends what [`build`] gives, and the
//! edit page's preview shows what it gives, so the preview is the request byte for byte (but
//! for the delivery id and the time, which are each delivery's own).

use super::signing::{seed_signature, standard_signature};
use super::{template, BodyType, SigningSecret, WebhookFormat};
use std::sync::Arc;

pub const USER_AGENT: &str = concat!("SchedulingKit-Webhooks/", env!("CARGO_PKG_VERSION"));

/// How a webhook shapes its bodies: its format and, for `template`, the template and type.
#[derive(Clone, Copy, Debug)]
pub struct BodyShape<'a> {
    pub format: WebhookFormat,
    pub template: Option<&'a str>,
    pub body_type: BodyType,
}

impl<'a> BodyShape<'a> {
    /// From the stored columns (an unknown stored name is `standard` / JSON).
    pub fn stored(format: &str, template: Option<&'a str>, content_type: Option<&str>) -> Self {
        BodyShape {
            format: WebhookFormat::parse(format).unwrap_or_default(),
            template,
            body_type: content_type
                .and_then(|c| BodyType::parse(c).ok())
                .unwrap_or_default(),
        }
    }

    /// The body for an event stored as `body`: `None` for `standard` (the stored text is sent
    /// as it is), else the rendering, or why this event cannot be rendered.
    pub fn render(&self, event_type: &str, body: &str) -> Result<Option<String>, String> {
        match self.format {
            WebhookFormat::Standard => Ok(None),
            WebhookFormat::Template => match self.template {
                Some(source) => {
                    template::render(source, self.body_type, event_type, body).map(Some)
                }
                None => Err("the webhook's format is Template but it has no template".into()),
            },
            chat => Ok(Some(chat.render(event_type, body))),
        }
    }

    /// The `Content-Type` sent.
    pub fn content_type(&self) -> &'static str {
        match self.format {
            WebhookFormat::Template => self.body_type.header(),
            _ => "application/json",
        }
    }
}

/// What one delivery's request is about.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    /// The event as stored (the seed JSON), shared by the deliveries of one event: a standard
    /// webhook's request sends it as it is, without a copy.
    pub stored_body: &'a Arc<str>,
    /// The entity key and the delivery's number among its webhook's deliveries with that key.
    pub key: Option<(&'a str, i64)>,
    /// Seconds since the epoch (`webhook-timestamp`).
    pub timestamp: i64,
}

/// The request's headers (without the custom ones) and body.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub headers: Vec<(&'static str, String)>,
    pub body: Arc<str>,
    /// The body is the format's rendering, not the stored event.
    pub formatted: bool,
    /// Why it must not be sent (a secret that cannot sign, a template that fails on it).
    pub refused: Option<String>,
}

/// Builds the request. During a rotation's overlap `previous` signs too (see the README).
pub fn build(
    shape: &BodyShape<'_>,
    env: &Envelope<'_>,
    current: Result<&SigningSecret, &str>,
    previous: Option<&SigningSecret>,
) -> Outgoing {
    let mut refused = None;
    let rendered = shape
        .render(env.event_type, env.stored_body)
        .unwrap_or_else(|e| {
            refused = Some(e);
            None
        });
    let formatted = rendered.is_some();
    let body: Arc<str> = match rendered {
        Some(r) => r.into(),
        None => env.stored_body.clone(),
    };
    let bytes = body.as_bytes();
    let mut headers: Vec<(&'static str, String)> = vec![
        ("content-type", shape.content_type().to_string()),
        ("user-agent", USER_AGENT.to_string()),
        ("x-webhook-event", env.event_type.to_string()),
        ("x-webhook-delivery-id", env.delivery_id.to_string()),
    ];
    if let Some((key, sequence)) = env.key {
        headers.push(("x-webhook-key", key.to_string()));
        headers.push(("x-webhook-sequence", sequence.to_string()));
    }
    let mut standard = Vec::new();
    match current {
        Ok(secret) => {
            headers.push(("x-webhook-signature", seed_signature(secret, bytes)));
            standard.push(standard_signature(
                secret,
                env.delivery_id,
                env.timestamp,
                bytes,
            ));
        }
        Err(e) => {
            refused.get_or_insert_with(|| format!("the webhook's signing secret is unusable: {e}"));
        }
    }
    if let Some(prev) = previous {
        headers.push(("x-webhook-signature-previous", seed_signature(prev, bytes)));
        standard.push(standard_signature(
            prev,
            env.delivery_id,
            env.timestamp,
            bytes,
        ));
    }
    headers.push(("webhook-id", env.delivery_id.to_string()));
    headers.push(("webhook-timestamp", env.timestamp.to_string()));
    headers.push(("webhook-signature", standard.join(" ")));
    Outgoing {
        headers,
        body,
        formatted,
        refused,
    }
}
