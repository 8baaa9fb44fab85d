//! Issue 13, filters: a webhook's boolean expression over the event; events it does not match
//! create no delivery; checked on save (syntax with its column, variables against the catalog)
//! next to the field with nothing stored; the edit page shows which recent events it lets
//! through.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use serde_json::{json, Value};

const FILTER: &str = r#"data.event_type == "sales-demo" and data.duration >= 30"#;

async fn deliveries(api: &Api, id: i64) -> Vec<Value> {
    let (status, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn only_matching_events_are_delivered(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "filter@example.com").await;
    let (status, w) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "demos", "url": rx.url("ok"), "events": ["booking.created"],
                "retry_attempts": 0, "filter": FILTER}),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["filter"], FILTER);
    let id = w["id"].as_i64().unwrap();
    // And one without a filter, which gets everything.
    let (status, all) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "all", "url": rx.url("status/200"), "events": ["booking.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{all}");
    let all_id = all["id"].as_i64().unwrap();

    for (n, (event_type, duration)) in [
        ("sales-demo", 45),
        ("sales-demo", 15),
        ("intro-call", 60),
        ("sales-demo", 30),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, b) = api
            .publish(
                "booking.created",
                json!({"id": n, "event_type": event_type, "duration": duration}),
            )
            .await;
        assert_eq!(status, 202, "{b}");
    }
    app.dispatcher.run_until_idle().await.unwrap();
    let mut got: Vec<i64> = rx
        .all()
        .iter()
        .filter(|r| r.path == "ok")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    got.sort_unstable(); // several requests go at once: arrival order is not publish order
    assert_eq!(got, vec![0, 3], "only the matching events are sent");
    assert_eq!(
        deliveries(&api, id).await.len(),
        2,
        "the others created no delivery"
    );
    assert_eq!(deliveries(&api, all_id).await.len(), 4);

    // The edit page shows which of the recent events the filter lets through.
    let user = app.client();
    let res = user
        .call(
            "auth/login",
            &[
                ("email", "filter@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("2 of the last 4 events of these types would have been sent."),
        "the preview counts the matches"
    );
    assert_eq!(html.matches("Filtered out").count(), 2);

    // Removing the filter sends everything again.
    let (status, w) = api
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"filter": ""}))
        .await;
    assert_eq!(status, 200, "{w}");
    assert!(w.get("filter").is_none(), "{w}");
    api.publish(
        "booking.created",
        json!({"id": 9, "event_type": "intro-call"}),
    )
    .await;
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(deliveries(&api, id).await.len(), 3);
    app.stop().await;
}

async fn bad_filters_are_refused_next_to_the_field(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "bad-filter@example.com").await;
    for (filter, expect) in [
        ("data.duration >= ", "Line 1, column "),
        ("data.invitee.phone == \"555\"", "data.invitee.phone"),
        ("dat.duration > 1", "dat.duration"),
    ] {
        let (status, err) = api
            .post(
                "/api/v1/webhooks",
                json!({"name": "x", "url": rx.url("ok"), "events": ["booking.created"], "filter": filter}),
            )
            .await;
        assert_eq!(status, 422, "{filter}: {err}");
        let message = err["error"]["fields"]["filter"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(expect), "{filter}: {err}");
    }
    let (_, list) = api.get("/api/v1/webhooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing stored");

    let id = api.create_webhook(&rx.url("ok")).await;
    let (status, err) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"filter": "data.duration >=", "name": "new"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["name"], "hook", "a refused change changes nothing: {w}");
    assert!(w.get("filter").is_none());

    // The form: the error is next to the field, the filter typed is kept, with the others.
    let user = app.client();
    user.call(
        "auth/login",
        &[
            ("email", "bad-filter@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    let form: Vec<(String, String)> = [
        ("name", ""),
        ("url", "https://crm.example.com/in"),
        ("events[]", "booking.created"),
        ("timeout_secs", "30"),
        ("retry_attempts", "3"),
        ("description", ""),
        ("filter", "data.invitee.phone == 1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let res = user.call_owned("webhooks/create", &form).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let errors = body["Invalid"]["errors"].as_array().unwrap();
    for field in ["name", "filter"] {
        assert!(
            errors.iter().any(|e| e[0] == field),
            "no {field} error: {body}"
        );
    }
    let echo = body["Invalid"]["echo"].as_array().unwrap();
    assert!(
        echo.iter()
            .any(|e| e[0] == "filter" && e[1] == "data.invitee.phone == 1"),
        "{body}"
    );
    app.stop().await;
}

backend_tests!(
    only_matching_events_are_delivered,
    bad_filters_are_refused_next_to_the_field
);
