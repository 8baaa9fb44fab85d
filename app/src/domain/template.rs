//! A webhook's **template** (format `template`): the request body written by the owner in Jinja
//! syntax (`minijinja`), with `event` (the type), `timestamp` (RFC 3339) and `data` as
//! variables, sent with the Content-Type the owner picks. Values are escaped for that type —
//! JSON values for `application/json` (so `{{ data.invitee.name }}` prints `"Jane Smith"`, quotes
//! included, and no value can break the document), percent-encoding for form bodies, nothing
//! for plain text.
//!
//! Checked when saved: the syntax (line and column), every variable against the event catalog,
//! and the output for each subscribed type's catalog example (for JSON: that it parses).

use serde::{Deserialize, Serialize};
use std::fmt;

pub const MAX_TEMPLATE_CHARS: usize = 10_000;
/// The most bytes a rendered body may have (a real event can make more than the example).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The Content-Type of a template's body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BodyType {
    #[default]
    #[serde(rename = "application/json")]
    Json,
    #[serde(rename = "application/x-www-form-urlencoded")]
    Form,
    #[serde(rename = "text/plain")]
    Text,
}

impl BodyType {
    pub const ALL: [BodyType; 3] = [BodyType::Json, BodyType::Form, BodyType::Text];

    /// The name the API, the form and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::Json => "application/json",
            BodyType::Form => "application/x-www-form-urlencoded",
            BodyType::Text => "text/plain",
        }
    }

    /// The `Content-Type` header sent.
    pub fn header(self) -> &'static str {
        match self {
            BodyType::Json => "application/json",
            BodyType::Form => "application/x-www-form-urlencoded",
            BodyType::Text => "text/plain; charset=utf-8",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BodyType::Json => "JSON (application/json)",
            BodyType::Form => "Form (application/x-www-form-urlencoded)",
            BodyType::Text => "Plain text (text/plain)",
        }
    }

    /// An empty value is JSON.
    pub fn parse(name: &str) -> Result<BodyType, String> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(BodyType::Json);
        }
        BodyType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "Unknown content type \"{}\". Choose one of: {}.",
                    name.chars().take(64).collect::<String>(),
                    BodyType::ALL.map(BodyType::as_str).join(", ")
                )
            })
    }
}

impl fmt::Display for BodyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "ssr")]
pub use engine::{check, render};

#[cfg(feature = "ssr")]
mod engine {
    use minijinja::{AutoEscape, Environment};
    use serde_json::Value;

    use super::{BodyType, MAX_BODY_BYTES, MAX_TEMPLATE_CHARS};
    use crate::domain::jinja::{describe, environment, refuse_unsafe, unknown_variable};
    use crate::domain::{catalog, EventSet};

    const NAME: &str = "body";
    const FORM: AutoEscape = AutoEscape::Custom("form");

    fn env_for(body_type: BodyType) -> Environment<'static> {
        let mut env = environment();
        env.set_auto_escape_callback(move |_| match body_type {
            BodyType::Json => AutoEscape::Json,
            BodyType::Form => FORM,
            BodyType::Text => AutoEscape::None,
        });
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == FORM {
                // Nothing printed for a missing value; text as form-urlencoded bytes.
                let text = if value.is_undefined() || value.is_none() {
                    String::new()
                } else {
                    value.to_string()
                };
                let encoded: String =
                    url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
                out.write_str(&encoded).map_err(minijinja::Error::from)
            } else if value.is_undefined() && state.auto_escape() == AutoEscape::Json {
                out.write_str("null").map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env
    }

    /// Collects the output, refusing to grow past [`MAX_BODY_BYTES`] (the render stops there).
    struct Capped(Vec<u8>);

    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + buf.len() > MAX_BODY_BYTES {
                return Err(std::io::Error::other("body too large"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn render_with(
        env: &Environment<'static>,
        source: &str,
        event_type: &str,
        timestamp: &Value,
        data: &Value,
    ) -> Result<String, String> {
        refuse_unsafe(source, true)?;
        let tmpl = env
            .template_from_named_str(NAME, source)
            .map_err(|e| describe(&e, source))?;
        let mut out = Capped(Vec::new());
        match tmpl.render_captured_to(
            minijinja::context!(event => event_type, timestamp => timestamp, data => data),
            &mut out,
        ) {
            Ok(_) => {}
            Err(e) if e.kind() == minijinja::ErrorKind::WriteFailure => {
                return Err(format!(
                    "The body would be more than {MAX_BODY_BYTES} bytes."
                ));
            }
            Err(e) => return Err(describe(&e, source)),
        }
        String::from_utf8(out.0).map_err(|_| "The body is not valid UTF-8.".to_string())
    }

    /// Checks a template for a webhook subscribed to `types`, sent as `body_type`; the
    /// template as given (not trimmed: its whitespace is part of the body).
    pub fn check(source: &str, body_type: BodyType, types: EventSet) -> Result<String, String> {
        if source.trim().is_empty() {
            return Err("Write the body to send (the format is Template).".into());
        }
        if source.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(format!(
                "Use at most {MAX_TEMPLATE_CHARS} characters for the template."
            ));
        }
        refuse_unsafe(source, true)?;
        let env = env_for(body_type);
        let tmpl = env
            .template_from_named_str(NAME, source)
            .map_err(|e| describe(&e, source))?;
        if let Some(e) = unknown_variable(
            &env,
            tmpl.undeclared_variables(true),
            types,
            &["event", "timestamp"],
        ) {
            return Err(e);
        }
        // The output for each subscribed type's example (and the test event's, which every
        // webhook can be sent) must be a body that type allows.
        let mut examples: Vec<_> = types.iter().collect();
        examples.push(crate::domain::EventType::WebhookTest);
        for t in examples {
            let event = catalog::example_event(t);
            let out = render_with(
                &env,
                source,
                t.as_str(),
                &event["timestamp"],
                &event["data"],
            )
            .map_err(|e| format!("With the {t} example: {e}"))?;
            if body_type == BodyType::Json {
                if let Err(e) = serde_json::from_str::<Value>(&out) {
                    return Err(format!(
                        "With the {t} example the body is not valid JSON (line {}, column {} of the output: {}). Values print as JSON themselves: write {{{{ data.invitee.name }}}}, not \"{{{{ data.invitee.name }}}}\".",
                        e.line(),
                        e.column(),
                        json_reason(&e)
                    ));
                }
            }
        }
        Ok(source.to_string())
    }

    fn json_reason(e: &serde_json::Error) -> String {
        let s = e.to_string();
        // serde_json appends " at line L column C": said already.
        match s.rfind(" at line ") {
            Some(i) => s[..i].to_string(),
            None => s,
        }
    }

    /// The body for an event stored as `body` (the seed JSON). An error says why this event
    /// cannot be rendered (the attempt is then not sent).
    pub fn render(
        source: &str,
        body_type: BodyType,
        event_type: &str,
        body: &str,
    ) -> Result<String, String> {
        let event: Value = serde_json::from_str(body).map_err(|_| {
            "the stored event is not JSON, so the template cannot use it".to_string()
        })?;
        render_with(
            &env_for(body_type),
            source,
            event_type,
            &event["timestamp"],
            &event["data"],
        )
        .map_err(|e| format!("the template failed on this event: {e}"))
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::domain::EventSet;
    use serde_json::{json, Value};

    fn bookings() -> EventSet {
        EventSet::parse(&["booking.created", "booking.cancelled"]).unwrap()
    }

    const BODY: &str = r#"{"event":"booking.created","timestamp":"2025-01-15T10:30:00Z","data":{"id":"b1","invitee":{"name":"Jane \"JJ\" Smith","email":"jane@example.com"},"duration":30}}"#;

    #[test]
    fn json_values_are_escaped_so_no_value_breaks_the_document() {
        let t = r#"{"kind": {{ event }}, "who": {{ data.invitee.name }}, "minutes": {{ data.duration }}, "at": {{ timestamp }}, "phone": {{ data.invitee.nothing }}}"#;
        let out = render(t, BodyType::Json, "booking.created", BODY).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!({"kind": "booking.created", "who": "Jane \"JJ\" Smith", "minutes": 30, "at": "2025-01-15T10:30:00Z", "phone": null})
        );
    }

    #[test]
    fn form_values_are_percent_encoded_and_text_is_as_is() {
        let t = "name={{ data.invitee.name }}&email={{ data.invitee.email }}&x={{ data.nothing }}";
        let out = render(t, BodyType::Form, "booking.created", BODY).unwrap();
        assert_eq!(out, "name=Jane+%22JJ%22+Smith&email=jane%40example.com&x=");
        let out = render(
            "New: {{ data.invitee.name }}",
            BodyType::Text,
            "booking.created",
            BODY,
        )
        .unwrap();
        assert_eq!(out, "New: Jane \"JJ\" Smith");
    }

    #[test]
    fn check_reports_syntax_with_line_and_column_unknown_variables_and_bad_json() {
        let e = check("{\n  \"a\": {{ data.id }\n}", BodyType::Json, bookings()).unwrap_err();
        assert!(e.starts_with("Line 2, column "), "{e}");
        let e = check(
            r#"{"p": {{ data.invitee.phone }}}"#,
            BodyType::Json,
            bookings(),
        )
        .unwrap_err();
        assert!(e.starts_with("data.invitee.phone is not a field"), "{e}");
        let e = check(
            r#"{"n": "{{ data.invitee.name }}"}"#,
            BodyType::Json,
            bookings(),
        )
        .unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = check("   ", BodyType::Json, bookings()).unwrap_err();
        assert!(e.contains("Write the body"), "{e}");
        let ok = r#"{% set who = data.invitee %}{"event": {{ event }}, "email": {{ who.email }}{% if data.meeting_link %}, "link": {{ data.meeting_link }}{% endif %}}"#;
        assert_eq!(check(ok, BodyType::Json, bookings()).as_deref(), Ok(ok));
        assert!(check("email={{ data.invitee.email }}", BodyType::Form, bookings()).is_ok());
    }

    /// Written by another account, a template must not exhaust the server: loops run out of
    /// fuel, the output stops at the cap, what would ask for gigabytes is refused.
    #[test]
    fn a_template_that_would_exhaust_the_server_is_refused() {
        for (t, why) in [
            (
                "{% for a in range(100000) %}{% for b in range(100000) %}{% if a == b %}{% endif %}{% endfor %}{% endfor %}",
                "too much work",
            ),
            (
                &format!("{{% for a in range(100000) %}}{{{{ data.invitee.name }}}}{}{{% endfor %}}", "x".repeat(9000)),
                "more than 262144 bytes",
            ),
            ("{{ (range(100000) * 100000) | list | length }}", "multiplication"),
            ("{% set ns = namespace(s='x') %}{{ ns.s }}", "namespace is not a field"),
            ("{{ data.invitee.name | indent(100000000) }}", "indent is unknown"),
        ] {
            let t: &str = t;
            let e = check(t, BodyType::Text, bookings()).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
            let e = render(t, BodyType::Text, "booking.created", BODY).unwrap_err();
            assert!(e.contains(why) || e.contains("unknown"), "{t}: {e}");
        }
        // Stars in the text around the code are fine.
        assert!(check(
            "**New** {{ data.invitee.name }} *",
            BodyType::Text,
            bookings()
        )
        .is_ok());
    }

    #[test]
    fn body_types_parse_by_name() {
        for t in BodyType::ALL {
            assert_eq!(BodyType::parse(t.as_str()), Ok(t));
        }
        assert_eq!(BodyType::parse(""), Ok(BodyType::Json));
        assert!(BodyType::parse("text/html")
            .unwrap_err()
            .contains("text/plain"));
    }
}
