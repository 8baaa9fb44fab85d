//! Accounts: sign-up, log-in, log-out, and who is asking.

#[cfg(feature = "ssr")]
pub mod client_addr;
#[cfg(feature = "ssr")]
pub mod limiter;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub use pages::{LoginPage, SignupPage};

/// The logged-in user, as pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: crate::domain::UserId,
    pub account_id: crate::domain::AccountId,
    pub email: String,
    /// In a session opened by a one-time link with a return URL: where "Back to <product>"
    /// leads, and the product's name.
    #[serde(default)]
    pub back: Option<(String, String)>,
}

/// Where to go after logging in: a path of this site, never another origin. Anything else —
/// `//host`, `/\host`, a tab or line feed that a browser drops (`/\t/evil.example` becomes
/// `//evil.example`), other whitespace or control characters — gives the default page.
pub fn safe_next(next: Option<&str>) -> String {
    const DEFAULT: &str = "/settings/webhooks";
    let Some(n) = next else {
        return DEFAULT.to_string();
    };
    let plain = n.len() <= 2048
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n.chars().any(|c| {
            c == '\\' || c.is_control() || c.is_whitespace() || crate::domain::is_format_char(c)
        });
    // And it must still be this site once a URL parser has read it.
    let base = url::Url::parse("http://this-site.invalid/").expect("a valid base");
    let same_site = plain && base.join(n).is_ok_and(|u| u.origin() == base.origin());
    if same_site {
        n.to_string()
    } else {
        DEFAULT.to_string()
    }
}

/// "3 minutes", "45 seconds".
#[cfg(feature = "ssr")]
fn wait_text(wait: std::time::Duration) -> String {
    match wait.as_secs_f64().ceil() as u64 {
        0..=1 => "1 second".to_string(),
        s @ 2..=59 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[server(prefix = "/fn", endpoint = "auth/me")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::error::with_status(async move { ssr::optional_user().await }.await)
}

#[server(prefix = "/fn", endpoint = "auth/signup")]
pub async fn signup(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::error::with_status(
        async move {
            use crate::domain::{Email, FieldErrors, Password};
            let echo = vec![("email".to_string(), email.clone())];
            let mut errors = FieldErrors::new();
            let email = Email::parse(&email)
                .map_err(|e| errors.add("email", e))
                .ok();
            let password = Password::parse(&password)
                .map_err(|e| errors.add("password", e))
                .ok();
            let (Some(email), Some(password)) = (email, password) else {
                return Err(AppError::Invalid(errors.with_echo(echo)));
            };
            let state = crate::state::app_state()?;
            ssr::password_login_allowed(&state)?;
            // Counted before the (costly) password hash.
            if let Err(wait) = state.login_limiter.signup_attempt(ssr::client_ip().await) {
                return Err(AppError::rate_limited(
                    format!(
                        "Too many sign-ups from your network. Try again in {}.",
                        wait_text(wait)
                    ),
                    wait,
                ));
            }
            let user = match ssr::create_account(&state.db, &email, &password).await {
                Ok(user) => user,
                Err(ssr::CreateAccountError::EmailTaken) => {
                    let mut errors = FieldErrors::new();
                    errors.add(
                        "email",
                        "An account with this e-mail already exists. Log in instead.",
                    );
                    return Err(AppError::Invalid(errors.with_echo(echo)));
                }
                Err(ssr::CreateAccountError::Db(e)) => return Err(e.into()),
            };
            ssr::start_session(&user).await?;
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/fn", endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::error::with_status(
        async move {
            use crate::domain::FieldErrors;
            let state = crate::state::app_state()?;
            ssr::password_login_allowed(&state)?;
            // Checked and counted in one step, before the password is: concurrent guesses
            // cannot all slip past the limit.
            if let Err(wait) = state
                .login_limiter
                .login_attempt(&email, ssr::client_ip().await)
            {
                return Err(AppError::rate_limited(
                    format!(
                        "Too many log-in attempts. Try again in {}.",
                        wait_text(wait)
                    ),
                    wait,
                ));
            }
            match ssr::authenticate(&state.db, &email, &password).await? {
                Some(user) => {
                    ssr::start_session(&user).await?;
                    leptos_axum::redirect(&safe_next(next.as_deref()));
                    Ok(())
                }
                None => Err(AppError::Invalid(
                    FieldErrors::form("Incorrect e-mail or password.")
                        .with_echo(vec![("email".to_string(), email)]),
                )),
            }
        }
        .await,
    )
}

#[server(prefix = "/fn", endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::error::with_status(
        async move {
            ssr::end_session().await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_path_of_this_site_or_the_default() {
        for ok in [
            "/settings/api-keys",
            "/settings/webhooks/7/edit?x=1&y=%2F%2Fz",
            "/a/b#frag",
            "/",
        ] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "/.\\evil",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/settings\nSet-Cookie: x=1",
            "/ /evil.example",
            "/\u{00A0}/evil",
            "/\u{202E}x",
            "/\u{0000}",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/settings/webhooks", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/settings/webhooks");
        assert_eq!(
            safe_next(Some(&format!("/{}", "a".repeat(3000)))),
            "/settings/webhooks"
        );
    }
}
