//! A webhook's **filter** (server only): a boolean Jinja expression over the event, evaluated by
//! `minijinja`, e.g. `data.event_type == "sales-demo" and data.duration >= 30`. Events it does
//! not match create no delivery for the webhook. Checked when saved: the syntax (with the
//! column of the mistake) and every variable against the event catalog — `event` (the type),
//! and `data.…` fields that the catalog's schemas of the webhook's event types declare.

use serde_json::Value;

use super::jinja::{describe, environment, refuse_unsafe, unknown_variable};
use super::{catalog, EventSet};

pub const MAX_FILTER_CHARS: usize = 1000;

/// Checks a filter for a webhook subscribed to `types`; the trimmed source, or `None` when it
/// is empty (no filter).
pub fn parse(source: &str, types: EventSet) -> Result<Option<String>, String> {
    let source = source.trim();
    if source.is_empty() {
        return Ok(None);
    }
    if source.chars().count() > MAX_FILTER_CHARS {
        return Err(format!(
            "Use at most {MAX_FILTER_CHARS} characters for the filter."
        ));
    }
    refuse_unsafe(source, false)?;
    let env = environment();
    let expr = env
        .compile_expression(source)
        .map_err(|e| describe(&e, source))?;
    if let Some(e) = unknown_variable(&env, expr.undeclared_variables(true), types, &["event"]) {
        return Err(e);
    }
    // Filters are tests: an expression must give true or false for a real event.
    let sample = catalog::example(
        types.iter().next().unwrap_or(super::EventType::WebhookTest),
        catalog::CATALOG_NOW_MS,
    );
    expr.eval(minijinja::context!(event => "", data => sample))
        .map_err(|e| describe(&e, source))?;
    Ok(Some(source.to_string()))
}

/// Whether an event matches the filter. A filter that fails on this event (say, a comparison
/// of a number with text) matches nothing, so an unexpected event is never sent by mistake.
pub fn matches(source: &str, event_type: &str, data: &Value) -> bool {
    if refuse_unsafe(source, false).is_err() {
        return false;
    }
    let env = environment();
    match env
        .compile_expression(source)
        .and_then(|expr| expr.eval(minijinja::context!(event => event_type, data => data)))
    {
        Ok(v) => v.is_true(),
        Err(e) => {
            tracing::warn!(error = %e, "a webhook filter failed on an event; not sent");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;
    use serde_json::json;

    fn bookings() -> EventSet {
        EventSet::parse(&["booking.created", "booking.cancelled"]).unwrap()
    }

    #[test]
    fn matches_the_issues_example() {
        let f = parse(
            r#"data.event_type == "sales-demo" and data.duration >= 30"#,
            bookings(),
        )
        .unwrap()
        .unwrap();
        assert!(matches(
            &f,
            "booking.created",
            &json!({"event_type": "sales-demo", "duration": 45})
        ));
        assert!(!matches(
            &f,
            "booking.created",
            &json!({"event_type": "sales-demo", "duration": 15})
        ));
        assert!(
            !matches(&f, "booking.created", &json!({"duration": 45})),
            "a missing field does not match"
        );
        let f = parse(
            r#"event == "booking.cancelled" or data.invitee.email is endingwith("@acme.com")"#,
            bookings(),
        )
        .unwrap()
        .unwrap();
        assert!(matches(&f, "booking.cancelled", &json!({})));
        assert!(matches(
            &f,
            "booking.created",
            &json!({"invitee": {"email": "a@acme.com"}})
        ));
        assert!(!matches(
            &f,
            "booking.created",
            &json!({"invitee": {"email": "a@other.com"}})
        ));
    }

    /// Written by another account, a filter must not exhaust the server: what would ask for
    /// gigabytes (a sequence repeated a billion times, an empty pattern replaced) is refused
    /// on save and matches nothing if it was stored before.
    #[test]
    fn a_filter_that_would_exhaust_the_server_is_refused_and_matches_nothing() {
        for (f, why) in [
            (
                "(range(100000) * 100000) | list | length > 0",
                "multiplication",
            ),
            ("[1] * 1000000000 | join | length > 0", "multiplication"),
            (
                "data.event_type | replace('', data.event_type) | length > 0",
                "replace is unknown",
            ),
            ("namespace(s='x') is defined", "namespace is not a field"),
        ] {
            match parse(f, bookings()) {
                Err(e) => assert!(e.contains(why), "{f}: {e}"),
                Ok(_) => panic!("accepted: {f}"),
            }
            assert!(
                !matches(f, "booking.created", &json!({"event_type": "x"})),
                "{f}"
            );
        }
        // Stars in text are fine.
        assert!(parse("data.event_type == \"*\"", bookings()).is_ok());
    }

    #[test]
    fn refuses_syntax_errors_with_their_column_and_unknown_variables_by_name() {
        let e = parse("data.duration >= ", bookings()).unwrap_err();
        assert!(e.starts_with("Line 1, column "), "{e}");
        let e = parse("data.invitee.phone == \"1\"", bookings()).unwrap_err();
        assert!(e.starts_with("data.invitee.phone is not a field"), "{e}");
        let e = parse("dat.duration > 1", bookings()).unwrap_err();
        assert!(e.starts_with("dat.duration"), "{e}");
        let payments = EventSet::parse(&[EventType::PaymentFailed.as_str()]).unwrap();
        assert!(parse("data.failure_reason == \"card_declined\"", payments).is_ok());
        assert!(
            parse("data.failure_reason == \"x\"", bookings()).is_err(),
            "not a booking field"
        );
        assert_eq!(parse("  ", bookings()), Ok(None));
        assert!(parse(&"1".repeat(1001), bookings()).is_err());
    }
}
