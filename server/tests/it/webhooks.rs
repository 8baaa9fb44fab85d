//! The webhook settings over HTTP: CRUD through the server functions, validation, the pages,
//! and tenant isolation.

use crate::common::{Client, TestApp};
use serde_json::Value;

fn form(
    name: &str,
    url: &str,
    events: &[&str],
    timeout: &str,
    retries: &str,
) -> Vec<(String, String)> {
    let mut f = vec![
        ("name".to_string(), name.to_string()),
        ("url".to_string(), url.to_string()),
        ("active".to_string(), "true".to_string()),
        ("timeout_secs".to_string(), timeout.to_string()),
        ("retry_attempts".to_string(), retries.to_string()),
        (
            "description".to_string(),
            "Sends bookings to the CRM".to_string(),
        ),
    ];
    f.extend(
        events
            .iter()
            .map(|e| ("events[]".to_string(), e.to_string())),
    );
    f
}

async fn get(user: &Client, id: i64) -> reqwest::Response {
    user.call("webhooks/get", &[("id", &id.to_string())]).await
}

async fn create_edit_delete(app: TestApp) {
    let user = app.user("owner@example.com").await;
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(list, Value::Array(vec![]));

    let res = user
        .call_owned(
            "webhooks/create",
            &form(
                "CRM",
                "https://crm.example.com/hook",
                &["booking.created", "payment.failed"],
                "",
                "",
            ),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["name"], "CRM");
    assert_eq!(
        list[0]["events"],
        serde_json::json!(["booking.created", "payment.failed"])
    );

    let detail: Value = get(&user, id).await.json().await.unwrap();
    assert_eq!(detail["timeout_secs"], 30, "default timeout");
    assert_eq!(detail["retry_attempts"], 3, "default retry attempts");
    assert!(
        detail["secret"].is_null(),
        "the secret is not sent unless revealed"
    );
    let masked = detail["secret_masked"].as_str().unwrap();
    assert!(masked.starts_with("whsec_•"), "{masked}");

    let secret: String = user
        .call("webhooks/reveal-secret", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(app::domain::SigningSecret::parse(&secret).is_ok());
    assert!(masked.ends_with(&secret[secret.len() - 4..]));

    let mut update = form(
        "CRM v2",
        "https://crm.example.com/v2",
        &["event.created"],
        "120",
        "10",
    );
    update.retain(|(k, _)| k != "active");
    update.push(("id".into(), id.to_string()));
    let res = user.call_owned("webhooks/update", &update).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let detail: Value = get(&user, id).await.json().await.unwrap();
    assert_eq!(detail["name"], "CRM v2");
    assert_eq!(
        detail["active"], false,
        "an unticked checkbox pauses the webhook"
    );
    assert_eq!(detail["timeout_secs"], 120);
    assert_eq!(detail["retry_attempts"], 10);
    assert_eq!(detail["events"], serde_json::json!(["event.created"]));

    let res = user
        .call("webhooks/rotate-secret", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), 200);
    let rotated: String = user
        .call("webhooks/reveal-secret", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated, secret);
    let detail: Value = get(&user, id).await.json().await.unwrap();
    assert!(
        detail["previous_secret_until"].is_i64(),
        "the old secret signs for a while: {detail}"
    );

    let res = user
        .call("webhooks/delete", &[("id", &id.to_string())])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(get(&user, id).await.status(), 404);
    app.stop().await;
}

async fn validation_reports_every_field_and_keeps_the_data(app: TestApp) {
    let user = app.user("v@example.com").await;
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (
            form("", "https://a.example/h", &["booking.created"], "30", "3"),
            "name",
        ),
        (
            form(
                &"n".repeat(101),
                "https://a.example/h",
                &["booking.created"],
                "30",
                "3",
            ),
            "name",
        ),
        (
            form("x", "ftp://a.example/h", &["booking.created"], "30", "3"),
            "url",
        ),
        (
            form("x", "not a url", &["booking.created"], "30", "3"),
            "url",
        ),
        (
            form("x", "https://10.1.2.3/h", &["booking.created"], "30", "3"),
            "url",
        ),
        (
            form(
                "x",
                "https://169.254.169.254/latest",
                &["booking.created"],
                "30",
                "3",
            ),
            "url",
        ),
        (form("x", "https://a.example/h", &[], "30", "3"), "events"),
        (
            form("x", "https://a.example/h", &["webhook.test"], "30", "3"),
            "events",
        ),
        (
            form("x", "https://a.example/h", &["booking.exploded"], "30", "3"),
            "events",
        ),
        (
            form("x", "https://a.example/h", &["booking.created"], "0", "3"),
            "timeout_secs",
        ),
        (
            form("x", "https://a.example/h", &["booking.created"], "301", "3"),
            "timeout_secs",
        ),
        (
            form("x", "https://a.example/h", &["booking.created"], "abc", "3"),
            "timeout_secs",
        ),
        (
            form("x", "https://a.example/h", &["booking.created"], "30", "11"),
            "retry_attempts",
        ),
        (
            form("x", "https://a.example/h", &["booking.created"], "30", "-1"),
            "retry_attempts",
        ),
    ];
    for (f, field) in cases {
        let res = user.call_owned("webhooks/create", &f).await;
        assert_eq!(res.status(), 422, "{field} case: {f:?}");
        let body: Value = res.json().await.unwrap();
        let errors = body["Invalid"]["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e[0] == field),
            "no {field} error in {body}"
        );
        let echo = body["Invalid"]["echo"].as_array().unwrap();
        assert!(
            echo.iter().any(|e| e[0] == "name" && e[1] == f[0].1),
            "the name is echoed back: {body}"
        );
    }
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(list, Value::Array(vec![]), "nothing invalid was stored");

    // A failed update leaves the stored webhook as it was.
    let id = app
        .webhook(&user, "https://a.example/h", &["booking.created"], 3, 30)
        .await;
    let mut bad = form("still valid", "http://", &["booking.created"], "30", "3");
    bad.push(("id".into(), id.to_string()));
    assert_eq!(user.call_owned("webhooks/update", &bad).await.status(), 422);
    let detail: Value = get(&user, id).await.json().await.unwrap();
    assert_eq!(detail["url"], "https://a.example/h");
    assert_eq!(detail["name"], "Test hook");
    app.stop().await;
}

async fn another_accounts_webhook_is_not_found_everywhere(app: TestApp) {
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let id = app
        .webhook(
            &alice,
            "https://alice.example/h",
            &["booking.created"],
            3,
            30,
        )
        .await;
    let sid = id.to_string();

    for endpoint in [
        "webhooks/get",
        "webhooks/reveal-secret",
        "webhooks/delete",
        "webhooks/rotate-secret",
        "webhooks/send-test",
    ] {
        let res = bob.call(endpoint, &[("id", &sid)]).await;
        assert_eq!(res.status(), 404, "{endpoint}");
        assert!(!res.text().await.unwrap().contains("whsec_"));
    }
    let mut f = form(
        "hijack",
        "https://bob.example/h",
        &["booking.created"],
        "30",
        "3",
    );
    f.push(("id".into(), sid.clone()));
    assert_eq!(bob.call_owned("webhooks/update", &f).await.status(), 404);
    let res = bob
        .call(
            "webhooks/test-outcome",
            &[
                ("id", &sid),
                ("delivery_id", &uuid::Uuid::now_v7().to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);

    let bobs: Value = bob.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(bobs, Value::Array(vec![]));
    let page = bob.get(&format!("/settings/webhooks/{id}/edit")).await;
    assert_eq!(page.status(), 404);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("alice.example"),
        "nothing of Alice's webhook is shown"
    );

    // Alice's webhook is untouched and still hers.
    let detail: Value = get(&alice, id).await.json().await.unwrap();
    assert_eq!(detail["url"], "https://alice.example/h");
    assert_eq!(detail["name"], "Test hook");

    // Logged out: 401 from the functions.
    assert_eq!(app.client().call("webhooks/list", &[]).await.status(), 401);
    app.stop().await;
}

async fn pages_render_on_the_server(app: TestApp) {
    let user = app.user("pages@example.com").await;
    let empty = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(empty.contains("No webhooks yet"), "empty state");
    assert!(empty.contains("href=\"/settings/webhooks/create\""));

    let id = app
        .webhook(
            &user,
            "https://crm.example.com/in",
            &["booking.created", "booking.cancelled"],
            3,
            30,
        )
        .await;
    let list = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(list.contains("https://crm.example.com/in"));
    assert!(list.contains("<tbody>"), "tables have a tbody");
    assert!(list.contains("Active"));

    let create = user
        .get("/settings/webhooks/create")
        .await
        .text()
        .await
        .unwrap();
    for t in app::domain::EventType::SUBSCRIBABLE {
        assert!(create.contains(&format!("value=\"{t}\"")), "{t} is offered");
    }
    assert!(
        !create.contains("value=\"webhook.test\""),
        "webhook.test is not offered"
    );
    assert!(
        create.contains("value=\"30\"") && create.contains("value=\"3\""),
        "defaults are filled in"
    );

    let edit = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("https://crm.example.com/in"));
    assert!(edit.contains("Send test event"));
    let secret = app_secret(&user, id).await;
    assert!(
        !edit.contains(&secret),
        "the secret is hidden until revealed"
    );
    let revealed = user
        .get(&format!("/settings/webhooks/{id}/edit?reveal=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(revealed.contains(&secret));

    assert_eq!(
        user.get("/settings/webhooks/999999/edit").await.status(),
        404
    );
    assert_eq!(user.get("/settings/webhooks/abc/edit").await.status(), 404);
    assert_eq!(user.get("/no/such/page").await.status(), 404);
    app.stop().await;
}

async fn app_secret(user: &Client, id: i64) -> String {
    user.call("webhooks/reveal-secret", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap()
}

async fn forms_work_without_javascript(app: TestApp) {
    let user = app.user("nojs@example.com").await;
    // An invalid submission goes back to the form with the error and the input in the URL…
    let res = user
        .post_form_as_browser(
            "webhooks/create",
            &[
                ("name", "Kept name"),
                ("url", "https://x.example/h"),
                ("timeout_secs", "30"),
                ("retry_attempts", "3"),
            ],
            "/settings/webhooks/create",
        )
        .await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/settings/webhooks/create?", app.base)),
        "{location}"
    );
    // …and the page rendered there shows both.
    let page = user
        .http
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose at least one event."), "error shown");
    assert!(page.contains("value=\"Kept name\""), "input kept");

    // A valid one lands on the list.
    let res = user
        .post_form_as_browser(
            "webhooks/create",
            &[
                ("name", "No JS"),
                ("url", "https://x.example/h"),
                ("events[]", "booking.created"),
                ("active", "true"),
                ("timeout_secs", "30"),
                ("retry_attempts", "3"),
            ],
            "/settings/webhooks/create",
        )
        .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/settings/webhooks");
    let list = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(list.contains("No JS"));
    app.stop().await;
}

async fn api_keys_are_shown_once_and_revocable(app: TestApp) {
    let user = app.user("keys@example.com").await;
    let created: Value = user
        .call(
            "api-keys/create",
            &[("name", "Booking app"), ("scopes[]", "events:publish")],
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("skw_"));
    let list: Value = user.call("api-keys/list", &[]).await.json().await.unwrap();
    assert_eq!(list[0]["name"], "Booking app");
    assert!(!list.to_string().contains(&key), "the key is never listed");
    let stored = <app::entities::api_key::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(stored
        .iter()
        .all(|k| k.key_hash != key && !k.key_hash.contains(&key[4..])));

    let other = app.user("other@example.com").await;
    let id = created["id"].as_i64().unwrap().to_string();
    assert_eq!(
        other.call("api-keys/revoke", &[("id", &id)]).await.status(),
        404
    );
    assert_eq!(
        app.publish(&key, "booking.created", serde_json::json!({}))
            .await
            .status(),
        202
    );
    assert_eq!(
        user.call("api-keys/revoke", &[("id", &id)]).await.status(),
        200
    );
    assert_eq!(
        app.publish(&key, "booking.created", serde_json::json!({}))
            .await
            .status(),
        401
    );
    app.stop().await;
}

backend_tests!(
    create_edit_delete,
    validation_reports_every_field_and_keeps_the_data,
    another_accounts_webhook_is_not_found_everywhere,
    pages_render_on_the_server,
    forms_work_without_javascript,
    api_keys_are_shown_once_and_revocable,
);
