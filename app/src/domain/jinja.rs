//! What filters and templates share (server only): the `minijinja` environment's rules, error
//! messages with line and column, and the check of every variable against the event catalog.

use minijinja::{Environment, UndefinedBehavior};

use super::{catalog, EventSet};

/// An environment where a field an event lacks is undefined (false in a test, empty or `null`
/// when printed), also several levels deep, so a real event with fewer fields than the catalog's
/// example never fails.
///
/// Each evaluation has a budget of [`FUEL`] instructions, so no filter or template (say, two
/// nested loops over `range(100000)`) can keep a request or the publisher busy.
///
/// What is written by another account must not exhaust the server: the engine's functions and
/// filters whose output can grow far beyond their input are left out (`replace` with an empty
/// pattern, `indent`, `slice`, `batch`, `tojson`'s indent, `namespace` accumulating in a loop,
/// `debug` printing the whole state), and so is multiplication ([`refuse_unsafe`]), which
/// repeats sequences lazily into billions of items. Nothing else grows faster than the event
/// (at most 256 KiB) times the length of the source, and the output is capped by the caller.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    for filter in [
        "replace", "indent", "slice", "batch", "tojson", "pprint", "format",
    ] {
        env.remove_filter(filter);
    }
    for global in ["namespace", "debug", "cycler", "joiner"] {
        env.remove_global(global);
    }
    env
}

/// Instructions one evaluation may run: far more than any real filter or template needs (the
/// catalog examples take a few hundred).
pub const FUEL: u64 = 50_000;

/// Refuses multiplication (`*`, `**`) in the code of a filter or a template (inside `{{ }}` and
/// `{% %}`; the text around them may say anything): repeating a sequence is lazy in the engine,
/// and `[1] * 1000000000 | list` would ask for gigabytes at once.
pub fn refuse_unsafe(source: &str, template: bool) -> Result<(), String> {
    let bytes = source.as_bytes();
    let mut in_code = !template;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if !in_code {
            if c == b'{' && matches!(next, Some(b'{') | Some(b'%')) {
                in_code = true;
                i += 2;
                continue;
            }
        } else if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' {
            quote = Some(c);
        } else if template && matches!(c, b'}' | b'%') && next == Some(b'}') {
            in_code = false;
            i += 2;
            continue;
        } else if c == b'*' {
            let before = &source[..i];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Err(format!(
                "Line {line}, column {column}: multiplication (`*`) is not available here."
            ));
        }
        i += 1;
    }
    Ok(())
}

/// `Line 2, column 7: unexpected end of input.` (the column when the engine gives the place).
pub fn describe(e: &minijinja::Error, source: &str) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        return "It does too much work for one event (a loop too long?): keep it to what one event needs.".into();
    }
    let detail = e.detail().unwrap_or("invalid syntax");
    let detail = detail.trim_end_matches('.');
    match (e.range(), e.line()) {
        (Some(r), _) => {
            let before = &source[..r.start.min(source.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("Line {line}, column {column}: {detail}.")
        }
        (None, Some(line)) => format!("Line {line}: {detail}."),
        (None, None) => format!("{detail}."),
    }
}

/// Whether `path` (`["invitee", "name"]`) is a field of `data` that the catalog declares for
/// one of `types`. What follows a field that is not an object is a method of its value
/// (`data.invitee.email.endswith("@acme.com")`).
fn declared(types: EventSet, path: &[&str]) -> bool {
    types.iter().any(|t| {
        let schema = catalog::schema(t);
        let mut node = &schema;
        for (depth, field) in path.iter().enumerate() {
            if depth > 0 && node.get("properties").is_none() {
                return true;
            }
            match node["properties"].get(*field) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    })
}

/// The first (in sorted order) of `variables` — dotted paths as `undeclared_variables(true)`
/// gives them — that is not one of `env`'s functions, one of `scalars` (plain values: `event`,
/// `timestamp`), `data`
/// or a field of `data` the catalog declares for `types`; with the message that names it.
pub fn unknown_variable(
    env: &Environment<'_>,
    variables: impl IntoIterator<Item = String>,
    types: EventSet,
    scalars: &[&str],
) -> Option<String> {
    let mut unknown: Vec<String> = variables
        .into_iter()
        .filter(|var| {
            let mut parts = var.split('.');
            match parts.next() {
                // The engine's own functions (`range`, `dict`, `namespace`, …).
                Some(root) if env.globals().any(|(name, _)| name == root) => false,
                Some(root) if scalars.contains(&root) => parts.next().is_some(),
                Some("data") => {
                    let path: Vec<&str> = parts.collect();
                    !path.is_empty() && !declared(types, &path)
                }
                _ => true,
            }
        })
        .collect();
    unknown.sort();
    let first = unknown.into_iter().next()?;
    let mut roots: Vec<String> = scalars.iter().map(|s| format!("`{s}`")).collect();
    roots.push("the data fields of the event catalog".into());
    Some(format!(
        "{first} is not a field of these events (available: {}).",
        roots.join(", ")
    ))
}
