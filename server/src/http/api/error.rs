//! The JSON API's error: `{"error": {"code": "...", "message": "..."}}` with a fitting status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Per-field messages of a validation error.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// The scope a `403 insufficient_scope` lacks (told in `WWW-Authenticate` too, RFC 6750).
    pub required_scope: Option<app::domain::ApiScope>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: None,
            required_scope: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A valid key without the scope the route requires: `403 insufficient_scope`, naming it.
    pub fn insufficient_scope(scope: app::domain::ApiScope) -> Self {
        ApiError {
            required_scope: Some(scope),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "This API key lacks the scope `{scope}`, which this route requires; \
                     use a key with it (keys and their scopes are on /settings/api-keys)."
                ),
            )
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// A 422 `validation_failed` naming the one field at fault.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = serde_json::Map::new();
        fields.insert(field.to_string(), message.clone().into());
        ApiError {
            fields: Some(fields),
            ..Self::unprocessable("validation_failed", message)
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such resource in this account.",
        )
    }

    /// Storage is failing (full disk, database unreachable): retry after a few seconds.
    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!(
                "Storage is temporarily unavailable; nothing was changed. Retry in {} seconds.",
                app::storage::RETRY_AFTER_SECS
            ),
        )
    }

    /// Logged with its cause; the client learns only that it was our fault.
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let at = std::panic::Location::caller();
        tracing::error!(error = %cause, at = %at, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Please retry.",
        )
    }
}

impl ApiError {
    /// The `error` object of the answer (a batch's result carries one per failed event).
    pub fn detail(&self) -> super::types::ErrorDetail {
        super::types::ErrorDetail {
            code: self.code.to_string(),
            message: self.message.clone(),
            fields: self.fields.as_ref().map(|f| {
                f.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            }),
        }
    }
}

impl From<app::error::AppError> for ApiError {
    fn from(e: app::error::AppError) -> Self {
        use app::error::AppError;
        match e {
            AppError::Invalid(f) => {
                let mut err = ApiError::unprocessable("validation_failed", f.summary());
                err.fields = Some(
                    f.errors
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                if k.is_empty() { "body".into() } else { k },
                                serde_json::Value::String(v),
                            )
                        })
                        .collect(),
                );
                err
            }
            AppError::NotFound => ApiError::not_found(),
            AppError::Unauthorized => ApiError::unauthorized("Not allowed."),
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AppError::RateLimited { message, .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            }
            AppError::Unavailable => ApiError::storage_unavailable(),
            other => ApiError::internal(other),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// Logs where the error came from (the `?` that converted it), within the handler's span.
    #[track_caller]
    fn from(e: sea_orm::DbErr) -> Self {
        let at = std::panic::Location::caller();
        if app::storage::is_unavailable(&e) {
            tracing::error!(error = %e, at = %at, "API request failed: storage unavailable");
            return ApiError::storage_unavailable();
        }
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(match self.fields {
                Some(fields) => json!({ "error": { "code": self.code, "message": self.message, "fields": fields } }),
                None => json!({ "error": { "code": self.code, "message": self.message } }),
            }),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(app::storage::RETRY_AFTER_SECS),
            );
        }
        if let Some(scope) = self.required_scope {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_str(&format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
                ))
                .expect("scope names are header-safe"),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}
