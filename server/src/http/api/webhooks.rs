//! `/api/v1/webhooks`: the same operations as the settings pages, with the same validation.

use app::domain::{WebhookDraft, WebhookInput};
use app::state::AppState;
use app::webhooks::ssr as hooks;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::auth::ApiAccount;
use super::error::ApiError;
use super::json::ApiJson;
use super::types::{
    CreateWebhook, ErrorBody, Secret, TestResult, UpdateWebhook, Webhook, WebhookList,
};

/// An id from the path; anything that is not one of the account's webhooks is a 404.
pub async fn owned(
    state: &AppState,
    account: ApiAccount,
    id: &str,
) -> Result<app::entities::webhook::Model, ApiError> {
    let id: app::domain::WebhookId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(app::entities::scope::owned_webhook(&state.db, account.account_id, id).await?)
}

fn input_of(m: &app::entities::webhook::Model) -> WebhookInput {
    WebhookInput {
        name: m.name.clone(),
        url: m.url.clone(),
        events: hooks::event_names(m),
        active: m.active,
        timeout_secs: m.timeout_secs.to_string(),
        retry_attempts: m.retry_attempts.to_string(),
        description: m.description.clone(),
    }
}

async fn parse(input: &WebhookInput, state: &AppState) -> Result<WebhookDraft, ApiError> {
    Ok(hooks::vet(input, state.policy).await?)
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "list", account_id = %account.account_id))]
pub async fn list(
    State(state): State<AppState>,
    account: ApiAccount,
) -> Result<Json<WebhookList>, ApiError> {
    let data = hooks::all_owned(&state.db, account.account_id)
        .await?
        .into_iter()
        .map(|m| Webhook::from_model(m, None))
        .collect();
    Ok(Json(WebhookList { data }))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, description = "Created; the only answer besides rotate that carries the secret", body = Webhook),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "create", account_id = %account.account_id))]
pub async fn create(
    State(state): State<AppState>,
    account: ApiAccount,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let input = WebhookInput {
        name: body.name,
        url: body.url,
        events: body.events,
        active: body.active.unwrap_or(true),
        timeout_secs: body.timeout_secs.map(|n| n.to_string()).unwrap_or_default(),
        retry_attempts: body
            .retry_attempts
            .map(|n| n.to_string())
            .unwrap_or_default(),
        description: body.description.unwrap_or_default(),
    };
    let draft = parse(&input, &state).await?;
    let model = hooks::create(&state.db, &state.secrets, account.account_id, &draft).await?;
    let secret = hooks::secret_of(&state.secrets, &model)?;
    Ok((
        StatusCode::CREATED,
        Json(Webhook::from_model(model, Some(secret))),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "get", account_id = %account.account_id))]
pub async fn get(
    State(state): State<AppState>,
    account: ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(Webhook::from_model(
        owned(&state, account, &id).await?,
        None,
    )))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "update", account_id = %account.account_id))]
pub async fn update(
    State(state): State<AppState>,
    account: ApiAccount,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<Webhook>, ApiError> {
    let model = owned(&state, account, &id).await?;
    let mut input = input_of(&model);
    if let Some(v) = body.name {
        input.name = v;
    }
    if let Some(v) = body.url {
        input.url = v;
    }
    if let Some(v) = body.events {
        input.events = v;
    }
    if let Some(v) = body.active {
        input.active = v;
    }
    if let Some(v) = body.timeout_secs {
        input.timeout_secs = v.to_string();
    }
    if let Some(v) = body.retry_attempts {
        input.retry_attempts = v.to_string();
    }
    if let Some(v) = body.description {
        input.description = v;
    }
    let draft = parse(&input, &state).await?;
    let reenabled = body.active == Some(true);
    let mut model = hooks::update(&state.db, model, &draft).await?;
    if reenabled && model.disabled_at.is_some() {
        model = hooks::enable(&state.db, model).await?;
    }
    Ok(Json(Webhook::from_model(model, None)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted, with its delivery log"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "delete", account_id = %account.account_id))]
pub async fn delete(
    State(state): State<AppState>,
    account: ApiAccount,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let model = owned(&state, account, &id).await?;
    hooks::delete(&state.db, model).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, description = "The first attempt of a `webhook.test` delivery", body = TestResult),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "test", account_id = %account.account_id))]
pub async fn test(
    State(state): State<AppState>,
    account: ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    let model = owned(&state, account, &id).await?;
    let o = hooks::send_test(&state, account.account_id, model.id).await?;
    Ok(Json(TestResult {
        delivery_id: o.delivery_id,
        finished: o.finished,
        succeeded: o.succeeded,
        status_code: o.status_code,
        duration_ms: o.duration_ms,
        error: o.error,
    }))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, description = "The new secret; the previous one keeps signing for 24 hours", body = Secret),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "rotate_secret", account_id = %account.account_id))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    account: ApiAccount,
    Path(id): Path<String>,
) -> Result<Json<Secret>, ApiError> {
    let model = owned(&state, account, &id).await?;
    let model = hooks::rotate(&state.db, &state.secrets, model).await?;
    Ok(Json(Secret {
        secret: hooks::secret_of(&state.secrets, &model)?,
    }))
}
