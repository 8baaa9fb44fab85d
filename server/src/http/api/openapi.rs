//! The OpenAPI 3 document, generated from the handlers' annotations and the JSON types.

use app::domain::ApiScope;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{deliveries, event_types, ingest, operator, types, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SchedulingKit Webhooks API",
        version = "1",
        description = "Publish events and manage webhooks. Authenticate with `Authorization: Bearer <API key>` (keys are created on /settings/api-keys, each with its scopes). Every operation requires one scope, named in its `security` requirement and its description; a key without it is answered `403 insufficient_scope`. The scheduling product's back end uses an operator key instead (scheme `operatorKey`): the `operator` operations, and every account operation under `/api/v1/accounts/{external_id}/…` (tag `acting`). This document itself needs no key. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        ingest::publish_event,
        ingest::cancel_event,
        event_types::list,
        event_types::samples,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::test,
        webhooks::rotate_secret,
        webhooks::replay,
        deliveries::list,
        deliveries::get,
        deliveries::redeliver,
        operator::accounts::list_accounts,
        operator::accounts::get_account,
        operator::accounts::put_account,
        operator::accounts::delete_account,
        operator::links::create_login_link,
        operator::batch::publish_batch,
    ),
    components(schemas(
        types::PublishEvent,
        types::Published,
        types::CancelledEvent,
        types::ErrorBody,
        types::ErrorDetail,
        types::Webhook,
        types::WebhookList,
        types::CreateWebhook,
        types::UpdateWebhook,
        types::Secret,
        types::TestResult,
        types::TestRequest,
        types::EventTypeInfo,
        types::EventTypeList,
        types::Delivery,
        types::DeliveryList,
        types::Attempt,
        types::DeliveryWithAttempts,
        types::Redelivery,
        types::ReplayRequest,
        types::ReplayResult,
        operator::types::Account,
        operator::types::PutAccount,
        operator::types::AccountList,
        operator::types::NewLoginLink,
        operator::types::LoginLink,
        operator::types::EventBatch,
        operator::types::BatchEvent,
        operator::types::BatchResults,
        operator::types::BatchResult,
    )),
    modifiers(&BearerAuth, &OperatorAuth, &ScopeResponses),
    tags(
        (name = "events", description = "Publishing events"),
        (name = "webhooks", description = "Managing webhooks"),
        (name = "deliveries", description = "The delivery log"),
        (name = "operator", description = "The scheduling product's back end, with an operator key: accounts by the product's own ids, batches, one-time log-in links"),
        (name = "acting", description = "Every account operation, for the account of `external_id`, with an operator key: the same body, answers and limits as the operation without the prefix"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(bearer_description()))
                    .build(),
            ),
        );
    }
}

/// The operator key's scheme, and every account operation again under
/// `/api/v1/accounts/{external_id}/…` with that key (the routes `operator::acting` forwards).
struct OperatorAuth;

/// The account operations an operator reaches under the prefix: all of `/api/v1/` but the
/// operator's own routes.
fn is_account_path(path: &str) -> bool {
    path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/accounts")
        && path != "/api/v1/events/batch"
}

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::Required;
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operatorKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator key (`skwop_…`) from `schedulingkit-webhooks operator-key \
                         create --name N`, printed once: the scheduling product's back end \
                         credential. It acts for any account — the `operator` operations, and \
                         every account operation under `/api/v1/accounts/{external_id}/…` — and \
                         for none without that prefix; it opens no page. An account's API key \
                         is refused on every operator route (401)."
                            .to_string(),
                    ))
                    .build(),
            ),
        );
        let external_id = ParameterBuilder::new()
            .name("external_id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("The product's own id of the account"))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .examples(["cus_123"]),
            ))
            .build();
        let clones: Vec<(String, utoipa::openapi::PathItem)> = openapi
            .paths
            .paths
            .iter()
            .filter(|(path, _)| is_account_path(path))
            .map(|(path, item)| {
                let mut item = item.clone();
                for op in [
                    &mut item.get,
                    &mut item.post,
                    &mut item.put,
                    &mut item.patch,
                    &mut item.delete,
                ]
                .into_iter()
                .flatten()
                {
                    let id = op.operation_id.take().unwrap_or_default();
                    let mut first = id.chars();
                    let upper: String = first
                        .next()
                        .map(|c| c.to_ascii_uppercase().to_string() + first.as_str())
                        .unwrap_or_default();
                    op.operation_id = Some(format!("actingFor{upper}"));
                    op.tags = Some(vec!["acting".to_string()]);
                    op.security = Some(vec![SecurityRequirement::new(
                        "operatorKey",
                        Vec::<String>::new(),
                    )]);
                    op.description = Some(format!(
                        "`{}` for the account of `external_id`, with an operator key.{}",
                        path,
                        op.description
                            .take()
                            .map(|d| format!("\n\n{d}"))
                            .unwrap_or_default()
                    ));
                    op.parameters
                        .get_or_insert_with(Vec::new)
                        .insert(0, external_id.clone());
                    op.responses.responses.insert(
                        "404".into(),
                        utoipa::openapi::ResponseBuilder::new()
                            .description(
                                "No account has this external id (or the operation's own 404)",
                            )
                            .build()
                            .into(),
                    );
                }
                let rest = path.trim_start_matches("/api/v1/");
                (format!("/api/v1/accounts/{{external_id}}/{rest}"), item)
            })
            .collect();
        openapi.paths.paths.extend(clones);
    }
}

/// The bearer scheme's description: what a key is, and the table of scopes.
fn bearer_description() -> String {
    let mut text = String::from(
        "An API key (`skw_…`) from /settings/api-keys or `schedulingkit-webhooks api-key \
         create --scope …`. A key carries scopes; each operation requires one (listed in its \
         `security` requirement) and answers `403 insufficient_scope`, naming the scope, to a \
         key without it. Keys created before scopes existed have every scope. The scopes:",
    );
    for scope in ApiScope::ALL {
        text.push_str(&format!("\n- `{scope}`: {}", scope.description()));
    }
    text
}

/// The scopes of an operation's security requirements (`bearer = ["webhooks:read"]`).
pub fn scopes_of(operation: &utoipa::openapi::path::Operation) -> Vec<String> {
    operation
        .security
        .iter()
        .flatten()
        .filter_map(|req| serde_json::to_value(req).ok())
        .filter_map(|v| v.get("bearer").cloned())
        .filter_map(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .flatten()
        .collect()
}

/// Every operation's required scope, told in its description, and its `403
/// insufficient_scope` answer, both from the scope named in its security requirement (the
/// one place a path's annotation names it; `server/tests/it/scopes.rs` checks that it is the
/// scope the handler's extractor enforces).
struct ScopeResponses;

impl Modify for ScopeResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let scopes = scopes_of(op);
                let Some(scope) = scopes.first() else {
                    continue;
                };
                let line = format!("Requires the API key scope `{scope}`.");
                op.description = Some(match op.description.take() {
                    Some(d) if !d.is_empty() => format!("{d}\n\n{line}"),
                    _ => line,
                });
                op.responses.responses.insert(
                    "403".into(),
                    ResponseBuilder::new()
                        .description(format!(
                            "The API key lacks the scope `{scope}` (code `insufficient_scope`; \
                             the message names the scope); nothing was changed"
                        ))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build()
                        .into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use utoipa::OpenApi;

    #[test]
    fn every_operation_has_a_unique_id_one_known_scope_and_a_403() {
        let doc = ApiDoc::openapi();
        let mut ids = BTreeSet::new();
        let mut count = 0;
        let mut operator = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                count += 1;
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{path}: no operationId");
                assert!(
                    ids.insert(id.clone()),
                    "{path}: operationId {id} used twice"
                );
                let security = serde_json::to_value(&op.security).unwrap();
                if path.starts_with("/api/v1/accounts") || path == "/api/v1/events/batch" {
                    operator += 1;
                    assert_eq!(
                        security,
                        serde_json::json!([{"operatorKey": []}]),
                        "{path} {id}"
                    );
                    continue;
                }
                let scopes = scopes_of(op);
                assert_eq!(scopes.len(), 1, "{path} {id}: {scopes:?}");
                assert!(
                    ApiScope::parse(&scopes[0]).is_ok(),
                    "{path} {id}: {scopes:?}"
                );
                assert!(op.responses.responses.contains_key("403"), "{path} {id}");
                assert!(
                    op.description
                        .as_deref()
                        .unwrap_or_default()
                        .contains(&scopes[0]),
                    "{path} {id}"
                );
            }
        }
        // The account operations, the operator's six, and each account operation again under
        // the operator's prefix.
        assert_eq!(count, 15 + 6 + 15);
        assert_eq!(operator, 6 + 15);
    }
}
