//! The one error type of the app layer: what server functions return and pages show.
//!
//! Database and internal errors are logged where they happen and reach the user only as
//! `Internal` ("something went wrong"), never with their text.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

use crate::domain::FieldErrors;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input that did not validate; messages are keyed by field.
    #[error("Please correct the highlighted fields.")]
    Invalid(FieldErrors),
    #[error("Please log in to continue.")]
    Unauthorized,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the message says when to try again, and so does the answer's
    /// `Retry-After` (whole seconds).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Storage is failing (full disk, database unreachable); nothing was changed.
    #[error("The service is briefly unavailable (storage). Nothing was changed; please try again in a few seconds.")]
    Unavailable,
    /// The request could not reach the server or its answer could not be read.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// Too many attempts: try again after `wait`.
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> AppError {
        AppError::RateLimited {
            message: message.into(),
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        AppError::Invalid(e)
    }

    /// The field errors, if this is a validation error.
    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Invalid(f) => Some(f),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments that do not deserialize are the caller's mistake.
            ServerFnErrorErr::Args(msg) => AppError::Invalid(FieldErrors::form(format!(
                "The submitted form could not be read ({msg})."
            ))),
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Response(msg) => {
                AppError::Transport(msg)
            }
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    /// Logs the error with where it came from (the `?` that converted it) and the span of the
    /// request (its server function and account).
    #[track_caller]
    fn from(e: sea_orm::DbErr) -> Self {
        let at = std::panic::Location::caller();
        tracing::error!(error = %e, at = %at, "database error");
        if crate::storage::is_unavailable(&e) {
            return AppError::Unavailable;
        }
        AppError::Internal
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        tracing::error!(error = %e, "session store error");
        AppError::Internal
    }
}

impl AppError {
    /// The HTTP status that fits.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Transport(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

/// Gives a server function's error response the status that fits it (404 for another
/// account's id, 422 for invalid input, …) when it is called as an API. A plain HTML form post
/// keeps leptos' redirect back to the form, which then shows the error.
#[cfg(feature = "ssr")]
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    use leptos::prelude::use_context;
    if let Err(e) = &result {
        let plain_form = crate::request::wants_html();
        // Storage faults answer 503 + Retry-After to every caller, forms included.
        if !plain_form || *e == AppError::Unavailable {
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.set_status(e.status());
                let retry_after = match e {
                    AppError::Unavailable => Some(crate::storage::RETRY_AFTER_SECS),
                    AppError::RateLimited {
                        retry_after_secs, ..
                    } => Some(*retry_after_secs),
                    _ => None,
                };
                if let Some(secs) = retry_after {
                    res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
            }
        }
    }
    result
}
