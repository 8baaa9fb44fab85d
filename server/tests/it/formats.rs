//! Issue 13, formats: a webhook set to `slack`, `discord` or `teams` is sent a message that
//! app accepts (checked by stand-ins on loopback that answer as each app documents), signed
//! over exactly the bytes sent, and the delivery log shows those bytes; `standard` stays the
//! seed JSON. The format is chosen on the form and in the API, and bad values are refused next
//! to the field with nothing stored.

use crate::common::api::Api;
use crate::common::receiver::{Received, Receiver};
use crate::common::TestApp;
use crate::delivery::verify;
use serde_json::{json, Value};

fn booking() -> Value {
    json!({"id": 123, "event_type": "30-min-consultation", "date": "2025-01-20", "time": "14:00",
        "duration": 30, "invitee": {"name": "Jane Smith", "email": "jane@example.com"},
        "location": "Zoom", "meeting_link": "https://zoom.us/j/123"})
}

const EVENTS: [&str; 3] = ["booking.created", "payment.completed", "event.reminder"];

async fn create(api: &Api, url: &str, format: Option<&str>) -> (u16, Value) {
    let mut body = json!({"name": "chat", "url": url, "events": EVENTS, "retry_attempts": 0});
    if let Some(f) = format {
        body["format"] = json!(f);
    }
    api.post("/api/v1/webhooks", body).await
}

fn at(rx: &Receiver, path: &str) -> Vec<Received> {
    rx.all().into_iter().filter(|r| r.path == path).collect()
}

/// Each chat format, for three event types: accepted by its app's stand-in, both signatures
/// verify over the bytes received, and the log's request body is exactly those bytes. The same
/// events sent as standard JSON to the Slack stand-in are refused (`no_text`), as in the issue.
async fn each_chat_format_is_accepted_and_signed(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "chat@example.com").await;
    let mut hooks = Vec::new();
    for format in ["slack", "discord", "teams"] {
        let (status, w) = create(&api, &rx.url(format), Some(format)).await;
        assert_eq!(status, 201, "{w}");
        assert_eq!(w["format"], format, "{w}");
        hooks.push((
            format,
            w["id"].as_i64().unwrap(),
            w["secret"].as_str().unwrap().to_string(),
        ));
    }
    let (status, plain) = create(&api, &rx.url("slack/plain"), Some("standard")).await;
    assert_eq!(status, 201, "{plain}");
    let plain_id = plain["id"].as_i64().unwrap();

    for event in EVENTS {
        let mut data = booking();
        if event.starts_with("payment.") {
            data["amount"] = json!("49.00");
            data["currency"] = json!("usd");
        }
        let (status, body) = api.publish(event, data).await;
        assert_eq!(status, 202, "{body}");
    }
    app.dispatcher.run_until_idle().await.unwrap();

    for (format, id, secret) in &hooks {
        let got = at(&rx, format);
        let (status, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
        assert_eq!(status, 200, "{list}");
        let deliveries = list["data"].as_array().unwrap();
        assert_eq!(deliveries.len(), 3, "{list}");
        assert!(
            deliveries.iter().all(|d| d["status"] == "succeeded"),
            "{format}: every delivery accepted: {list}"
        );
        for d in deliveries {
            let delivery_id = d["id"].as_str().unwrap();
            let r = got
                .iter()
                .find(|r| r.headers["x-webhook-delivery-id"] == delivery_id)
                .unwrap_or_else(|| panic!("{format}: {delivery_id} not received"));
            verify(r, secret);
            assert_eq!(r.headers["content-type"], "application/json");
            assert_eq!(
                r.headers["x-webhook-event"],
                d["event_type"].as_str().unwrap()
            );
            let (_, detail) = api.get(&format!("/api/v1/deliveries/{delivery_id}")).await;
            assert_eq!(
                detail["body"].as_str().unwrap().as_bytes(),
                r.body.as_slice(),
                "{format}: the log shows the bytes sent"
            );
        }
    }

    // What the owner reads in each app, for the seed's booking.
    let line =
        "New booking: Jane Smith — 30-min consultation, Mon 20 Jan 2025 14:00 (30 min, Zoom)";
    let message_of = |format: &str, event: &str| -> Value {
        let r = at(&rx, format)
            .into_iter()
            .find(|r| r.headers["x-webhook-event"] == event)
            .unwrap();
        serde_json::from_slice(&r.body).unwrap()
    };
    assert_eq!(message_of("slack", "booking.created")["text"], line);
    assert_eq!(message_of("discord", "booking.created")["content"], line);
    assert_eq!(
        message_of("discord", "payment.completed")["content"],
        "Payment received: Jane Smith — 49.00 USD, 30-min consultation"
    );
    let teams = message_of("teams", "event.reminder");
    assert!(
        teams["summary"]
            .as_str()
            .unwrap()
            .starts_with("Reminder: Jane Smith — "),
        "{teams}"
    );

    let (_, list) = api
        .get(&format!("/api/v1/webhooks/{plain_id}/deliveries"))
        .await;
    let plain = list["data"].as_array().unwrap();
    assert_eq!(plain.len(), 3, "{list}");
    assert_eq!(at(&rx, "slack/plain").len(), 3);
    assert!(
        plain.iter().all(|d| d["status"] == "failed"),
        "the seed JSON is refused by Slack: {list}"
    );
    app.stop().await;
}

/// The API: a bad format is refused naming `format` with nothing stored or changed; an omitted
/// format follows a chat app's URL (no request is made to it); a standard webhook is sent the
/// stored body byte for byte.
async fn the_format_is_chosen_and_checked_in_the_api(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "fmt@example.com").await;
    let (status, err) = create(&api, &rx.url("ok"), Some("fax")).await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["error"]["fields"]["format"]
            .as_str()
            .unwrap()
            .contains("fax"),
        "{err}"
    );
    let (_, list) = api.get("/api/v1/webhooks").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing stored: {list}"
    );

    for (url, want) in [
        ("https://hooks.slack.com/services/T0/B0/secret", "slack"),
        ("https://discord.com/api/webhooks/1/token", "discord"),
        (
            "https://prod-1.westus.logic.azure.com/workflows/x/triggers/manual/paths/invoke",
            "teams",
        ),
        ("https://crm.example.com/hooks", "standard"),
    ] {
        let (status, w) = create(&api, url, None).await;
        assert_eq!(status, 201, "{w}");
        assert_eq!(w["format"], want, "{url}: {w}");
    }

    let (status, w) = create(&api, &rx.url("ok"), None).await;
    assert_eq!(status, 201, "{w}");
    let id = w["id"].as_i64().unwrap();
    let (status, err) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"format": "bogus", "name": "renamed"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"]["fields"]["format"].is_string(), "{err}");
    let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["name"], "chat", "a refused change changes nothing: {w}");
    assert_eq!(w["format"], "standard");

    let (status, published) = api.publish("booking.created", booking()).await;
    assert_eq!(status, 202, "{published}");
    app.dispatcher.run_until_idle().await.unwrap();
    let got = at(&rx, "ok");
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["event"], "booking.created");
    assert_eq!(body["data"], booking(), "standard is the seed JSON");

    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"format": "discord"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["format"], "discord");
    app.stop().await;
}

/// The form: the format is saved and read back; an unknown one is refused next to the field
/// with the input echoed and nothing stored.
async fn the_format_is_chosen_on_the_form(app: TestApp) {
    let user = app.user("form-fmt@example.com").await;
    let form = |format: &str| -> Vec<(String, String)> {
        [
            ("name", "Team chat"),
            ("url", "https://discord.com/api/webhooks/1/token"),
            ("events[]", "booking.created"),
            ("active", "true"),
            ("timeout_secs", "30"),
            ("retry_attempts", "3"),
            ("description", ""),
            ("format", format),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let res = user.call_owned("webhooks/create", &form("telex")).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let errors = body["Invalid"]["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e[0] == "format"), "{body}");
    let echo = body["Invalid"]["echo"].as_array().unwrap();
    assert!(
        echo.iter().any(|e| e[0] == "format" && e[1] == "telex"),
        "{body}"
    );
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(list, Value::Array(vec![]), "nothing stored");

    let res = user.call_owned("webhooks/create", &form("discord")).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let detail: Value = user
        .call("webhooks/get", &[("id", id.as_str())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["format"], "discord", "{detail}");

    // The edit page renders the select with the stored choice.
    let page = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<option value="discord" selected"#),
        "the stored format is selected"
    );
    app.stop().await;
}

backend_tests!(
    each_chat_format_is_accepted_and_signed,
    the_format_is_chosen_and_checked_in_the_api,
    the_format_is_chosen_on_the_form,
);

/// Custom headers for a CRM that wants a bearer token: sent with every request; the value
/// never appears in the API, the delivery log or the edit page's source; `***` keeps it on
/// save; reserved names and more than 20 are refused naming `headers`, changing nothing;
/// removing the header makes the CRM refuse (so the header is what got the request in).
async fn custom_headers_reach_the_crm_and_stay_secret(app: TestApp) {
    const TOKEN: &str = "tok-7f3a9c";
    let rx = Receiver::start().await;
    let api = Api::new(&app, "crm@example.com").await;
    let (status, w) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "CRM", "url": rx.url("crm"), "events": ["booking.created"],
                "retry_attempts": 0, "headers": {"Authorization": format!("Bearer {TOKEN}")}}),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["headers"], json!({"Authorization": "***"}));
    assert!(
        !w.to_string().contains(TOKEN),
        "the answer hides the value: {w}"
    );
    let id = w["id"].as_i64().unwrap();

    let (status, b) = api.publish("booking.created", booking()).await;
    assert_eq!(status, 202, "{b}");
    app.dispatcher.run_until_idle().await.unwrap();
    let got = at(&rx, "crm");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["authorization"], format!("Bearer {TOKEN}"));
    let (_, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(list["data"][0]["status"], "succeeded", "{list}");
    let delivery_id = list["data"][0]["id"].as_str().unwrap().to_string();
    let (_, detail) = api.get(&format!("/api/v1/deliveries/{delivery_id}")).await;
    assert_eq!(
        detail["attempts"][0]["request_headers"]["authorization"], "***",
        "{detail}"
    );
    assert!(
        !detail.to_string().contains(TOKEN),
        "the log hides the value"
    );
    let (_, all) = api.get("/api/v1/webhooks").await;
    assert!(!all.to_string().contains(TOKEN));

    let user = app.client();
    let res = user
        .call(
            "auth/login",
            &[
                ("email", "crm@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    for page in [
        format!("/settings/webhooks/{id}/edit"),
        format!("/settings/webhooks/{id}/deliveries/{delivery_id}"),
    ] {
        let html = user.get(&page).await.text().await.unwrap();
        assert!(
            html.to_lowercase().contains("authorization"),
            "{page} names the header"
        );
        if let Some(i) = html.find(TOKEN) {
            panic!(
                "{page} shows the value: {}",
                &html[i.saturating_sub(300)..(i + 100).min(html.len())]
            );
        }
    }

    // Refused changes change nothing.
    let too_many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("X-H{i}"), json!("v"))).collect();
    for bad in [
        json!({"Content-Type": "text/plain"}),
        json!({"X-Webhook-Signature": "forged"}),
        json!({"Bad Name": "x"}),
        json!({"X-New": "***"}),
        Value::Object(too_many),
    ] {
        let (status, err) = api
            .patch(
                &format!("/api/v1/webhooks/{id}"),
                json!({"headers": bad, "name": "changed"}),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {err}");
        assert!(err["error"]["fields"]["headers"].is_string(), "{err}");
    }
    // `***` keeps the stored value, also through an unrelated change.
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"headers": {"Authorization": "***", "X-Source": "schedulingkit"}}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["name"], "CRM", "the refused changes left the name alone");
    let (status, _) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"timeout_secs": 20}),
        )
        .await;
    assert_eq!(status, 200);
    api.publish("booking.created", booking()).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let got = at(&rx, "crm");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(got[1].headers["x-source"], "schedulingkit");

    // Without the header the CRM refuses.
    let (status, w) = api
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"headers": {}}))
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["headers"], json!({}));
    api.publish("booking.created", booking()).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(list["data"][0]["status"], "failed", "{list}");
    assert_eq!(list["data"][0]["last_status_code"], 401, "{list}");
    app.stop().await;
}

backend_tests!(custom_headers_reach_the_crm_and_stay_secret);
