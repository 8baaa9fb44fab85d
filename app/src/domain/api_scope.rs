//! What an API key may do: its scopes. Every JSON API route requires exactly one (the
//! extractor `server::http::api::auth::ApiAccount<S>` names it in the handler's signature).
//! A key stores the names it was given, comma-separated; a key stored without any (created
//! before scopes existed: the column is NULL) keeps full access.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One permission of an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ApiScope {
    /// `POST /events`, `DELETE /events/{id}`.
    #[serde(rename = "events:publish")]
    EventsPublish,
    /// `GET /webhooks`, `GET /webhooks/{id}`.
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    /// Create, change, delete, test, rotate the secret of and replay webhooks.
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    /// `GET /webhooks/{id}/deliveries`, `GET /deliveries/{id}`.
    #[serde(rename = "deliveries:read")]
    DeliveriesRead,
    /// `POST /deliveries/{id}/redeliver`.
    #[serde(rename = "deliveries:write")]
    DeliveriesWrite,
}

impl ApiScope {
    /// Every scope, in the order the page and the documentation list them.
    pub const ALL: [ApiScope; 5] = [
        ApiScope::EventsPublish,
        ApiScope::WebhooksRead,
        ApiScope::WebhooksWrite,
        ApiScope::DeliveriesRead,
        ApiScope::DeliveriesWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::EventsPublish => "events:publish",
            ApiScope::WebhooksRead => "webhooks:read",
            ApiScope::WebhooksWrite => "webhooks:write",
            ApiScope::DeliveriesRead => "deliveries:read",
            ApiScope::DeliveriesWrite => "deliveries:write",
        }
    }

    /// What it allows, in a few words (the page's checkbox labels, the API documentation).
    pub fn description(self) -> &'static str {
        match self {
            ApiScope::EventsPublish => "publish and cancel events",
            ApiScope::WebhooksRead => "list and read webhooks",
            ApiScope::WebhooksWrite => {
                "create, change, delete, test, rotate the secret of and replay webhooks"
            }
            ApiScope::DeliveriesRead => "read the delivery log",
            ApiScope::DeliveriesWrite => "redeliver deliveries",
        }
    }

    /// Parses a scope name exactly as documented (`webhooks:read`).
    pub fn parse(name: &str) -> Result<ApiScope, String> {
        ApiScope::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                format!(
                    "unknown scope `{shown}`; the scopes are {}",
                    ApiScope::ALL.map(ApiScope::as_str).join(", ")
                )
            })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes of one key: at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApiScopes(u8);

impl ApiScopes {
    /// Every scope (what a key created without a choice, or before scopes existed, has).
    pub fn all() -> ApiScopes {
        ApiScopes::of(ApiScope::ALL)
    }

    pub fn of(scopes: impl IntoIterator<Item = ApiScope>) -> ApiScopes {
        ApiScopes(scopes.into_iter().fold(0, |set, s| set | s.bit()))
    }

    /// Parses submitted names (the page's checkboxes): an unknown name is an error, so is
    /// choosing none; duplicates are fine.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<ApiScopes, String> {
        let mut set = ApiScopes(0);
        for name in names {
            set.0 |= ApiScope::parse(name.as_ref().trim())?.bit();
        }
        if set.0 == 0 {
            return Err("Choose at least one scope.".into());
        }
        Ok(set)
    }

    /// Reads the stored column: NULL (a key from before scopes) is every scope; unknown names
    /// are ignored.
    pub fn from_stored(stored: Option<&str>) -> ApiScopes {
        match stored {
            None => ApiScopes::all(),
            Some(s) => ApiScopes::of(s.split(',').filter_map(|n| ApiScope::parse(n).ok())),
        }
    }

    pub fn to_stored(self) -> String {
        self.iter()
            .map(ApiScope::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn contains(self, scope: ApiScope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = ApiScope> {
        ApiScope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn is_all(self) -> bool {
        self == ApiScopes::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for s in ApiScope::ALL {
            assert_eq!(ApiScope::parse(s.as_str()), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn unknown_and_near_miss_names_are_refused_by_name() {
        for bad in [
            "",
            "webhooks",
            "Webhooks:read",
            "webhooks:read ",
            "events:write",
        ] {
            let err = ApiScope::parse(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
            assert!(err.contains("deliveries:write"), "lists the scopes: {err}");
        }
    }

    #[test]
    fn sets_parse_store_and_read_back() {
        assert!(ApiScopes::parse::<&str>(&[]).is_err());
        assert!(ApiScopes::parse(&["webhooks:read", "nope"]).is_err());
        let set = ApiScopes::parse(&["deliveries:read", "webhooks:read", "webhooks:read"]).unwrap();
        assert_eq!(set.to_stored(), "webhooks:read,deliveries:read");
        assert_eq!(ApiScopes::from_stored(Some(&set.to_stored())), set);
        assert!(set.contains(ApiScope::WebhooksRead));
        assert!(!set.contains(ApiScope::WebhooksWrite));
        assert!(!set.is_all());
    }

    #[test]
    fn keys_stored_without_scopes_have_them_all() {
        let all = ApiScopes::from_stored(None);
        assert!(all.is_all());
        assert!(ApiScope::ALL.iter().all(|s| all.contains(*s)));
        assert_eq!(all.iter().count(), 5);
    }
}
