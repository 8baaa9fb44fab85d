//! The three chat apps' incoming-webhook shapes, each within the limits its documentation gives.

use serde_json::{json, Value};

use super::Message;

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if s[i..].chars().count() > 1 => format!("{}…", &s[..i]),
        _ => s.to_string(),
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `{"text", "blocks"}`: `text` is the notification line (and what Slack requires); the blocks
/// show the title, the details and a button to the meeting.
pub fn slack(m: &Message) -> Value {
    let mut details = format!("*{}*\n{}", slack_escape(&m.title), slack_escape(&m.summary));
    for (label, value) in &m.facts {
        details.push_str(&format!("\n*{}:* {}", label, slack_escape(value)));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(&details, 3000)},
    })];
    if let Some(link) = &m.link {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open link"},
                "url": clip(link, 3000),
            }],
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(&m.event_type)}],
    }));
    json!({"text": clip(&slack_escape(&m.summary), 3000), "blocks": blocks})
}

/// `{"content", "embeds"}`: the line as the message, one embed with the details.
pub fn discord(m: &Message) -> Value {
    let fields: Vec<Value> = m
        .facts
        .iter()
        .take(25)
        .map(|(label, value)| json!({"name": label, "value": clip(value, 1024), "inline": true}))
        .collect();
    let mut embed = json!({
        "title": clip(&m.title, 256),
        "description": clip(&m.summary, 4096),
        "fields": fields,
        "footer": {"text": clip(&m.event_type, 2048)},
    });
    if let Some(link) = &m.link {
        embed["url"] = json!(link);
    }
    if let Some(ts) = &m.timestamp {
        if chrono::DateTime::parse_from_rfc3339(ts).is_ok() {
            embed["timestamp"] = json!(ts);
        }
    }
    json!({"content": clip(&m.summary, 2000), "embeds": [embed]})
}

/// Teams Workflows: `{"type":"message","attachments":[{adaptive card}]}`.
pub fn teams(m: &Message) -> Value {
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|(label, value)| json!({"title": label, "value": value}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": m.summary, "wrap": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    if let Some(link) = &m.link {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open link", "url": link}]);
    }
    json!({
        "type": "message",
        "summary": m.summary,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::WebhookFormat;

    const SEED: &str = r#"{"event":"booking.created","timestamp":"2025-01-15T10:30:00Z","data":{"id":123,"event_type":"30-min-consultation","date":"2025-01-20","time":"14:00","duration":30,"invitee":{"name":"Jane <b> & Co","email":"jane@example.com"},"location":"Zoom","meeting_link":"https://zoom.us/j/1"}}"#;

    fn render(f: WebhookFormat) -> Value {
        serde_json::from_str(&f.render("booking.created", SEED)).unwrap()
    }

    #[test]
    fn slack_has_text_and_escapes_mrkdwn() {
        let v = render(WebhookFormat::Slack);
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("New booking: Jane &lt;b&gt; &amp; Co — "),
            "{text}"
        );
        assert_eq!(v["blocks"][1]["elements"][0]["url"], "https://zoom.us/j/1");
    }

    #[test]
    fn discord_has_content_and_an_embed() {
        let v = render(WebhookFormat::Discord);
        assert!(v["content"]
            .as_str()
            .unwrap()
            .starts_with("New booking: Jane <b> & Co"));
        assert_eq!(v["embeds"][0]["url"], "https://zoom.us/j/1");
        assert_eq!(v["embeds"][0]["timestamp"], "2025-01-15T10:30:00Z");
    }

    #[test]
    fn teams_is_an_adaptive_card_message() {
        let v = render(WebhookFormat::Teams);
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["actions"][0]["url"], "https://zoom.us/j/1");
    }

    #[test]
    fn long_values_are_clipped_to_the_apps_limits() {
        let long = "x".repeat(5000);
        let body = format!(r#"{{"data":{{"invitee":{{"name":"{long}"}}}}}}"#);
        let v: Value =
            serde_json::from_str(&WebhookFormat::Discord.render("booking.created", &body)).unwrap();
        assert_eq!(v["content"].as_str().unwrap().chars().count(), 2000);
        let v: Value =
            serde_json::from_str(&WebhookFormat::Slack.render("booking.created", &body)).unwrap();
        assert_eq!(v["text"].as_str().unwrap().chars().count(), 3000);
    }
}
