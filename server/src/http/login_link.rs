//! `GET /login/link/{token}`: a one-time log-in link opened (by a redirect, a click or an
//! iframe's `src`). A good link starts a new session as the account's owner, lasting
//! `SKW_LINK_SESSION_TTL`, and redirects to its page; a used, expired or unknown one gets a
//! page saying so, and logs in nobody.

use app::auth::ssr::USER_ID_KEY;
use app::operator::login_links::{self, Refused};
use app::operator::portal::{LinkSession, LINK_SESSION_KEY};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::{Expiry, Session};

pub async fn open(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> Response {
    let mut res = match open_link(&state, &session, &token).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(page) => page,
    };
    // The token is in this URL: no page after it learns it, and nothing keeps it.
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn open_link(state: &AppState, session: &Session, token: &str) -> Result<String, Response> {
    let now = state.portal.clock.now_ms();
    let link = match login_links::redeem(&state.db, token, now).await {
        Ok(Ok(link)) => link,
        Ok(Err(refused)) => return Err(refused_page(state, refused)),
        Err(e) => {
            tracing::error!(error = %e, "a log-in link could not be checked");
            state.storage.observe_err(&e);
            return Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "This link could not be checked",
                "Something went wrong on our side; the link was not used. Please try it again in a few seconds.",
            ));
        }
    };
    let fail = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "a session could not be opened for a log-in link");
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "You could not be logged in",
            "Something went wrong on our side. Please ask for a new link.",
        )
    };
    let owner = app::operator::accounts::owner_of(&state.db, link.account_id)
        .await
        .map_err(|e| fail(&e))?;
    // Whoever was logged in in this browser before: not any more (a new session, new id).
    if session.id().is_some() {
        session.flush().await.map_err(|e| fail(&e))?;
    }
    session
        .insert(USER_ID_KEY, owner.id)
        .await
        .map_err(|e| fail(&e))?;
    session
        .insert(
            LINK_SESSION_KEY,
            LinkSession {
                return_url: link.return_url.clone(),
                embedded: link.embedded,
            },
        )
        .await
        .map_err(|e| fail(&e))?;
    session.set_expiry(Some(Expiry::AtDateTime(
        OffsetDateTime::now_utc() + Duration::seconds(state.portal.link_session_secs),
    )));
    Ok(link.path)
}

fn refused_page(state: &AppState, refused: Refused) -> Response {
    let product = &state.portal.product_name;
    let (status, title, why) = match refused {
        Refused::Used => (
            StatusCode::GONE,
            "This log-in link has already been used",
            "A log-in link works once.",
        ),
        Refused::Expired => (
            StatusCode::GONE,
            "This log-in link has expired",
            "A log-in link works for a few minutes only.",
        ),
        Refused::Unknown => (
            StatusCode::NOT_FOUND,
            "This log-in link is not valid",
            "It may have been copied incompletely or changed.",
        ),
    };
    page(
        status,
        title,
        &format!("{why} Open your webhook settings from {product} again to get a new one."),
    )
}

/// A small page of its own (no app, no script), escaped.
pub fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    (
        status,
        Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t} · SchedulingKit</title></head>\
             <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1a1a1a\">\
             <main><h1>{t}</h1><p>{x}</p></main></body></html>",
            t = esc(title),
            x = esc(text)
        )),
    )
        .into_response()
}
