use serde::{Deserialize, Serialize};

/// Validation messages keyed by form field (`""` for the form as a whole), plus an echo of what
/// the user submitted so that a form re-rendered on the server (JavaScript off) keeps the input.
/// Secrets (passwords) are never echoed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors {
    pub errors: Vec<(String, String)>,
    pub echo: Vec<(String, String)>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single message for the whole form.
    pub fn form(message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add("", message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.errors.push((field.to_string(), message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn with_echo(mut self, echo: Vec<(String, String)>) -> Self {
        self.echo = echo;
        self
    }

    /// The first echoed value of a field.
    pub fn echoed(&self, field: &str) -> Option<&str> {
        self.echo
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }

    /// Every echoed value of a multi-valued field (checkboxes).
    pub fn echoed_all(&self, field: &str) -> Vec<String> {
        self.echo
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One line per message, for logs and for clients that show a single string.
    pub fn summary(&self) -> String {
        self.errors
            .iter()
            .map(|(f, m)| {
                if f.is_empty() {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
