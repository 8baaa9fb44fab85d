//! Hardening: security headers, same-origin checks, log-in limits, and the SSRF guard refusing
//! before any connection.

use crate::common::TestApp;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

async fn pages_and_api_carry_security_headers(app: TestApp) {
    let page = app.client().get("/login").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers().contains_key("referrer-policy"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the inline script carries the header's nonce"
    );

    let api = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    app.stop().await;
}

async fn cross_site_form_posts_are_refused(app: TestApp) {
    let user = app.user("csrf@example.com").await;
    let form = [
        ("name", "Forged"),
        ("url", "https://evil.example/h"),
        ("events[]", "booking.created"),
        ("timeout_secs", "30"),
        ("retry_attempts", "3"),
    ];
    let forged = user
        .http
        .post(format!("{}/fn/webhooks/create", app.base))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let forged = user
        .http
        .post(format!("{}/fn/webhooks/create", app.base))
        .header("referer", "https://evil.example/page")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let list: serde_json::Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(list, json!([]), "nothing was created");

    let same = user
        .http
        .post(format!("{}/fn/webhooks/create", app.base))
        .header("origin", &app.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200, "{}", same.text().await.unwrap());
    app.stop().await;
}

async fn failed_log_ins_are_limited(app: TestApp) {
    app.user("brute@example.com").await;
    app.user("other@example.com").await;
    let c = app.client();
    for _ in 0..10 {
        let res = c
            .call(
                "auth/login",
                &[("email", "brute@example.com"), ("password", "guess guess")],
            )
            .await;
        assert_eq!(res.status(), 422);
    }
    // Locked, even with the right password…
    let res = c
        .call(
            "auth/login",
            &[
                ("email", "brute@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many log-in attempts"));
    // …while other accounts are not.
    let res = c
        .call(
            "auth/login",
            &[
                ("email", "other@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

async fn private_targets_are_refused_before_any_connection(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.allow_insecure_targets = false;
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    let user = app.user("ssrf@example.com").await;
    let form = |url: &str| {
        vec![
            ("name".to_string(), "x".to_string()),
            ("url".to_string(), url.to_string()),
            ("events[]".to_string(), "booking.created".to_string()),
            ("active".to_string(), "true".to_string()),
        ]
    };
    for url in [
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://localhost/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "http://hooks.example.com/",
    ] {
        let res = user.call_owned("webhooks/create", &form(url)).await;
        assert_eq!(res.status(), 422, "{url} was accepted");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["Invalid"]["errors"][0][0], "url", "{url}: {body}");
    }

    // A target stored before the rules tightened is refused at send time, as an attempt, and
    // the listener on this machine sees no connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ok = user
        .call_owned("webhooks/create", &form("https://hooks.example.com/in"))
        .await;
    assert_eq!(ok.status(), 200);
    let hook = app::entities::webhook::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    for (i, url) in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
    ]
    .iter()
    .enumerate()
    {
        app::entities::webhook::Entity::update_many()
            .col_expr(
                app::entities::webhook::Column::Url,
                sea_orm::sea_query::Expr::value(url.clone()),
            )
            .filter(app::entities::webhook::Column::Id.eq(hook.id))
            .exec(&app.db)
            .await
            .unwrap();
        let key = app.api_key("ssrf@example.com").await;
        assert_eq!(
            app.publish(&key, "booking.created", json!({"i": i}))
                .await
                .status(),
            202
        );
        app.dispatcher.run_once().await.unwrap();
    }
    let attempts = app::entities::attempt::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(attempts.len() >= 2, "{attempts:?}");
    for a in &attempts {
        assert_eq!(a.error_kind.map(|k| k.as_str()), Some("blocked"), "{a:?}");
        assert!(a.response_status.is_none());
    }
    assert!(
        listener.accept().is_err(),
        "no connection reached this machine"
    );
    app.stop().await;
}

backend_tests!(
    pages_and_api_carry_security_headers,
    cross_site_form_posts_are_refused,
    failed_log_ins_are_limited,
    private_targets_are_refused_before_any_connection,
);
