//! What filters and templates share (server only): the `minijinja` environment's rules, error
//! messages with line and column, and the check of every variable against the event catalog.

use minijinja::{Environment, UndefinedBehavior};

use super::{catalog, EventSet};

/// An environment where a field an event lacks is undefined (false in a test, empty or `null`
/// when printed), also several levels deep, so a real event with fewer fields than the catalog's
/// example never fails.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

/// `Line 2, column 7: unexpected end of input.` (the column when the engine gives the place).
pub fn describe(e: &minijinja::Error, source: &str) -> String {
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
/// gives them — that is not one of `scalars` (plain values: `event`, `timestamp`) nor `data`
/// or a field of `data` the catalog declares for `types`; with the message that names it.
pub fn unknown_variable(
    variables: impl IntoIterator<Item = String>,
    types: EventSet,
    scalars: &[&str],
) -> Option<String> {
    let mut unknown: Vec<String> = variables
        .into_iter()
        .filter(|var| {
            let mut parts = var.split('.');
            match parts.next() {
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
