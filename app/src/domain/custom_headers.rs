//! A webhook's **custom headers**: name/value pairs sent with every request, for receivers that
//! want `Authorization: Bearer …` or an API-key header (CRMs). Values are secrets: sealed at
//! rest like the signing secret, shown as [`MASK`] on the pages and in the API, and recorded
//! as [`MASK`] in the delivery log.
//!
//! The form edits them as text, one `Name: value` per line; the API as an object. A value of
//! exactly [`MASK`] means "keep the stored value" (what a page or a GET shows comes back
//! unchanged on save).

use serde::{Deserialize, Serialize};

/// What a stored value is shown as, and what keeps it on save.
pub const MASK: &str = "***";
pub const MAX_HEADERS: usize = 20;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 2048;

/// Names the platform sets itself, or that HTTP reserves (compared case-insensitively; any
/// `x-webhook-…` and `webhook-…` name is reserved too).
const RESERVED: [&str; 11] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// One submitted header: a new value, or "keep the stored one".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderValue {
    Keep,
    Set(String),
}

/// Checks one name: an HTTP token, not reserved.
pub fn check_name(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() {
        Err("A header needs a name.".into())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "Header names have at most {MAX_NAME_CHARS} characters."
        ))
    } else if !name.chars().all(token) {
        Err(format!(
            "\"{}\" is not a valid header name (letters, digits and - _ . only, no spaces).",
            name.chars().take(MAX_NAME_CHARS).collect::<String>()
        ))
    } else if RESERVED.contains(&lower.as_str())
        || lower.starts_with("x-webhook-")
        || lower.starts_with("webhook-")
    {
        Err(format!(
            "{name} is set by SchedulingKit itself and cannot be replaced."
        ))
    } else {
        Ok(())
    }
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{name} needs a value."))
    } else if value.chars().count() > MAX_VALUE_CHARS {
        Err(format!(
            "{name}'s value has at most {MAX_VALUE_CHARS} characters."
        ))
    } else if !value.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        Err(format!(
            "{name}'s value must be printable ASCII on one line."
        ))
    } else {
        Ok(())
    }
}

/// Checks a whole set: at most [`MAX_HEADERS`], names valid and distinct (case-insensitively),
/// values printable. `Keep` stands for a stored value.
pub fn check(pairs: Vec<(String, HeaderValue)>) -> Result<Vec<(String, HeaderValue)>, String> {
    if pairs.len() > MAX_HEADERS {
        return Err(format!("At most {MAX_HEADERS} custom headers."));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name = name.trim().to_string();
        check_name(&name)?;
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(format!("{name} is given twice."));
        }
        seen.push(lower);
        let value = match value {
            HeaderValue::Set(v) if v.trim() == MASK => HeaderValue::Keep,
            HeaderValue::Set(v) => {
                let v = v.trim().to_string();
                check_value(&name, &v)?;
                HeaderValue::Set(v)
            }
            HeaderValue::Keep => HeaderValue::Keep,
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Parses the form's text: one `Name: value` per line; blank lines are ignored.
pub fn parse_text(text: &str) -> Result<Vec<(String, HeaderValue)>, String> {
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("Line {}: write each header as Name: value.", i + 1));
        };
        pairs.push((
            name.trim().to_string(),
            HeaderValue::Set(value.trim().to_string()),
        ));
    }
    check(pairs)
}

/// The text the form shows for stored names: every value masked.
pub fn masked_text<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("{}: {MASK}", n.as_ref()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The set to store: each new value through `store` (sealing it), each `Keep` the stored value
/// of that name as it is; a `Keep` with nothing stored is an error (the value must be typed).
pub fn resolve<T: Clone>(
    submitted: &[(String, HeaderValue)],
    stored: &[(String, T)],
    store: impl Fn(&str) -> T,
) -> Result<Vec<(String, T)>, String> {
    submitted
        .iter()
        .map(|(name, value)| match value {
            HeaderValue::Set(v) => Ok((name.clone(), store(v))),
            HeaderValue::Keep => stored
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| (name.clone(), v.clone()))
                .ok_or_else(|| format!("Type the value of {name}: none is stored yet.")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_keeps_masked_values() {
        let got = parse_text("Authorization: Bearer abc:def\n\nX-Api-Key: ***\n").unwrap();
        assert_eq!(
            got,
            vec![
                (
                    "Authorization".into(),
                    HeaderValue::Set("Bearer abc:def".into())
                ),
                ("X-Api-Key".into(), HeaderValue::Keep),
            ]
        );
        let stored = vec![("x-api-key".to_string(), "sealed-s3cret".to_string())];
        let seal = |v: &str| format!("sealed-{v}");
        assert_eq!(
            resolve(&got, &stored, seal).unwrap(),
            vec![
                (
                    "Authorization".to_string(),
                    "sealed-Bearer abc:def".to_string()
                ),
                ("X-Api-Key".to_string(), "sealed-s3cret".to_string()),
            ]
        );
        assert!(resolve(&parse_text("New: ***").unwrap(), &stored, seal).is_err());
    }

    #[test]
    fn refuses_reserved_invalid_duplicate_and_too_many() {
        for bad in [
            "Content-Type: text/plain",
            "host: evil",
            "X-Webhook-Signature: forged",
            "webhook-id: 1",
            "Content-Length: 1",
            "Bad Name: x",
            "NoColon",
            "A: 1\na: 2",
            "Empty:",
            "Ctl: a\u{7}b",
        ] {
            assert!(parse_text(bad).is_err(), "{bad:?} accepted");
        }
        let many: String = (0..21).map(|i| format!("X-H{i}: v\n")).collect();
        assert!(parse_text(&many).unwrap_err().contains("20"));
        let twenty: String = (0..20).map(|i| format!("X-H{i}: v\n")).collect();
        assert_eq!(parse_text(&twenty).unwrap().len(), 20);
    }

    #[test]
    fn masked_text_round_trips_to_keep() {
        let text = masked_text(&["Authorization", "X-Api-Key"]);
        assert!(!text.contains("Bearer"));
        assert!(parse_text(&text)
            .unwrap()
            .iter()
            .all(|(_, v)| *v == HeaderValue::Keep));
    }
}
