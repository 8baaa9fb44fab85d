//! The JSON management API: webhooks, the delivery log, redelivery, errors, tenant isolation,
//! and the OpenAPI document.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use serde_json::{json, Value};

async fn webhooks_are_managed_over_the_api(app: TestApp) {
    let api = Api::new(&app, "api@example.com").await;
    let (s, created) = api
        .post("/api/v1/webhooks", json!({"name": "CRM", "url": "https://crm.example.com/in", "events": ["booking.created"]}))
        .await;
    assert_eq!(s, 201, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["timeout_secs"], 30);
    assert_eq!(created["retry_attempts"], 3);
    assert_eq!(created["active"], true);
    let id = created["id"].as_i64().unwrap();

    let (s, list) = api.get("/api/v1/webhooks").await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        list["data"][0].get("secret").is_none(),
        "the secret is not listed"
    );
    let (_, one) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert!(one.get("secret").is_none());
    assert_eq!(one["url"], "https://crm.example.com/in");

    let (s, patched) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"retry_attempts": 7, "active": false}),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(
        (
            patched["retry_attempts"].as_i64(),
            patched["active"].as_bool()
        ),
        (Some(7), Some(false))
    );
    assert_eq!(patched["name"], "CRM", "fields not given stay");

    // The same validation as the form, field by field; nothing changes.
    let (s, err) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"url": "ftp://crm.example.com", "timeout_secs": 0, "events": []}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(err["error"]["code"], "validation_failed");
    for f in ["url", "timeout_secs", "events"] {
        assert!(err["error"]["fields"][f].is_string(), "{f}: {err}");
    }
    let (_, unchanged) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(unchanged["url"], "https://crm.example.com/in");

    let (s, rotated) = api
        .post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await;
    assert_eq!(s, 200);
    assert_ne!(rotated["secret"], created["secret"]);

    let (s, _) = api.delete(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(s, 204);
    let (s, err) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!((s, err["error"]["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}

async fn every_api_error_is_json(app: TestApp) {
    let api = Api::new(&app, "errs@example.com").await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (api.http.get(format!("{}/api/v1/webhooks", api.base)), 401, "unauthorized"),
        (api.http.get(format!("{}/api/v1/nope", api.base)).bearer_auth(&api.key), 404, "not_found"),
        (api.http.put(format!("{}/api/v1/webhooks", api.base)).bearer_auth(&api.key), 405, "method_not_allowed"),
        (api.http.get(format!("{}/api/v1/webhooks/abc", api.base)).bearer_auth(&api.key), 404, "not_found"),
        (api.http.get(format!("{}/api/v1/deliveries/not-a-uuid", api.base)).bearer_auth(&api.key), 404, "not_found"),
        (api.http.post(format!("{}/api/v1/webhooks", api.base)).bearer_auth(&api.key).body("{"), 400, "malformed_json"),
        (api.http.post(format!("{}/api/v1/webhooks", api.base)).bearer_auth(&api.key).json(&json!({"name": 1})), 422, "invalid_body"),
        (
            api.http.post(format!("{}/api/v1/webhooks", api.base)).bearer_auth(&api.key)
                .json(&json!({"name": "x", "url": "https://a.example", "events": ["booking.created"], "colour": "red"})),
            422,
            "invalid_body",
        ),
        (
            api.http.post(format!("{}/api/v1/webhooks", api.base)).bearer_auth(&api.key).body("x".repeat(100 * 1024)),
            413,
            "payload_too_large",
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{code}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    app.stop().await;
}

async fn the_delivery_log_pages_and_filters(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "log@example.com").await;
    let (_, w) = api
        .post("/api/v1/webhooks", json!({"name": "Log", "url": rx.url("ok"), "events": ["booking.created", "booking.cancelled"], "retry_attempts": 0}))
        .await;
    let id = w["id"].as_i64().unwrap();
    for i in 0..60 {
        let event = if i % 2 == 0 {
            "booking.created"
        } else {
            "booking.cancelled"
        };
        assert_eq!(api.publish(event, json!({"i": i})).await.0, 202);
    }
    app.dispatcher.run_until_idle().await.unwrap();
    api.patch(
        &format!("/api/v1/webhooks/{id}"),
        json!({"url": rx.url("status/500")}),
    )
    .await;
    for i in 0..10 {
        api.publish("booking.created", json!({"f": i})).await;
    }
    app.dispatcher.run_until_idle().await.unwrap();

    // Newest first, 50 a page, every delivery exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (s, page) = api
            .get(&format!("/api/v1/webhooks/{id}/deliveries?cursor={cursor}"))
            .await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        let rows = page["data"].as_array().unwrap();
        seen.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (2, 70));
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");
    sorted.dedup();
    assert_eq!(sorted.len(), 70);

    let (_, failed) = api
        .get(&format!("/api/v1/webhooks/{id}/deliveries?status=failed"))
        .await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 10);
    assert!(failed["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["last_status_code"] == 500));
    let (_, cancelled) = api
        .get(&format!(
            "/api/v1/webhooks/{id}/deliveries?event=booking.cancelled&limit=100"
        ))
        .await;
    assert_eq!(cancelled["data"].as_array().unwrap().len(), 30);
    let (_, small) = api
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=5"))
        .await;
    assert_eq!(small["data"].as_array().unwrap().len(), 5);
    for bad in [
        "status=done",
        "event=booking.exploded",
        "cursor=xyz",
        "limit=0",
        "limit=101",
    ] {
        let (s, e) = api
            .get(&format!("/api/v1/webhooks/{id}/deliveries?{bad}"))
            .await;
        assert_eq!(s, 422, "{bad}: {e}");
    }
    let (s, _) = api
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=abc"))
        .await;
    assert_eq!(s, 400);

    // One delivery with its attempts, and the exact body.
    let first_failed = failed["data"][0]["id"].as_str().unwrap().to_string();
    let (s, d) = api.get(&format!("/api/v1/deliveries/{first_failed}")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(d["attempts"][0]["response_status"], 500);
    assert!(d["attempts"][0]["request_headers"]["x-webhook-signature"].is_string());
    assert!(d["body"]
        .as_str()
        .unwrap()
        .starts_with("{\"event\":\"booking.created\""));
    app.stop().await;
}

async fn redelivery_is_one_manual_attempt(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "redo@example.com").await;
    let (_, w) = api
        .post("/api/v1/webhooks", json!({"name": "Redo", "url": rx.url("status/500"), "events": ["booking.created"], "retry_attempts": 1}))
        .await;
    let id = w["id"].as_i64().unwrap();
    api.publish("booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    let did = list["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["data"][0]["status"], "failed");
    assert_eq!(list["data"][0]["attempts"], 2);

    // Still failing: one manual try, then it stays failed (no automatic retry).
    let (s, r) = api
        .post(&format!("/api/v1/deliveries/{did}/redeliver"), json!({}))
        .await;
    assert_eq!((s, r["status"].as_str()), (202, Some("redelivering")));
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, d) = api.get(&format!("/api/v1/deliveries/{did}")).await;
    assert_eq!(
        (
            d["status"].as_str(),
            d["attempts"].as_array().unwrap().len()
        ),
        (Some("failed"), 3)
    );
    assert_eq!(d["attempts"][0]["trigger"], "manual");
    assert_eq!(d["attempts"][0]["number"], 3);

    // Fixed endpoint: the manual try succeeds, with the same delivery id.
    api.patch(
        &format!("/api/v1/webhooks/{id}"),
        json!({"url": rx.url("ok")}),
    )
    .await;
    api.post(&format!("/api/v1/deliveries/{did}/redeliver"), json!({}))
        .await;
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, d) = api.get(&format!("/api/v1/deliveries/{did}")).await;
    assert_eq!(d["status"], "succeeded");
    let ok = rx
        .all()
        .into_iter()
        .filter(|r| r.path == "ok")
        .collect::<Vec<_>>();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].headers["x-webhook-delivery-id"], did);
    app.stop().await;
}

async fn another_accounts_ids_are_not_found_in_the_api(app: TestApp) {
    let rx = Receiver::start().await;
    let alice = Api::new(&app, "alice-api@example.com").await;
    let bob = Api::new(&app, "bob-api@example.com").await;
    let (_, w) = alice
        .post(
            "/api/v1/webhooks",
            json!({"name": "A", "url": rx.url("ok"), "events": ["booking.created"]}),
        )
        .await;
    let id = w["id"].as_i64().unwrap();
    alice.publish("booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, list) = alice
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    let did = list["data"][0]["id"].as_str().unwrap().to_string();

    let checks = [
        bob.get(&format!("/api/v1/webhooks/{id}")).await,
        bob.patch(&format!("/api/v1/webhooks/{id}"), json!({"name": "mine"}))
            .await,
        bob.post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
            .await,
        bob.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({}))
            .await,
        bob.get(&format!("/api/v1/webhooks/{id}/deliveries")).await,
        bob.get(&format!("/api/v1/deliveries/{did}")).await,
        bob.post(&format!("/api/v1/deliveries/{did}/redeliver"), json!({}))
            .await,
        bob.delete(&format!("/api/v1/webhooks/{id}")).await,
    ];
    for (i, (status, body)) in checks.iter().enumerate() {
        assert_eq!(*status, 404, "check {i}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (_, still) = alice.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(still["name"], "A");
    let (_, bobs) = bob.get("/api/v1/webhooks").await;
    assert_eq!(bobs["data"], json!([]));
    app.stop().await;
}

async fn the_openapi_document_describes_every_route(app: TestApp) {
    let res = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/events", "post"),
        ("/api/v1/events/{id}", "delete"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}", "patch"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/webhooks/{id}/test", "post"),
        ("/api/v1/webhooks/{id}/rotate-secret", "post"),
        ("/api/v1/webhooks/{id}/deliveries", "get"),
        ("/api/v1/deliveries/{id}", "get"),
        ("/api/v1/deliveries/{id}/redeliver", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    app.stop().await;
}

backend_tests!(
    webhooks_are_managed_over_the_api,
    every_api_error_is_json,
    the_delivery_log_pages_and_filters,
    redelivery_is_one_manual_attempt,
    another_accounts_ids_are_not_found_in_the_api,
    the_openapi_document_describes_every_route,
);
