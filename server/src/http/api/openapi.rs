//! The OpenAPI 3 document, generated from the handlers' annotations and the JSON types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{deliveries, event_types, ingest, types, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SchedulingKit Webhooks API",
        version = "1",
        description = "Publish events and manage webhooks. Authenticate with `Authorization: Bearer <API key>` (keys are created on /settings/api-keys). Errors are `{\"error\": {\"code\", \"message\"}}`."
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
    modifiers(&BearerAuth),
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
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
