//! How long a browser (or anything on the way) may keep each answer of the pages' router:
//!
//! * the settings pages and server functions show one user's data, some of it secret (a
//!   signing secret after **Reveal**, an API key once after its creation): `no-store`;
//! * the bundle's files carry a content hash in their names (cargo-leptos `hash-files`), so a
//!   new build has new names: `public, max-age=31536000, immutable`;
//! * everything else (the log-in and sign-up pages, the icon, an unhashed bundle of a build
//!   without hashes): `no-cache` — kept, but revalidated before each use.
//!
//! An answer that already says how it may be cached keeps its own header.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The `Cache-Control` for a path of the pages' router.
pub fn policy_for(path: &str) -> &'static str {
    if path == "/settings" || path.starts_with("/settings/") || path.starts_with("/fn/") {
        "no-store"
    } else if is_hashed_bundle_file(path) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// `/pkg/<output name>.<hash>.<ext>`: a file of the bundle whose name carries its hash.
fn is_hashed_bundle_file(path: &str) -> bool {
    let Some(file) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let Some(rest) = file.strip_prefix(app::OUTPUT_NAME) else {
        return false;
    };
    // ".<hash>.<ext>" (possibly "_bg.<hash>.wasm" for the WASM file).
    let rest = rest.strip_prefix("_bg").unwrap_or(rest);
    let mut parts = rest.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(""), Some(hash), Some("js" | "wasm" | "css"), None)
            if hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    )
}

pub async fn cache_policy(req: Request, next: Next) -> Response {
    let policy = policy_for(req.uri().path());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if policy == "no-store" {
        // Private data: nothing below may relax it.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    } else {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(policy));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::policy_for;

    #[test]
    fn private_pages_hashed_files_and_the_rest() {
        assert_eq!(policy_for("/settings/webhooks"), "no-store");
        assert_eq!(policy_for("/fn/webhooks/list"), "no-store");
        let name = app::OUTPUT_NAME;
        for hashed in [
            format!("/pkg/{name}.AbCdEf0123456789xyz_-Q.wasm"),
            format!("/pkg/{name}_bg.AbCdEf0123456789.wasm"),
            format!("/pkg/{name}.AbCdEf0123456789.js"),
            format!("/pkg/{name}.AbCdEf0123456789.css"),
        ] {
            assert_eq!(
                policy_for(&hashed),
                "public, max-age=31536000, immutable",
                "{hashed}"
            );
        }
        for plain in [
            format!("/pkg/{name}.wasm"),
            format!("/pkg/{name}.css"),
            format!("/pkg/{name}.AbCdEf0123456789.html"),
            "/favicon.svg".to_string(),
            "/login".to_string(),
        ] {
            assert_eq!(policy_for(&plain), "no-cache", "{plain}");
        }
    }
}
