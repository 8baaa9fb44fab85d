//! Plain form posts (no JavaScript) and what the page after them may show.
//!
//! A server function called by a plain `<form>` that fails redirects back to the form's page
//! with the error in the query (`?__path=…&__err=…`, leptos' progressive enhancement), and the
//! page shows the messages and refills the form from the input echoed in it. Anyone can make a
//! link with such a query, though, and so put their text into the victim's own form (a webhook
//! URL of theirs, a description) and its messages. So the pages honour an error only when this
//! session's own form post has just produced it, once: the error is remembered in the session
//! when the redirect is sent, and a page request carrying any other `__err` is redirected to
//! the same page without it.

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// The session key of the error the last failed plain form post was sent back with.
const FORM_ERROR_KEY: &str = "form_error";
const ERROR_PARAM: &str = "__err";
const PATH_PARAM: &str = "__path";

pub async fn form_errors(session: Session, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/fn/") {
        let referer = req
            .headers()
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .map(str::to_string);
        let res = next.run(req).await;
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok());
        if let Some(error) = location.and_then(|l| sent_back_with(l, referer.as_deref()?)) {
            if let Err(e) = session.insert(FORM_ERROR_KEY, error).await {
                tracing::warn!(error = %e, "cannot remember a form's error in the session");
            }
        }
        return res;
    }
    if req.method() == Method::GET {
        if let Some(query) = req.uri().query() {
            if let Some(error) = param(query, ERROR_PARAM) {
                let ours = session
                    .remove::<String>(FORM_ERROR_KEY)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|e| e == error);
                if !ours {
                    // Never `//host…`, which a browser would take for another site.
                    let path = match req.uri().path() {
                        p if p.starts_with("//") || p.starts_with("/\\") => "/",
                        p => p,
                    };
                    let rest = without_error(query);
                    let to = if rest.is_empty() {
                        path.to_string()
                    } else {
                        format!("{path}?{rest}")
                    };
                    return Redirect::to(&to).into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// The error of leptos' redirect back to the form's page: `location` is then the `referer`
/// plus the error parameters. (A redirect elsewhere that carries `__err` — a log-in's `next`
/// made by someone else — is not this request's error.)
fn sent_back_with(location: &str, referer: &str) -> Option<String> {
    let (location, referer) = (
        url::Url::parse(location).ok()?,
        url::Url::parse(referer).ok()?,
    );
    let error = param(location.query()?, ERROR_PARAM)?;
    let bare = |mut u: url::Url| {
        let rest = without_error(u.query().unwrap_or_default());
        u.set_query(Some(&rest).filter(|r| !r.is_empty()).map(|r| r.as_str()));
        u
    };
    (bare(location) == bare(referer)).then_some(error)
}

/// The last value of `name` (the one leptos reads).
fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .last()
        .map(|(_, v)| v.into_owned())
}

/// The query without leptos' error parameters.
fn without_error(query: &str) -> String {
    let kept = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != ERROR_PARAM && k != PATH_PARAM);
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_parameters_are_dropped_and_the_rest_kept() {
        assert_eq!(
            without_error("a=1&__path=%2Ffn%2Fx&__err=eyJ9&next=%2Fx%3Fy"),
            "a=1&next=%2Fx%3Fy"
        );
        assert_eq!(without_error("__err=x"), "");
        assert_eq!(param("a=1&__err=ab%3D", "__err").as_deref(), Some("ab="));
        assert_eq!(param("a=1", "__err"), None);
        assert_eq!(
            param("__err=old&a=1&__err=new", "__err").as_deref(),
            Some("new")
        );
    }

    #[test]
    fn only_the_redirect_back_to_the_form_is_its_error() {
        let page = "http://h:1/settings/webhooks/create?x=1";
        assert_eq!(
            sent_back_with(&format!("{page}&__path=%2Ffn%2Fa&__err=e1"), page).as_deref(),
            Some("e1")
        );
        // After an earlier failure the page's address already has one.
        assert_eq!(
            sent_back_with(
                "http://h:1/p?__path=a&__err=e1&__path=a&__err=e2",
                "http://h:1/p?__path=a&__err=e1"
            )
            .as_deref(),
            Some("e2")
        );
        // A log-in sending the browser on to a `next` that carries someone's `__err`.
        assert_eq!(
            sent_back_with(
                "http://h:1/settings/webhooks/create?__err=forged",
                "http://h:1/login?next=%2Fsettings%2Fwebhooks%2Fcreate%3F__err%3Dforged"
            ),
            None
        );
        assert_eq!(sent_back_with("/settings?__err=x", "/settings"), None);
        assert_eq!(sent_back_with("http://h:1/p", "http://h:1/p"), None);
    }
}
