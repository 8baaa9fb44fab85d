use serde::{Deserialize, Serialize};

use super::custom_headers::{self, HeaderValue};
use super::template::MAX_TEMPLATE_CHARS;
use super::{BodyType, EventSet, FieldErrors, TargetPolicy, WebhookFormat, WebhookUrl};

pub const MAX_NAME_LEN: usize = 100;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
pub const DEFAULT_TIMEOUT_SECS: u16 = 30;
pub const DEFAULT_RETRY_ATTEMPTS: u8 = 3;

/// A webhook's settings as submitted, every field as typed (forms send strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub timeout_secs: String,
    pub retry_attempts: String,
    pub description: String,
    /// Deliver events with the same key one at a time, in publish order.
    pub ordered: bool,
    /// `standard` (empty means the same), `slack`, `discord` or `teams`.
    pub format: String,
    /// Custom headers, one `Name: value` per line; a value of `***` keeps the stored one.
    pub headers: String,
    /// A boolean expression over the event (`domain::filter`); empty: every event.
    pub filter: String,
    /// With format `template`: the body template (`domain::template`).
    pub template: String,
    /// The template's body type (`domain::BodyType`); empty: JSON.
    pub content_type: String,
}

/// A webhook's settings once validated: the only way to create or change a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDraft {
    pub name: String,
    pub url: WebhookUrl,
    pub events: EventSet,
    pub active: bool,
    pub timeout_secs: u16,
    pub retry_attempts: u8,
    pub description: String,
    pub ordered: bool,
    pub format: WebhookFormat,
    /// Checked names with a new value or "keep the stored one" (see `custom_headers`).
    pub headers: Vec<(String, HeaderValue)>,
    /// The filter as checked by `domain::filter::parse` (server side, in `vet`); `None`: none.
    pub filter: Option<String>,
    /// The template as typed (checked by `domain::template::check` in `vet` when the format is
    /// `template`; kept otherwise, so that switching formats loses nothing); `None`: none.
    pub template: Option<String>,
    pub body_type: BodyType,
}

impl WebhookInput {
    /// The form's contents as (field, value) pairs, to be echoed back after an error.
    pub fn to_echo(&self) -> Vec<(String, String)> {
        let mut echo = vec![
            ("name".to_string(), self.name.clone()),
            ("url".to_string(), self.url.clone()),
            ("active".to_string(), self.active.to_string()),
            ("timeout_secs".to_string(), self.timeout_secs.clone()),
            ("retry_attempts".to_string(), self.retry_attempts.clone()),
            ("description".to_string(), self.description.clone()),
            ("ordered".to_string(), self.ordered.to_string()),
            ("format".to_string(), self.format.clone()),
            // Header values are secrets: echoed masked, never into the page as typed.
            ("headers".to_string(), mask_values(&self.headers)),
            ("filter".to_string(), self.filter.clone()),
            ("template".to_string(), self.template.clone()),
            ("content_type".to_string(), self.content_type.clone()),
        ];
        echo.extend(
            self.events
                .iter()
                .map(|e| ("events".to_string(), e.clone())),
        );
        echo
    }

    pub fn from_echo(errors: &FieldErrors) -> WebhookInput {
        WebhookInput {
            name: errors.echoed("name").unwrap_or_default().to_string(),
            url: errors.echoed("url").unwrap_or_default().to_string(),
            events: errors.echoed_all("events"),
            active: errors.echoed("active") == Some("true"),
            timeout_secs: errors
                .echoed("timeout_secs")
                .unwrap_or_default()
                .to_string(),
            retry_attempts: errors
                .echoed("retry_attempts")
                .unwrap_or_default()
                .to_string(),
            description: errors.echoed("description").unwrap_or_default().to_string(),
            ordered: errors.echoed("ordered") == Some("true"),
            format: errors.echoed("format").unwrap_or_default().to_string(),
            headers: errors.echoed("headers").unwrap_or_default().to_string(),
            filter: errors.echoed("filter").unwrap_or_default().to_string(),
            template: errors.echoed("template").unwrap_or_default().to_string(),
            content_type: errors
                .echoed("content_type")
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// The header text with every value replaced by the mask (lines without a colon stay as typed:
/// they hold no value).
fn mask_values(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(':') {
            Some((name, _)) => format!("{}: {}", name.trim(), custom_headers::MASK),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_bounded(input: &str, default: i64, min: i64, max: i64, what: &str) -> Result<i64, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(default);
    }
    match s.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("{what} must be between {min} and {max}.")),
        Err(_) => Err(format!(
            "{what} must be a whole number between {min} and {max}."
        )),
    }
}

impl WebhookDraft {
    /// Validates every field and reports every problem at once, next to its field.
    pub fn parse(input: &WebhookInput, policy: TargetPolicy) -> Result<WebhookDraft, FieldErrors> {
        let mut errors = FieldErrors::new();

        let name = input.name.trim().to_string();
        if name.is_empty() {
            errors.add("name", "Give the webhook a name.");
        } else if name.chars().count() > MAX_NAME_LEN {
            errors.add(
                "name",
                format!("Use at most {MAX_NAME_LEN} characters for the name."),
            );
        } else if let Err(e) = super::text::check_visible(&name, "name") {
            errors.add("name", e);
        }

        let url = WebhookUrl::parse(&input.url, policy)
            .map_err(|e| errors.add("url", e))
            .ok();

        let events = EventSet::parse(&input.events)
            .map_err(|e| errors.add("events", e))
            .ok();

        let timeout = parse_bounded(
            &input.timeout_secs,
            DEFAULT_TIMEOUT_SECS.into(),
            1,
            300,
            "Timeout",
        )
        .map_err(|e| errors.add("timeout_secs", e))
        .ok();
        let retries = parse_bounded(
            &input.retry_attempts,
            DEFAULT_RETRY_ATTEMPTS.into(),
            0,
            10,
            "Retry attempts",
        )
        .map_err(|e| errors.add("retry_attempts", e))
        .ok();

        let description = input.description.trim().to_string();
        if description.chars().count() > MAX_DESCRIPTION_LEN {
            errors.add(
                "description",
                format!("Use at most {MAX_DESCRIPTION_LEN} characters for the description."),
            );
        }

        let format = WebhookFormat::parse(&input.format)
            .map_err(|e| errors.add("format", e))
            .ok();
        let headers = custom_headers::parse_text(&input.headers)
            .map_err(|e| errors.add("headers", e))
            .ok();
        let body_type = BodyType::parse(&input.content_type)
            .map_err(|e| errors.add("content_type", e))
            .ok();
        // Forms send CRLF line ends; the template is kept with the ends it is sent with.
        let template_text = input.template.replace("\r\n", "\n");
        if template_text.chars().count() > MAX_TEMPLATE_CHARS {
            errors.add(
                "template",
                format!("Use at most {MAX_TEMPLATE_CHARS} characters for the template."),
            );
        } else if format == Some(WebhookFormat::Template) && template_text.trim().is_empty() {
            errors.add(
                "template",
                "Write the body to send (the format is Template).",
            );
        }

        match (url, events, timeout, retries, format, headers, body_type) {
            (
                Some(url),
                Some(events),
                Some(timeout),
                Some(retries),
                Some(format),
                Some(headers),
                Some(body_type),
            ) if errors.is_empty() => Ok(WebhookDraft {
                name,
                url,
                events,
                active: input.active,
                timeout_secs: timeout as u16,
                retry_attempts: retries as u8,
                description,
                ordered: input.ordered,
                format,
                headers,
                filter: None,
                template: (!template_text.trim().is_empty()).then_some(template_text),
                body_type,
            }),
            _ => Err(errors.with_echo(input.to_echo())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> WebhookInput {
        WebhookInput {
            name: "CRM sync".into(),
            url: "https://crm.example.com/hooks".into(),
            events: vec!["booking.created".into(), "booking.cancelled".into()],
            active: true,
            timeout_secs: "".into(),
            retry_attempts: "5".into(),
            description: "".into(),
            ordered: false,
            format: "".into(),
            headers: "".into(),
            filter: "".into(),
            template: "".into(),
            content_type: "".into(),
        }
    }

    #[test]
    fn a_valid_input_gets_defaults() {
        let d = WebhookDraft::parse(&valid(), TargetPolicy::STRICT).unwrap();
        assert_eq!(d.timeout_secs, 30);
        assert_eq!(d.retry_attempts, 5);
        assert_eq!(d.events.len(), 2);
    }

    #[test]
    fn every_bad_field_is_reported_with_the_input_echoed() {
        let input = WebhookInput {
            name: "x".repeat(101),
            url: "http://crm.example.com".into(),
            events: vec![],
            active: false,
            timeout_secs: "0".into(),
            retry_attempts: "eleven".into(),
            description: "d".repeat(1001),
            ordered: false,
            format: "fax".into(),
            headers: "Host: ***".into(),
            filter: "data.x ==".into(),
            template: "t".repeat(20_001),
            content_type: "text/html".into(),
        };
        let e = WebhookDraft::parse(&input, TargetPolicy::STRICT).unwrap_err();
        for field in [
            "name",
            "url",
            "events",
            "timeout_secs",
            "retry_attempts",
            "description",
            "format",
            "headers",
            "template",
            "content_type",
        ] {
            assert!(e.get(field).is_some(), "no error for {field}: {e:?}");
        }
        assert_eq!(WebhookInput::from_echo(&e), input);
    }

    #[test]
    fn bounds_are_inclusive() {
        let mut i = valid();
        i.timeout_secs = "300".into();
        i.retry_attempts = "0".into();
        assert!(WebhookDraft::parse(&i, TargetPolicy::STRICT).is_ok());
        i.timeout_secs = "301".into();
        assert!(WebhookDraft::parse(&i, TargetPolicy::STRICT).is_err());
        i.timeout_secs = "1".into();
        i.retry_attempts = "10".into();
        assert!(WebhookDraft::parse(&i, TargetPolicy::STRICT).is_ok());
        i.retry_attempts = "-1".into();
        assert!(WebhookDraft::parse(&i, TargetPolicy::STRICT).is_err());
    }

    #[test]
    fn names_with_bidi_or_invisible_characters_are_refused() {
        for name in [
            "Payroll\u{202E}exe.js",
            "CRM\u{200B}sync",
            "\u{2066}CRM\u{2069}",
        ] {
            let mut i = valid();
            i.name = name.into();
            let e = WebhookDraft::parse(&i, TargetPolicy::STRICT).unwrap_err();
            let msg = e
                .get("name")
                .unwrap_or_else(|| panic!("{name:?} accepted: {e:?}"));
            assert!(msg.contains("invisible formatting character"), "{msg}");
            assert_eq!(e.errors.len(), 1, "only the name is wrong: {e:?}");
        }
        let mut i = valid();
        i.name = "Réservations → CRM".into();
        assert!(WebhookDraft::parse(&i, TargetPolicy::STRICT).is_ok());
    }
}
