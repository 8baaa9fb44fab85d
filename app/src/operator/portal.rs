//! The pages as the product's own: its name, logo and accent colour, whether password log-in
//! exists at all, who may frame the pages, where "Back to <product>" may lead, and what a
//! session opened by a one-time link remembers.

use serde::{Deserialize, Serialize};

/// The session key holding what a link-opened session remembers ([`LinkSession`]).
pub const LINK_SESSION_KEY: &str = "link";

/// The operator's settings of the pages (from `SKW_*`, see the server's configuration).
#[derive(Clone, Debug)]
pub struct Portal {
    /// This site's public URL (`SKW_PUBLIC_URL`): the links point there.
    pub public_url: String,
    /// Shown as "Back to <product>" and on the pages that replace log-in.
    pub product_name: String,
    /// An image URL shown as the logo (https, or this site's path).
    pub logo_url: Option<String>,
    /// A `#rrggbb` colour for links and buttons.
    pub accent: Option<String>,
    /// Sign-up and password log-in (off: the product provisions every account).
    pub password_login: bool,
    /// Origins allowed to frame the pages (`frame-ancestors`); empty: none may.
    pub frame_ancestors: Vec<String>,
    /// Origins a link's `return_url` may point to.
    pub return_origins: Vec<String>,
    /// How long a new link stays valid.
    pub link_ttl_ms: i64,
    /// How long a session opened by a link lasts (from its opening).
    pub link_session_secs: i64,
    /// Added to this process's clock when links are made and spent (tests move it).
    pub clock: LinkClock,
}

impl Default for Portal {
    fn default() -> Self {
        Portal {
            public_url: "http://127.0.0.1:3000".into(),
            product_name: "your scheduling app".into(),
            logo_url: None,
            accent: None,
            password_login: true,
            frame_ancestors: Vec::new(),
            return_origins: Vec::new(),
            link_ttl_ms: 5 * 60 * 1000,
            link_session_secs: 8 * 3600,
            clock: LinkClock::default(),
        }
    }
}

impl Portal {
    /// Whether the pages may be framed by some origin (then the session cookie is
    /// `SameSite=None; Secure`).
    pub fn embeddable(&self) -> bool {
        !self.frame_ancestors.is_empty()
    }
}

/// The links' clock: this process's, plus an offset that tests move instead of sleeping.
#[derive(Clone, Debug, Default)]
pub struct LinkClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl LinkClock {
    pub fn now_ms(&self) -> i64 {
        crate::entities::now_ms() + self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn advance(&self, by: std::time::Duration) {
        self.0
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What a link-opened session remembers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSession {
    pub return_url: Option<String>,
    pub embedded: bool,
}
