//! `/api/v1/webhooks`: the same operations as the settings pages, with the same validation.

use app::domain::{WebhookDraft, WebhookInput};
use app::state::AppState;
use app::webhooks::ssr as hooks;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use std::collections::BTreeMap;

use super::auth::{ApiAccount, WebhooksRead, WebhooksWrite};
use super::error::ApiError;
use super::json::ApiJson;
use super::types::{
    CreateWebhook, ErrorBody, ReplayRequest, ReplayResult, Secret, TestRequest, TestResult,
    UpdateWebhook, Webhook, WebhookList,
};

/// An id from the path; anything that is not one of the account's webhooks is a 404.
pub async fn owned(
    state: &AppState,
    account_id: app::domain::AccountId,
    id: &str,
) -> Result<app::entities::webhook::Model, ApiError> {
    let id: app::domain::WebhookId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(app::entities::scope::owned_webhook(&state.db, account_id, id).await?)
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
        ordered: m.ordered,
        format: m.format.clone(),
        headers: app::domain::custom_headers::masked_text(&m.header_names()),
        filter: m.filter.clone().unwrap_or_default(),
        template: m.template.clone().unwrap_or_default(),
        content_type: m.content_type.clone().unwrap_or_default(),
    }
}

/// The API's header object as the form's text, one `Name: value` per line; a value on more
/// than one line is refused here (it would split into lines).
fn headers_text(headers: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let mut lines = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
            return Err(app::error::AppError::field(
                "headers",
                "Header names and values are one line each (and names have no colon).",
            )
            .into());
        }
        lines.push(format!("{name}: {value}"));
    }
    Ok(lines.join("\n"))
}

async fn parse(input: &WebhookInput, state: &AppState) -> Result<WebhookDraft, ApiError> {
    Ok(hooks::vet(input, state.policy).await?)
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks", security(("bearer" = ["webhooks:read"])),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "list", account_id = %account.account_id))]
pub async fn list(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksRead>,
) -> Result<Json<WebhookList>, ApiError> {
    let all = hooks::all_owned(&state.db, account.account_id).await?;
    let ids: Vec<_> = all.iter().map(|m| m.id).collect();
    let held = app::queue::held_counts(&state.db, &ids).await?;
    let data = all
        .into_iter()
        .map(|m| {
            let n = held.get(&m.id).copied().unwrap_or_default();
            Webhook::from_model(m, None, n)
        })
        .collect();
    Ok(Json(WebhookList { data }))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "createWebhook", security(("bearer" = ["webhooks:write"])),
    request_body = CreateWebhook,
    responses((status = 201, description = "Created; the only answer besides rotate that carries the secret", body = Webhook),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "create", account_id = %account.account_id))]
pub async fn create(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let format = body.format.unwrap_or_else(|| {
        app::domain::WebhookFormat::detect(&body.url)
            .unwrap_or_default()
            .as_str()
            .to_string()
    });
    let headers = match &body.headers {
        Some(h) => headers_text(h)?,
        None => String::new(),
    };
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
        ordered: body.ordered.unwrap_or(false),
        format,
        headers,
        filter: body.filter.unwrap_or_default(),
        template: body.template.unwrap_or_default(),
        content_type: body.content_type.unwrap_or_default(),
    };
    let draft = parse(&input, &state).await?;
    let model = hooks::create(&state.db, &state.secrets, account.account_id, &draft).await?;
    let secret = hooks::secret_of(&state.secrets, &model)?;
    Ok((
        StatusCode::CREATED,
        Json(Webhook::from_model(model, Some(secret), 0)),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook", security(("bearer" = ["webhooks:read"])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "get", account_id = %account.account_id))]
pub async fn get(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksRead>,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    let model = owned(&state, account.account_id, &id).await?;
    let held = app::queue::held_count(&state.db, model.id).await?;
    Ok(Json(Webhook::from_model(model, None, held)))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook", security(("bearer" = ["webhooks:write"])),
    params(("id" = i64, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "update", account_id = %account.account_id))]
pub async fn update(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<Webhook>, ApiError> {
    let model = owned(&state, account.account_id, &id).await?;
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
    if let Some(v) = body.ordered {
        input.ordered = v;
    }
    if let Some(v) = body.format {
        input.format = v;
    }
    if let Some(h) = &body.headers {
        input.headers = headers_text(h)?;
    }
    if let Some(f) = body.filter {
        input.filter = f;
    }
    if let Some(t) = body.template {
        input.template = t;
    }
    if let Some(t) = body.content_type {
        input.content_type = t;
    }
    let held =
        match body.held.as_deref() {
            None => None,
            Some(s) => Some(app::queue::HeldChoice::parse(s).ok_or_else(|| {
                app::error::AppError::field("held", "must be `send` or `discard`")
            })?),
        };
    let draft = parse(&input, &state).await?;
    let reenabled = body.active == Some(true);
    let mut model = hooks::update(
        &state.db,
        &state.secrets,
        &state.wakeup,
        model,
        &draft,
        held,
        "held",
    )
    .await?;
    if reenabled && model.disabled_at.is_some() {
        model = hooks::enable(&state.db, &state.wakeup, model, held).await?;
    }
    let held = app::queue::held_count(&state.db, model.id).await?;
    Ok(Json(Webhook::from_model(model, None, held)))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks", operation_id = "replayDeliveries", security(("bearer" = ["webhooks:write"])),
    params(("id" = i64, Path, description = "Webhook id")),
    request_body = ReplayRequest,
    responses((status = 200, description = "How many deliveries match now, and how many were queued again (each keeps its id and gets one attempt with trigger `replay`; at most `cap` per call, oldest first)", body = ReplayResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "replay", account_id = %account.account_id))]
pub async fn replay(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> Result<Json<ReplayResult>, ApiError> {
    // Another account's id is a 404 whatever the body says.
    let model = owned(&state, account.account_id, &id).await?;
    let body: ReplayRequest = super::json::parse(raw.to_string().as_bytes())?;
    let filter = replay_filter(&body)?;
    let done = app::queue::replay(
        &state.db,
        &state.wakeup,
        model.id,
        &filter,
        body.dry_run.unwrap_or(false),
    )
    .await?;
    Ok(Json(ReplayResult {
        matched: done.matched,
        queued: done.queued,
        cap: app::queue::REPLAY_CAP,
    }))
}

/// The replay's filter from the request, each mistake named by its field.
fn replay_filter(body: &ReplayRequest) -> Result<app::queue::ReplayFilter, ApiError> {
    Ok(app::queue::ReplayFilter::parse(
        body.status.as_deref(),
        body.event.as_deref(),
        body.since.as_deref(),
        body.until.as_deref(),
    )?)
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook", security(("bearer" = ["webhooks:write"])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted, with its delivery log"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "delete", account_id = %account.account_id))]
pub async fn delete(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let model = owned(&state, account.account_id, &id).await?;
    hooks::delete(&state.db, model).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", operation_id = "sendTestEvent", security(("bearer" = ["webhooks:write"])),
    params(("id" = i64, Path, description = "Webhook id")),
    request_body(content = Option<TestRequest>, description = "Optional: which event type to send (default `webhook.test`)"),
    responses((status = 200, description = "The first attempt of the test delivery", body = TestResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "`event` is unknown or not subscribed to", body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "test", account_id = %account.account_id))]
pub async fn test(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<TestResult>, ApiError> {
    let model = owned(&state, account.account_id, &id).await?;
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        super::json::parse(&body)?
    };
    let event = request.event.unwrap_or_default();
    let o = hooks::send_test(&state, account.account_id, model.id, &event).await?;
    Ok(Json(TestResult {
        delivery_id: o.delivery_id,
        finished: o.finished,
        succeeded: o.succeeded,
        status_code: o.status_code,
        duration_ms: o.duration_ms,
        error: o.error,
    }))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret", security(("bearer" = ["webhooks:write"])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, description = "The new secret; the previous one keeps signing for 24 hours", body = Secret),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(name = "api", skip_all, fields(handler = "rotate_secret", account_id = %account.account_id))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    account: ApiAccount<WebhooksWrite>,
    Path(id): Path<String>,
) -> Result<Json<Secret>, ApiError> {
    let model = owned(&state, account.account_id, &id).await?;
    let model = hooks::rotate(&state.db, &state.secrets, model).await?;
    Ok(Json(Secret {
        secret: hooks::secret_of(&state.secrets, &model)?,
    }))
}
