//! Issue 13, the event catalog: `GET /api/v1/event-types`, sample events for Zapier / Make,
//! and Send test event for a chosen type (through the webhook's format; never cancelling a
//! real booking's reminders).

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use serde_json::{json, Value};

async fn the_catalog_lists_every_type_with_schema_and_example(app: TestApp) {
    let api = Api::new(&app, "catalog@example.com").await;
    let (status, body) = api.get("/api/v1/event-types").await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 13, "{names:?}");
    for name in ["booking.created", "payment.refunded", "webhook.test"] {
        assert!(names.contains(&name), "{name} missing");
    }
    for t in data {
        assert_eq!(t["example"]["event"], t["name"], "{t}");
        assert_eq!(t["schema"]["type"], "object", "{t}");
        for field in t["schema"]["required"].as_array().unwrap() {
            assert!(
                t["example"]["data"].get(field.as_str().unwrap()).is_some(),
                "{}: the example lacks required {field}",
                t["name"]
            );
        }
    }
    let test = data.iter().find(|t| t["name"] == "webhook.test").unwrap();
    assert_eq!(test["subscribable"], false);

    // The page shows the same catalog to the signed-in owner.
    let user = app.user("catalog-page@example.com").await;
    let page = user
        .get("/settings/event-types")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("payment.refunded") && page.contains("JSON Schema"),
        "the page lists the types"
    );

    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/v1/event-types", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "the API wants a key");
    app.stop().await;
}

/// Samples: the catalog's example while there are no events; then the last three real events
/// of the type, newest first, in the delivered shape, test sends left out.
async fn samples_are_the_last_real_events(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "samples@example.com").await;
    let (status, body) = api.get("/api/v1/event-types/booking.created/samples").await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["data"]["invitee"]["name"], "Jane Smith",
        "the example: {body}"
    );

    let id = api.create_webhook(&rx.url("ok")).await;
    for n in 0..4 {
        let (status, b) = api
            .publish("booking.created", json!({"id": n, "n": n}))
            .await;
        assert_eq!(status, 202, "{b}");
    }
    let (status, b) = api
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            json!({"event": "booking.created"}),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let other = Api::new(&app, "samples-other@example.com").await;
    let (status, _) = other
        .publish("booking.created", json!({"id": 99, "n": 99}))
        .await;
    assert_eq!(status, 202);

    let (status, body) = api.get("/api/v1/event-types/booking.created/samples").await;
    assert_eq!(status, 200, "{body}");
    let ns: Vec<i64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["event"], "booking.created");
            assert!(e["timestamp"].is_string());
            e["data"]["n"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(
        ns,
        vec![3, 2, 1],
        "newest first, no test send, no other account's"
    );

    let (status, err) = api
        .get("/api/v1/event-types/booking.exploded/samples")
        .await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"]["code"], "unknown_event_type");
    app.stop().await;
}

/// Send test event for a chosen type: the catalog example with `"test": true`, in the
/// webhook's format; a type it does not subscribe to, or an unknown one, is refused naming
/// `event`; no body means `webhook.test`; a test `booking.cancelled` cancels no reminder.
async fn a_test_event_of_a_chosen_type(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "test-type@example.com").await;
    let (status, w) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "s", "url": rx.url("slack"), "format": "slack", "retry_attempts": 0,
                "events": ["booking.created", "booking.cancelled", "event.reminder"]}),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    let id = w["id"].as_i64().unwrap();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, b) = api
        .post(
            "/api/v1/events",
            json!({"event": "event.reminder", "data": {"id": 123}, "deliver_at": in_an_hour}),
        )
        .await;
    assert_eq!(status, 202, "{b}");

    let (status, t) = api
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            json!({"event": "booking.cancelled"}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t["succeeded"], true,
        "the Slack stand-in accepts the test: {t}"
    );
    let got = rx.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-webhook-event"], "booking.cancelled");
    let message: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .starts_with("Booking cancelled: Jane Smith"),
        "{message}"
    );
    let (_, detail) = api
        .get(&format!(
            "/api/v1/deliveries/{}",
            t["delivery_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail["event_type"], "booking.cancelled", "{detail}");

    let (_, scheduled) = api
        .get(&format!(
            "/api/v1/webhooks/{id}/deliveries?status=scheduled"
        ))
        .await;
    assert_eq!(
        scheduled["data"].as_array().unwrap().len(),
        1,
        "a test cancel leaves booking 123's reminder alone: {scheduled}"
    );

    for bad in ["payment.failed", "booking.exploded"] {
        let (status, err) = api
            .post(
                &format!("/api/v1/webhooks/{id}/test"),
                json!({"event": bad}),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {err}");
        assert!(err["error"]["fields"]["event"].is_string(), "{err}");
    }
    assert_eq!(rx.all().len(), 1, "nothing sent for refused tests");

    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/webhooks/{id}/test", app.base))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(rx.all()[1].headers["x-webhook-event"], "webhook.test");
    app.stop().await;
}

backend_tests!(the_catalog_lists_every_type_with_schema_and_example);

/// Send test event waits for the first attempt: these run with a dispatching server.
macro_rules! dispatching_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use crate::common::{spawn_app_with, test_args, Backend};

                async fn run(backend: Backend) {
                    let mut args = test_args();
                    args.role = server::config::Role::All;
                    if let Some(app) = spawn_app_with(backend, args).await {
                        super::$name(app).await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(Backend::Postgres).await;
                }
            }
        )+
    };
}

dispatching_tests!(
    samples_are_the_last_real_events,
    a_test_event_of_a_chosen_type
);
