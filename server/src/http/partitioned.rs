//! The session cookie of pages that other sites may frame: `Partitioned` (CHIPS), besides
//! `SameSite=None; Secure`. Browsers that block third-party cookies (Chrome's incognito and
//! Playwright's contexts, Safari, Firefox's strict mode) still keep a partitioned cookie for
//! the frame — in a jar of the framing site's own, so a session opened inside the product's
//! frame lives only there. tower-sessions cannot set the attribute, so it is added here to the
//! `Set-Cookie` the session layer wrote.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::SESSION_COOKIE;

pub async fn session_cookie(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| partitioned(v).unwrap_or_else(|| v.clone()))
        .collect();
    if cookies.is_empty() {
        return res;
    }
    headers.remove(header::SET_COOKIE);
    for c in cookies {
        headers.append(header::SET_COOKIE, c);
    }
    res
}

/// The session cookie with `; Partitioned`, or `None` for any other cookie (or one that has it).
fn partitioned(cookie: &HeaderValue) -> Option<HeaderValue> {
    let text = cookie.to_str().ok()?;
    let name = text.split('=').next()?.trim();
    if name != SESSION_COOKIE
        || text
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("partitioned"))
    {
        return None;
    }
    HeaderValue::from_str(&format!("{text}; Partitioned")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_session_cookie_is_partitioned_once() {
        let session = HeaderValue::from_static("skw_session=abc; HttpOnly; SameSite=None; Secure");
        assert_eq!(
            partitioned(&session).unwrap(),
            "skw_session=abc; HttpOnly; SameSite=None; Secure; Partitioned"
        );
        let done = partitioned(&session).unwrap();
        assert!(partitioned(&done).is_none());
        assert!(partitioned(&HeaderValue::from_static("other=1; Secure")).is_none());
        assert!(partitioned(&HeaderValue::from_static("skw_session_x=1")).is_none());
    }
}
