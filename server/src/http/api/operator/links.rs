//! `POST /api/v1/accounts/{external_id}/login-links`: a one-time log-in link into the pages.

use app::operator::login_links::{self, NewLink};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::super::error::ApiError;
use super::super::json::parse;
use super::super::types::{rfc3339, ErrorBody};
use super::accounts::provisioned;
use super::auth::Operator;
use super::types::{LoginLink, NewLoginLink};

#[utoipa::path(post, path = "/api/v1/accounts/{external_id}/login-links", tag = "operator", operation_id = "createLoginLink", security(("operatorKey" = [])),
    params(("external_id" = String, Path, description = "The product's own id of the account", example = "cus_123")),
    request_body(content = Option<NewLoginLink>, description = "Optional: the page it opens, the return URL, embedded"),
    responses(
        (status = 201, description = "A link valid for `SKW_LOGIN_LINK_TTL` (default 5 minutes), good for one use", body = LoginLink),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "`path` is not a settings page of this account, or `return_url` is not on an allowed origin", body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "create_login_link"))]
pub async fn create_login_link(
    State(state): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<LoginLink>), ApiError> {
    let account = provisioned(&state, &raw).await?;
    let want: NewLoginLink = if body.iter().all(u8::is_ascii_whitespace) {
        NewLoginLink::default()
    } else {
        parse(&body)?
    };
    let path = login_links::check_path(&state.db, account.account_id, want.path.as_deref())
        .await
        .map_err(|m| ApiError::invalid_field("path", m))?;
    let return_url = want
        .return_url
        .as_deref()
        .map(|u| login_links::check_return_url(u, &state.portal.return_origins))
        .transpose()
        .map_err(|m| ApiError::invalid_field("return_url", m))?;
    let now = state.portal.clock.now_ms();
    let (token, expires_at) = login_links::create(
        &state.db,
        NewLink {
            account_id: account.account_id,
            path,
            return_url,
            embedded: want.embedded.unwrap_or(false),
        },
        now,
        state.portal.link_ttl_ms,
    )
    .await?;
    let base = state.portal.public_url.trim_end_matches('/');
    Ok((
        StatusCode::CREATED,
        Json(LoginLink {
            url: format!("{base}/login/link/{token}"),
            expires_at: rfc3339(expires_at),
        }),
    ))
}
