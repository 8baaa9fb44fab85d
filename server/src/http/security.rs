//! Browser-facing protections: security headers on every answer, and same-origin checks for
//! the requests that change state with a session cookie (forms and server functions).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Headers every answer carries. (The pages' Content-Security-Policy, which needs the
/// per-request nonce of the inline hydration script, is set by the app's shell.)
pub fn add_headers(res: &mut Response, framable: bool) {
    let h = res.headers_mut();
    if !framable {
        h.entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
}

/// The security headers; where the operator lets origins frame the pages, no
/// `X-Frame-Options` (it cannot name them) and, on answers without a policy of their own (the
/// pages set theirs), `frame-ancestors` with those origins.
pub async fn headers(
    State(portal): State<std::sync::Arc<app::operator::portal::Portal>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    if portal.embeddable() {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "frame-ancestors {}",
            portal.frame_ancestors.join(" ")
        )) {
            res.headers_mut()
                .entry(header::CONTENT_SECURITY_POLICY)
                .or_insert(v);
        }
    }
    add_headers(&mut res, portal.embeddable());
    res
}

/// The origins a state-changing browser request may come from.
#[derive(Clone, Debug)]
pub struct Origins {
    /// `scheme://host[:port]` of `SKW_PUBLIC_URL`.
    pub public: String,
}

impl Origins {
    pub fn from_public_url(public_url: &str) -> Origins {
        let public = url::Url::parse(public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Origins { public }
    }
}

/// Refuses a POST to the pages or server functions whose `Origin` (or, without one, `Referer`)
/// names another site. Browsers send `Origin` on every cross-site POST, so a forged form on
/// another site is refused here even before SameSite=Lax keeps the cookie away; clients that
/// are not browsers send neither header and carry no victim's cookie.
pub async fn same_origin(State(origins): State<Origins>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET
        || req.method() == Method::HEAD
        || req.method() == Method::OPTIONS
    {
        return next.run(req).await;
    }
    if !allowed(req.headers(), &origins) {
        tracing::warn!(path = %req.uri().path(), "cross-origin request refused");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin requests are not allowed.",
        )
            .into_response();
    }
    next.run(req).await
}

fn allowed(headers: &HeaderMap, origins: &Origins) -> bool {
    let claimed = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some("null") => return false,
        Some(o) => o.to_string(),
        None => match headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| url::Url::parse(r).ok())
        {
            Some(u) => u.origin().ascii_serialization(),
            None => return true,
        },
    };
    if claimed == origins.public {
        return true;
    }
    // Same host as the request itself (the site reached under another name, e.g. localhost).
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (url::Url::parse(&claimed), host) {
        (Ok(u), Some(host)) => {
            let authority = match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            };
            authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn only_this_site_may_post() {
        let o = Origins::from_public_url("https://hooks.example.com");
        assert!(allowed(&h(&[("origin", "https://hooks.example.com")]), &o));
        assert!(allowed(
            &h(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            &o
        ));
        assert!(allowed(
            &h(&[("referer", "https://hooks.example.com/settings/webhooks")]),
            &o
        ));
        assert!(
            allowed(&h(&[]), &o),
            "non-browser clients send neither header"
        );
        assert!(!allowed(&h(&[("origin", "https://evil.example")]), &o));
        assert!(!allowed(
            &h(&[
                ("origin", "https://evil.example"),
                ("host", "hooks.example.com")
            ]),
            &o
        ));
        assert!(!allowed(
            &h(&[("referer", "https://evil.example/form")]),
            &o
        ));
        assert!(!allowed(&h(&[("origin", "null")]), &o));
    }
}
