//! A webhook's **format**: the shape of the body it is sent. `standard` is the seed contract's
//! `{"event","timestamp","data"}` JSON, byte for byte as published; the chat formats turn the
//! same event into a message Slack, Discord or Microsoft Teams shows as it is (they refuse
//! anything else: Slack answers `400 no_text`).
//!
//! Rendering is a pure function of the format, the event type and the stored body, so every
//! attempt of a delivery sends the same bytes and the signatures cover exactly those bytes.

// The rendering is server-only (the dispatcher and the log); the browser needs only the names
// and the URL detection of the form.
#[cfg(feature = "ssr")]
mod chat;
#[cfg(feature = "ssr")]
mod message;

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(feature = "ssr")]
pub use message::Message;

/// How a webhook's requests are shaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The seed's JSON, unchanged.
    #[default]
    Standard,
    /// A Slack incoming webhook: `{"text", "blocks"}`.
    Slack,
    /// A Discord channel webhook: `{"content", "embeds"}`.
    Discord,
    /// A Microsoft Teams Workflows (or Power Automate) webhook: a message with an adaptive card.
    Teams,
    /// The owner's own body (`domain::template`), with a Content-Type of their choice.
    Template,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 5] = [
        WebhookFormat::Standard,
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Teams,
        WebhookFormat::Template,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "standard",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Teams => "teams",
            WebhookFormat::Template => "template",
        }
    }

    /// What the form's choice says.
    pub fn label(self) -> &'static str {
        match self {
            WebhookFormat::Standard => "Standard JSON (your own server, Zapier, Make)",
            WebhookFormat::Slack => "Slack message",
            WebhookFormat::Discord => "Discord message",
            WebhookFormat::Teams => "Microsoft Teams message",
            WebhookFormat::Template => "Your own template (a CRM's fields, form or text)",
        }
    }

    /// Parses a format name as the API and the form spell it; an empty value is `standard`.
    pub fn parse(name: &str) -> Result<WebhookFormat, String> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(WebhookFormat::Standard);
        }
        WebhookFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "Unknown format \"{}\". Choose one of: {}.",
                    name.chars().take(32).collect::<String>(),
                    WebhookFormat::ALL.map(WebhookFormat::as_str).join(", ")
                )
            })
    }

    /// The format a pasted URL calls for: Slack's, Discord's and Teams' (Workflows, Power
    /// Automate, the retired Office connectors) incoming-webhook addresses.
    pub fn detect(url: &str) -> Option<WebhookFormat> {
        let parsed = url::Url::parse(url.trim()).ok()?;
        let host = parsed.host_str()?.to_ascii_lowercase();
        let path = parsed.path();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if host == "hooks.slack.com" {
            Some(WebhookFormat::Slack)
        } else if (under("discord.com") || under("discordapp.com"))
            && path.starts_with("/api/webhooks/")
        {
            Some(WebhookFormat::Discord)
        } else if under("webhook.office.com")
            || under("logic.azure.com")
            || under("api.powerplatform.com")
        {
            Some(WebhookFormat::Teams)
        } else {
            None
        }
    }

    /// The request body for an event stored as `body` (the seed JSON). `standard` (and
    /// `template`, whose rendering needs the template: `domain::outgoing::BodyShape`) give the
    /// stored text back unchanged; the chat formats give a message (or, for a body that is not
    /// the seed's JSON, a message saying which event it was).
    #[cfg(feature = "ssr")]
    pub fn render(self, event_type: &str, body: &str) -> String {
        let chat = match self {
            WebhookFormat::Standard | WebhookFormat::Template => return body.to_string(),
            WebhookFormat::Slack => chat::slack,
            WebhookFormat::Discord => chat::discord,
            WebhookFormat::Teams => chat::teams,
        };
        chat(&Message::from_body(event_type, body)).to_string()
    }
}

impl fmt::Display for WebhookFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_name_and_refuses_others() {
        for f in WebhookFormat::ALL {
            assert_eq!(WebhookFormat::parse(f.as_str()), Ok(f));
        }
        assert_eq!(WebhookFormat::parse(""), Ok(WebhookFormat::Standard));
        let err = WebhookFormat::parse("xml").unwrap_err();
        assert!(err.contains("\"xml\"") && err.contains("slack"), "{err}");
    }

    #[test]
    fn detects_chat_urls_only() {
        let cases = [
            ("https://hooks.slack.com/services/T0/B0/abc", Some(WebhookFormat::Slack)),
            ("https://discord.com/api/webhooks/1/tok", Some(WebhookFormat::Discord)),
            ("https://canary.discord.com/api/webhooks/1/tok", Some(WebhookFormat::Discord)),
            ("https://discordapp.com/api/webhooks/1/tok", Some(WebhookFormat::Discord)),
            ("https://discord.com/channels/1", None),
            (
                "https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke",
                Some(WebhookFormat::Teams),
            ),
            ("https://acme.webhook.office.com/webhookb2/x", Some(WebhookFormat::Teams)),
            (
                "https://default1.environment.api.powerplatform.com/powerautomate/x",
                Some(WebhookFormat::Teams),
            ),
            ("https://hooks.zapier.com/hooks/catch/1/abc/", None),
            ("https://notslack.com/hooks.slack.com", None),
            ("https://evil-discord.com/api/webhooks/1", None),
            ("not a url", None),
        ];
        for (url, want) in cases {
            assert_eq!(WebhookFormat::detect(url), want, "{url}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn standard_is_the_stored_body_byte_for_byte() {
        let body = "{\"event\":\"booking.created\",\"timestamp\":\"2025-01-15T10:30:00Z\",\"data\":{ \"id\" : 1 }}";
        assert_eq!(
            WebhookFormat::Standard.render("booking.created", body),
            body
        );
    }
}
