//! Issue 13, templates: a webhook's own body (format `template`), rendered by minijinja with
//! values escaped for its Content-Type, checked on save next to the field with nothing stored;
//! and the edit page's request preview, whose bytes are the delivered bytes.

use crate::common::api::Api;
use crate::common::receiver::{Received, Receiver};
use crate::common::TestApp;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const CRM_TEMPLATE: &str = "{\n  \"event\": {{ event }},\n  \"contact\": {\"full_name\": {{ data.invitee.name }}, \"email\": {{ data.invitee.email }}},\n  \"minutes\": {{ data.duration }},\n  \"at\": {{ timestamp }}\n}";

fn seed_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The Standard Webhooks signature, computed here from the recipe (not with the server's code).
fn standard_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn only(rx: &Receiver, path: &str) -> Received {
    let got: Vec<Received> = rx.all().into_iter().filter(|r| r.path == path).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    got.into_iter().next().unwrap()
}

async fn create(api: &Api, body: Value) -> Value {
    let (status, w) = api.post("/api/v1/webhooks", body).await;
    assert_eq!(status, 201, "{w}");
    w
}

/// A CRM that wants its own field names and a token: the template gives it its document, the
/// custom header its token; a value with quotes cannot break the JSON; both signatures cover
/// the bytes sent.
async fn a_template_reaches_a_crm_with_its_own_fields(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "crm@example.com").await;
    let w = create(
        &api,
        json!({"name": "CRM", "url": rx.url("crm"), "events": ["booking.created", "booking.cancelled"],
            "retry_attempts": 0, "format": "template", "template": CRM_TEMPLATE,
            "headers": {"Authorization": "Bearer tok-7f3a9c"}}),
    )
    .await;
    assert_eq!(w["format"], "template");
    assert_eq!(w["template"], CRM_TEMPLATE);
    assert_eq!(w["content_type"], "application/json");
    let secret = w["secret"].as_str().unwrap().to_string();
    let name = "Jane \"JJ\" O'Brien </script>";
    for (event, id) in [("booking.created", 1), ("booking.cancelled", 2)] {
        let (status, b) = api
            .publish(
                event,
                json!({"id": id, "duration": 45, "invitee": {"name": name, "email": "jj@example.com"}}),
            )
            .await;
        assert_eq!(status, 202, "{b}");
    }
    app.dispatcher.run_until_idle().await.unwrap();
    let got: Vec<Received> = rx.all();
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["contact"]["full_name"], name, "{v}");
        assert_eq!(v["contact"]["email"], "jj@example.com");
        assert_eq!(v["minutes"], 45);
        assert!(v["at"].as_str().unwrap().ends_with('Z'), "{v}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["x-webhook-event"], v["event"].as_str().unwrap());
        assert_eq!(
            r.headers["x-webhook-signature"],
            seed_signature(&secret, &r.body)
        );
        assert_eq!(
            r.headers["webhook-signature"],
            standard_signature(
                &secret,
                &r.headers["webhook-id"],
                &r.headers["webhook-timestamp"],
                &r.body
            )
        );
        assert!(r.headers.contains_key("x-webhook-delivery-id"));
    }
    // The CRM stand-in accepted both (it answers 401 without the token, 422 without `event`).
    let id = w["id"].as_i64().unwrap();
    let (_, list) = api.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{list}");
    assert!(data.iter().all(|d| d["status"] == "succeeded"), "{list}");
    app.stop().await;
}

/// Form-encoded values are percent-encoded, plain text goes as written; each with its type.
async fn form_and_text_bodies_go_with_their_content_type(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "form@example.com").await;
    create(
        &api,
        json!({"name": "form", "url": rx.url("status/200/form"), "events": ["booking.created"],
            "format": "template", "content_type": "application/x-www-form-urlencoded",
            "template": "name={{ data.invitee.name }}&email={{ data.invitee.email }}&kind={{ event }}"}),
    )
    .await;
    create(
        &api,
        json!({"name": "text", "url": rx.url("status/200/text"), "events": ["booking.created"],
            "format": "template", "content_type": "text/plain",
            "template": "New booking by {{ data.invitee.name }} ({{ data.duration }} min)"}),
    )
    .await;
    let (status, _) = api
        .publish(
            "booking.created",
            json!({"id": 9, "duration": 30, "invitee": {"name": "Zoë & Al", "email": "z+a@example.com"}}),
        )
        .await;
    assert_eq!(status, 202);
    app.dispatcher.run_until_idle().await.unwrap();
    let form = only(&rx, "status/200/form");
    assert_eq!(
        form.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        String::from_utf8(form.body).unwrap(),
        "name=Zo%C3%AB+%26+Al&email=z%2Ba%40example.com&kind=booking.created"
    );
    let text = only(&rx, "status/200/text");
    assert_eq!(text.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        String::from_utf8(text.body).unwrap(),
        "New booking by Zoë & Al (30 min)"
    );
    app.stop().await;
}

/// Syntax errors with line and column, unknown variables by name, output that is not JSON, no
/// template, an unknown type: each refused next to its field, nothing stored or changed.
async fn bad_templates_are_refused_next_to_the_field(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "bad-template@example.com").await;
    for (template, content_type, field, expect) in [
        (
            "{\n  \"a\": {{ data.id }\n}",
            "",
            "template",
            "Line 2, column ",
        ),
        (
            "{\"p\": {{ data.invitee.phone }}}",
            "",
            "template",
            "data.invitee.phone is not a field",
        ),
        (
            "{\"n\": \"{{ data.invitee.name }}\"}",
            "",
            "template",
            "not valid JSON",
        ),
        ("{% if %}", "", "template", "Line 1"),
        ("", "", "template", "Write the body"),
        ("{}", "text/html", "content_type", "text/plain"),
    ] {
        let (status, err) = api
            .post(
                "/api/v1/webhooks",
                json!({"name": "x", "url": rx.url("ok"), "events": ["booking.created"],
                    "format": "template", "template": template, "content_type": content_type}),
            )
            .await;
        assert_eq!(status, 422, "{template}: {err}");
        let message = err["error"]["fields"][field].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{template}: {err}");
    }
    let (_, list) = api.get("/api/v1/webhooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing stored");

    // A refused change keeps what was stored.
    let w = create(
        &api,
        json!({"name": "kept", "url": rx.url("ok"), "events": ["booking.created"],
            "format": "template", "template": "{\"id\": {{ data.id }}}"}),
    )
    .await;
    let id = w["id"].as_i64().unwrap();
    let (status, err) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"template": "{\"id\": {{ data.nope }}}", "name": "changed"}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["name"], "kept", "{w}");
    assert_eq!(w["template"], "{\"id\": {{ data.id }}}");
    // Another format keeps the template (switching back loses nothing) and is not checked by it.
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"format": "standard"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["template"], "{\"id\": {{ data.id }}}");

    // The form: the error is next to the field and the template typed is kept.
    let user = app.client();
    user.call(
        "auth/login",
        &[
            ("email", "bad-template@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    let typed = "{\"phone\": {{ data.invitee.phone }}}";
    let form: Vec<(String, String)> = [
        ("name", "CRM"),
        ("url", "https://crm.example.com/in"),
        ("events[]", "booking.created"),
        ("format", "template"),
        ("content_type", "application/json"),
        ("template", typed),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let res = user.call_owned("webhooks/create", &form).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let errors = body["Invalid"]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e[0] == "template" && e[1].as_str().unwrap().contains("data.invitee.phone")),
        "{body}"
    );
    let echo = body["Invalid"]["echo"].as_array().unwrap();
    assert!(
        echo.iter().any(|e| e[0] == "template" && e[1] == typed),
        "{body}"
    );
    app.stop().await;
}

/// The preview of one of the account's events is the request delivered for it: the same body
/// bytes and headers (but for the id and time), each signature valid over its bytes; custom
/// header values never show.
async fn the_preview_is_what_is_delivered(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "preview@example.com").await;
    let w = create(
        &api,
        json!({"name": "CRM", "url": rx.url("crm"), "events": ["booking.created"],
            "retry_attempts": 0, "format": "template", "template": CRM_TEMPLATE,
            "headers": {"Authorization": "Bearer tok-7f3a9c"}}),
    )
    .await;
    let id = w["id"].as_i64().unwrap();
    let secret = w["secret"].as_str().unwrap().to_string();
    let (status, published) = api
        .publish(
            "booking.created",
            json!({"id": 5, "duration": 60, "invitee": {"name": "Ana", "email": "ana@example.com"}}),
        )
        .await;
    assert_eq!(status, 202, "{published}");
    let event_id = published["id"].as_str().unwrap().to_string();

    let user = app.client();
    user.call(
        "auth/login",
        &[
            ("email", "preview@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    let source = format!("event:{event_id}");
    let res = user
        .call(
            "webhooks/preview",
            &[("id", id.to_string().as_str()), ("source", source.as_str())],
        )
        .await;
    assert_eq!(res.status(), 200);
    let preview: Value = res.json().await.unwrap();
    assert_eq!(preview["source"], source.as_str(), "{preview}");
    assert!(preview["note"].is_null(), "{preview}");
    let headers: std::collections::HashMap<String, String> =
        serde_json::from_value::<Vec<(String, String)>>(preview["headers"].clone())
            .unwrap()
            .into_iter()
            .collect();
    let body = preview["body"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(headers["authorization"], "***", "{preview}");
    assert!(!preview.to_string().contains("tok-7f3a9c"), "{preview}");

    app.dispatcher.run_until_idle().await.unwrap();
    let sent = only(&rx, "crm");
    assert_eq!(
        sent.body, body,
        "the preview's bytes are the delivered bytes"
    );
    for name in ["content-type", "user-agent", "x-webhook-event"] {
        assert_eq!(headers[name], sent.headers[name], "{name}");
    }
    assert_eq!(
        headers["x-webhook-signature"],
        sent.headers["x-webhook-signature"]
    );
    assert_eq!(
        headers["x-webhook-signature"],
        seed_signature(&secret, &body)
    );
    for h in [&headers, &sent.headers] {
        assert_eq!(
            h["webhook-signature"],
            standard_signature(
                &secret,
                &h["webhook-id"],
                &h["webhook-timestamp"],
                &sent.body
            )
        );
    }

    // An example of a subscribed type renders too; another account's event is not previewed.
    let res = user
        .call(
            "webhooks/preview",
            &[
                ("id", id.to_string().as_str()),
                ("source", "example:booking.created"),
            ],
        )
        .await;
    let example: Value = res.json().await.unwrap();
    let doc: Value = serde_json::from_str(example["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["contact"]["full_name"], "Jane Smith", "{example}");
    let other = Api::new(&app, "other@example.com").await;
    let (_, theirs) = other
        .publish(
            "booking.created",
            json!({"id": 1, "invitee": {"name": "Secret Sam"}}),
        )
        .await;
    let source = format!("event:{}", theirs["id"].as_str().unwrap());
    let res = user
        .call(
            "webhooks/preview",
            &[("id", id.to_string().as_str()), ("source", source.as_str())],
        )
        .await;
    let fallback: Value = res.json().await.unwrap();
    assert!(!fallback.to_string().contains("Secret Sam"), "{fallback}");
    assert_eq!(fallback["source"], "example:booking.created");
    app.stop().await;
}

backend_tests!(
    a_template_reaches_a_crm_with_its_own_fields,
    form_and_text_bodies_go_with_their_content_type,
    bad_templates_are_refused_next_to_the_field,
    the_preview_is_what_is_delivered
);
