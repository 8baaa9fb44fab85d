//! The OpenAPI 3 document, generated from the handlers' annotations and the JSON types.

use app::domain::ApiScope;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{deliveries, event_types, ingest, types, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SchedulingKit Webhooks API",
        version = "1",
        description = "Publish events and manage webhooks. Authenticate with `Authorization: Bearer <API key>` (keys are created on /settings/api-keys, each with its scopes). Every operation requires one scope, named in its `security` requirement and its description; a key without it is answered `403 insufficient_scope`. This document itself needs no key. Errors are `{\"error\": {\"code\", \"message\"}}`."
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
    )),
    modifiers(&BearerAuth, &ScopeResponses),
    tags(
        (name = "events", description = "Publishing events"),
        (name = "webhooks", description = "Managing webhooks"),
        (name = "deliveries", description = "The delivery log"),
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
        assert_eq!(count, 15);
    }
}
