//! Web and account hardening (issue 11): the log-in and sign-up forms, what the pages make of
//! user text and of links, sessions, and the pages that show secrets.
//!
//! Two client addresses without leaving loopback: the server listens on 127.0.0.1 and a client
//! binds 127.0.0.2 (all of 127.0.0.0/8 is this machine).

use crate::common::TestApp;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn names_with_invisible_characters_are_refused(app: TestApp) {
    let user = app.user("bidi@example.com").await;
    let key = app.api_key("bidi@example.com").await;
    let name = "Payroll\u{202E}fdp.exe";
    let res = user
        .call(
            "webhooks/create",
            &[
                ("name", name),
                ("url", "https://hooks.example.com/in"),
                ("events[]", "booking.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["Invalid"]["errors"][0][0], "name", "{body}");
    assert!(body["Invalid"]["errors"][0][1]
        .as_str()
        .unwrap()
        .contains("U+202E"));

    let api = reqwest::Client::new();
    let res = api
        .post(format!("{}/api/v1/webhooks", app.base))
        .bearer_auth(&key)
        .json(&json!({"name": "CRM\u{200B}", "url": "https://hooks.example.com/in", "events": ["booking.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(
        body["error"]["fields"]["name"]
            .as_str()
            .unwrap()
            .contains("U+200B"),
        "{body}"
    );

    let id = app
        .webhook(
            &user,
            "https://hooks.example.com/in",
            &["booking.created"],
            0,
            30,
        )
        .await;
    let res = api
        .patch(format!("{}/api/v1/webhooks/{id}", app.base))
        .bearer_auth(&key)
        .json(&json!({"name": "\u{2066}CRM\u{2069}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let res = user
        .call("api-keys/create", &[("name", "prod\u{200F}")])
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["Invalid"]["errors"][0][0], "name", "{body}");

    let res = app
        .client()
        .call(
            "auth/signup",
            &[
                ("email", "jane\u{202E}@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["Invalid"]["errors"][0][0], "email", "{body}");
    assert!(
        server::cli::create_api_key(&app.db, "bidi@example.com", "cli\u{202E}")
            .await
            .is_err()
    );
    app.stop().await;
}

backend_tests!(names_with_invisible_characters_are_refused,);
