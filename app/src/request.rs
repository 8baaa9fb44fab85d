//! The one context of a server function that acts for the logged-in user (server only): who
//! is asking, the application's state, and whether the caller is a plain HTML form (JavaScript
//! off). [`as_user`] is the single way in: it checks the session, opens a tracing span with the
//! account, and answers an error with its HTTP status.

use std::future::Future;
use tracing::Instrument;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// What a server function acting for a user works with.
pub struct UserRequest {
    pub user: CurrentUser,
    pub state: AppState,
}

/// True when the current request is a plain HTML form post (JavaScript off), which expects
/// a redirect rather than data.
pub fn wants_html() -> bool {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

/// Runs `work` for the logged-in user (`Unauthorized` without one), inside a span named
/// `name` that carries the account id — so every log line below it, a database error
/// included, says which account and which server function it came from.
pub async fn as_user<T, Fut>(
    name: &'static str,
    work: impl FnOnce(UserRequest) -> Fut,
) -> Result<T, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    let result = async {
        let user = crate::auth::ssr::require_user().await?;
        let state = crate::state::app_state()?;
        let span = tracing::info_span!("server_fn", name, account_id = %user.account_id);
        work(UserRequest { user, state }).instrument(span).await
    }
    .await;
    crate::error::with_status(result)
}
