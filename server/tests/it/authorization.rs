//! The authorization matrix: every page, server function and API route that takes an id answers
//! another account's id with 404, and changes nothing. The lists are checked against the
//! registered server functions and the OpenAPI document, so a new route must be added here.

use crate::common::receiver::Receiver;
use crate::common::TestApp;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Server functions that take no id (they act on the caller's own account or session).
const WITHOUT_ID: &[&str] = &[
    "/fn/auth/me",
    "/fn/auth/signup",
    "/fn/auth/login",
    "/fn/auth/logout",
    "/fn/webhooks/list",
    "/fn/webhooks/create",
    "/fn/api-keys/list",
    "/fn/api-keys/create",
    "/fn/api-keys/take-new",
    "/fn/alerts/list",
    "/fn/alerts/settings",
    "/fn/alerts/save-settings",
    // The event catalog: the same for everyone, no account's data.
    "/fn/event-types/list",
];

async fn another_accounts_ids_answer_404_everywhere(app: TestApp) {
    let rx = Receiver::start().await;
    let alice = app.user("alice-matrix@example.com").await;
    let bob = app.user("bob-matrix@example.com").await;
    let hook = app
        .webhook(&alice, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let alice_key = app.api_key("alice-matrix@example.com").await;
    let bob_key = app.api_key("bob-matrix@example.com").await;
    let published: Value = app
        .publish(&alice_key, "booking.created", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let event = published["id"].as_str().unwrap().to_string();
    app.dispatcher.run_until_idle().await.unwrap();
    let page: Value = alice
        .call("deliveries/list", &[("webhook_id", &hook.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let delivery = page["rows"][0]["id"].as_str().unwrap().to_string();
    let keys: Value = alice.call("api-keys/list", &[]).await.json().await.unwrap();
    let alice_key_id = keys[0]["id"].as_i64().unwrap().to_string();
    let (h, d) = (hook.to_string(), delivery.clone());
    // An open alert incident of Alice's webhook.
    app::alerts::incidents::open(
        &app.db,
        app::domain::WebhookId(hook),
        app::entities::alert_incident::IncidentKind::Disabled,
        "a test incident",
        None,
        app::entities::now_ms(),
    )
    .await
    .unwrap();
    let alice_incident = {
        use sea_orm::EntityTrait;
        app::entities::alert_incident::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
            .to_string()
    };

    // Server functions.
    let with_id: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/fn/webhooks/get", vec![("id", &h)]),
        ("/fn/webhooks/reveal-secret", vec![("id", &h)]),
        (
            "/fn/webhooks/preview",
            vec![("id", &h), ("source", "example:booking.created")],
        ),
        (
            "/fn/webhooks/update",
            vec![
                ("id", &h),
                ("name", "x"),
                ("url", "https://x.example/"),
                ("events[]", "booking.created"),
            ],
        ),
        ("/fn/webhooks/delete", vec![("id", &h)]),
        ("/fn/webhooks/enable", vec![("id", &h)]),
        ("/fn/webhooks/rotate-secret", vec![("id", &h)]),
        ("/fn/webhooks/send-test", vec![("id", &h)]),
        (
            "/fn/webhooks/test-outcome",
            vec![("id", &h), ("delivery_id", &d)],
        ),
        ("/fn/deliveries/list", vec![("webhook_id", &h)]),
        (
            "/fn/deliveries/get",
            vec![("webhook_id", &h), ("delivery_id", &d)],
        ),
        (
            "/fn/deliveries/resend",
            vec![("webhook_id", &h), ("delivery_id", &d)],
        ),
        (
            "/fn/deliveries/replay",
            vec![("webhook_id", &h), ("confirm", "yes")],
        ),
        (
            "/fn/deliveries/check-signature",
            vec![
                ("webhook_id", &h),
                ("delivery_id", &d),
                ("scheme", "seed"),
                ("computed", "00"),
            ],
        ),
        ("/fn/api-keys/revoke", vec![("id", &alice_key_id)]),
        ("/fn/alerts/dismiss", vec![("id", &alice_incident)]),
    ];
    let registered: BTreeSet<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .collect();
    let classified: BTreeSet<&str> = with_id
        .iter()
        .map(|(p, _)| *p)
        .chain(WITHOUT_ID.iter().copied())
        .collect();
    assert_eq!(
        registered, classified,
        "every server function is in the matrix"
    );
    for (path, form) in &with_id {
        let endpoint = path.trim_start_matches("/fn/");
        let res = bob.call(endpoint, form).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    {
        use sea_orm::EntityTrait;
        let incident = app::entities::alert_incident::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert!(
            incident.dismissed_at.is_none(),
            "Bob cannot dismiss Alice's alert"
        );
        let alerts: Value = bob.call("alerts/list", &[]).await.json().await.unwrap();
        assert_eq!(alerts, json!([]), "nor see it");
    }

    // Pages.
    for path in [
        format!("/settings/webhooks/{h}/edit"),
        format!("/settings/webhooks/{h}/edit?reveal=1"),
        format!("/settings/webhooks/{h}/deliveries"),
        format!("/settings/webhooks/{h}/deliveries/{d}"),
    ] {
        let res = bob.get(&path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            !res.text().await.unwrap().contains("whsec_"),
            "{path} shows no secret"
        );
    }

    // The JSON API.
    // (method, route as documented, the id that goes in it)
    let api: Vec<(reqwest::Method, &str, &str)> = vec![
        (reqwest::Method::GET, "/api/v1/webhooks/{id}", &h),
        (reqwest::Method::PATCH, "/api/v1/webhooks/{id}", &h),
        (reqwest::Method::DELETE, "/api/v1/webhooks/{id}", &h),
        (reqwest::Method::POST, "/api/v1/webhooks/{id}/test", &h),
        (reqwest::Method::POST, "/api/v1/webhooks/{id}/replay", &h),
        (
            reqwest::Method::POST,
            "/api/v1/webhooks/{id}/rotate-secret",
            &h,
        ),
        (reqwest::Method::GET, "/api/v1/webhooks/{id}/deliveries", &h),
        (reqwest::Method::GET, "/api/v1/deliveries/{id}", &d),
        (reqwest::Method::DELETE, "/api/v1/events/{id}", &event),
        (
            reqwest::Method::POST,
            "/api/v1/deliveries/{id}/redeliver",
            &d,
        ),
    ];
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        // The operator's prefix (`/api/v1/accounts/{external_id}/…`) has its own matrix in
        // operator.rs.
        .filter(|(p, _)| p.contains("{id}") && !p.starts_with("/api/v1/accounts/"))
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    let covered: BTreeSet<String> = api
        .iter()
        .map(|(m, route, _)| format!("{m} {route}"))
        .collect();
    assert_eq!(
        documented, covered,
        "every API route with an id is in the matrix"
    );
    let http = reqwest::Client::new();
    for (method, route, id) in &api {
        let path = route.replace("{id}", id);
        let res = http
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(&bob_key)
            .json(&json!({"name": "mine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }

    // Nothing of Alice's changed, and nothing more was sent.
    let detail: Value = alice
        .call("webhooks/get", &[("id", &h)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (detail["name"].as_str(), detail["active"].as_bool()),
        (Some("Test hook"), Some(true))
    );
    assert!(
        detail["previous_secret_until"].is_null(),
        "no rotation happened"
    );
    assert_eq!(rx.count("ok"), 1, "no test event or redelivery was sent");
    let keys: Value = alice.call("api-keys/list", &[]).await.json().await.unwrap();
    assert!(keys[0]["revoked_at"].is_null());
    app.stop().await;
}

backend_tests!(another_accounts_ids_answer_404_everywhere);
