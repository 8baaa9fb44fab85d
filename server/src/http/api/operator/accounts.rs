//! `PUT|GET|DELETE /api/v1/accounts/{external_id}` and `GET /api/v1/accounts`.

use app::domain::{Email, ExternalId};
use app::operator::accounts::{self, Provision, ProvisionError};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;

use super::super::error::ApiError;
use super::super::json::ApiJson;
use super::super::types::ErrorBody;
use super::auth::Operator;
use super::types::{Account, AccountList, AccountQuery, PutAccount};

/// The external id of a path, checked.
pub fn external_id(raw: &str) -> Result<ExternalId, ApiError> {
    ExternalId::parse(raw).map_err(|m| ApiError::invalid_field("external_id", m))
}

/// The account of a path's external id, or 404.
pub async fn provisioned(state: &AppState, raw: &str) -> Result<accounts::Provisioned, ApiError> {
    let id = external_id(raw)?;
    accounts::find(&state.db, &id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("There is no account with the external id {id}."),
        )
    })
}

#[utoipa::path(put, path = "/api/v1/accounts/{external_id}", tag = "operator", operation_id = "putAccount", security(("operatorKey" = [])),
    params(("external_id" = String, Path, description = "The product's own id of the account", example = "cus_123")),
    request_body = PutAccount,
    responses(
        (status = 200, description = "Updated (or unchanged: the same PUT again changes nothing)", body = Account),
        (status = 201, description = "Created", body = Account),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "Another account's owner has this e-mail", body = ErrorBody),
        (status = 422, description = "A bad external id, name or e-mail, or no `owner_email` for a new account", body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "put_account"))]
pub async fn put_account(
    State(state): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<PutAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let id = external_id(&raw)?;
    let name = body
        .name
        .as_deref()
        .map(accounts::parse_name)
        .transpose()
        .map_err(|m| ApiError::invalid_field("name", m))?;
    let owner_email = body
        .owner_email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|m| ApiError::invalid_field("owner_email", m))?;
    let want = Provision { name, owner_email };
    match accounts::upsert(&state.db, &id, &want).await {
        Ok((account, created)) => Ok((
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(account.into()),
        )),
        Err(ProvisionError::OwnerEmailRequired) => Err(ApiError::invalid_field(
            "owner_email",
            "`owner_email` is required to create an account.",
        )),
        Err(ProvisionError::EmailTaken) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "Another account's owner already has this e-mail.",
        )),
        Err(ProvisionError::Db(e)) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/accounts/{external_id}", tag = "operator", operation_id = "getAccount", security(("operatorKey" = [])),
    params(("external_id" = String, Path, description = "The product's own id of the account", example = "cus_123")),
    responses((status = 200, body = Account), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "get_account"))]
pub async fn get_account(
    State(state): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(provisioned(&state, &raw).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "operator", operation_id = "listAccounts", security(("operatorKey" = [])),
    params(AccountQuery),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "list_accounts"))]
pub async fn list_accounts(
    State(state): State<AppState>,
    _op: Operator,
    uri: Uri,
) -> Result<Json<AccountList>, ApiError> {
    use axum::extract::Query;
    let Query(q) = Query::<AccountQuery>::try_from_uri(&uri)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=accounts::MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("`limit` must be between 1 and {}.", accounts::MAX_PAGE),
        ));
    }
    let page = accounts::list(&state.db, q.after.as_deref(), limit + 1).await?;
    let more = page.len() as u64 > limit;
    let data: Vec<Account> = page
        .into_iter()
        .take(limit as usize)
        .map(Into::into)
        .collect();
    let next_after = more
        .then(|| data.last().map(|a| a.external_id.clone()))
        .flatten();
    Ok(Json(AccountList { data, next_after }))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{external_id}", tag = "operator", operation_id = "deleteAccount", security(("operatorKey" = [])),
    params(("external_id" = String, Path, description = "The product's own id of the account", example = "cus_123")),
    responses((status = 204, description = "The account, its webhooks, queue, logs, keys and links are gone; its deliveries in flight end without being recorded"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "delete_account"))]
pub async fn delete_account(
    State(state): State<AppState>,
    _op: Operator,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = provisioned(&state, &raw).await?;
    accounts::delete(&state.db, &state.gate, account.account_id).await?;
    state.api_keys.forget_account(account.account_id);
    Ok(StatusCode::NO_CONTENT)
}
