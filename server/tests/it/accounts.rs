//! Sign-up, log-in, log-out, sessions, the page guard, and the account CLI.

use crate::common::TestApp;
use sea_orm::EntityTrait;

async fn sign_up_logs_in_and_hashes_with_argon2id(app: TestApp) {
    let user = app.user("Jane@Example.com").await;
    let me: serde_json::Value = user.call("auth/me", &[]).await.json().await.unwrap();
    assert_eq!(me["email"], "jane@example.com");

    let stored = app::entities::user::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].password_hash.starts_with("$argon2id$"),
        "{}",
        stored[0].password_hash
    );
    assert!(!stored[0].password_hash.contains("correct horse"));
    app.stop().await;
}

async fn sign_up_reports_bad_input_next_to_the_fields(app: TestApp) {
    let c = app.client();
    let res = c
        .call(
            "auth/signup",
            &[("email", "not-an-email"), ("password", "short")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    let errors = body["Invalid"]["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors.iter().map(|e| e[0].as_str().unwrap()).collect();
    assert!(
        fields.contains(&"email") && fields.contains(&"password"),
        "{body}"
    );
    // The e-mail is echoed back, the password never is.
    assert!(!body.to_string().contains("short"), "{body}");

    app.user("taken@example.com").await;
    let res = app
        .client()
        .call(
            "auth/signup",
            &[
                ("email", "TAKEN@example.com"),
                ("password", "another password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("already exists"));
    app.stop().await;
}

async fn login_logout_and_the_session_cookie(app: TestApp) {
    app.user("kim@example.com").await;
    let c = app.client();
    let wrong = c
        .call(
            "auth/login",
            &[("email", "kim@example.com"), ("password", "wrong password")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Incorrect e-mail or password"));
    let unknown = c
        .call(
            "auth/login",
            &[("email", "nobody@example.com"), ("password", "whatever123")],
        )
        .await;
    assert_eq!(unknown.status(), 422);

    let ok = c
        .call(
            "auth/login",
            &[
                ("email", "kim@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("skw_session="))
        .expect("a session cookie is set");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http serves no Secure cookie: {cookie}"
    );

    assert_eq!(c.get("/settings/webhooks").await.status(), 200);
    assert_eq!(c.call("auth/logout", &[]).await.status(), 200);
    let me: serde_json::Value = c.call("auth/me", &[]).await.json().await.unwrap();
    assert!(me.is_null());
    assert_eq!(c.get("/settings/webhooks").await.status(), 303);
    app.stop().await;
}

async fn login_renews_the_session_id(app: TestApp) {
    app.user("renew@example.com").await;
    let c = app.client();
    let first = c
        .call(
            "auth/login",
            &[
                ("email", "renew@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let id1 = session_cookie(&first);
    let second = c
        .call(
            "auth/login",
            &[
                ("email", "renew@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let id2 = session_cookie(&second);
    assert!(id1.is_some() && id2.is_some());
    assert_ne!(id1, id2, "each login gets a new session id");
    app.stop().await;
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("skw_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
}

async fn settings_pages_send_visitors_to_login_and_back(app: TestApp) {
    let c = app.client();
    let res = c.get("/settings/webhooks/7/edit?x=1").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Fsettings%2Fwebhooks%2F7%2Fedit%3Fx%3D1"
    );

    app.user("back@example.com").await;
    let c = app.client();
    let res = c
        .post_form_as_browser(
            "auth/login",
            &[
                ("email", "back@example.com"),
                ("password", "correct horse battery"),
                ("next", "/settings/api-keys"),
            ],
            "/login?next=%2Fsettings%2Fapi-keys",
        )
        .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/settings/api-keys");

    // An off-site `next` is ignored.
    let res = c
        .post_form_as_browser(
            "auth/login",
            &[
                ("email", "back@example.com"),
                ("password", "correct horse battery"),
                ("next", "//evil.example/"),
            ],
            "/login",
        )
        .await;
    assert_eq!(res.headers()["location"], "/settings/webhooks");
    app.stop().await;
}

async fn sessions_survive_a_restart(app: TestApp) {
    let user = app.user("persist@example.com").await;
    let db = app.db.clone();
    let backend = app.backend;
    let dir_db = db.clone();
    // A second server on the same database recognises the cookie.
    let args = crate::common::test_args();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = server::start(dir_db, &args, listener).await.unwrap();
    app.stop().await;
    let res = user
        .http
        .post(format!("http://{}/fn/auth/me", second.addr))
        .send()
        .await
        .unwrap();
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["email"], "persist@example.com", "backend {backend:?}");
    second.stop(std::time::Duration::from_secs(5)).await;
}

async fn the_cli_creates_accounts(app: TestApp) {
    let out = server::cli::create_account(&app.db, "cli@example.com", "a long password\n")
        .await
        .unwrap();
    assert!(out.contains("cli@example.com"));
    assert!(
        server::cli::create_account(&app.db, "cli@example.com", "a long password\n")
            .await
            .is_err()
    );
    assert!(
        server::cli::create_account(&app.db, "bad", "a long password\n")
            .await
            .is_err()
    );
    assert!(
        server::cli::create_account(&app.db, "ok@example.com", "short\n")
            .await
            .is_err()
    );
    let c = app.client();
    let res = c
        .call(
            "auth/login",
            &[
                ("email", "cli@example.com"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

backend_tests!(
    sign_up_logs_in_and_hashes_with_argon2id,
    sign_up_reports_bad_input_next_to_the_fields,
    login_logout_and_the_session_cookie,
    login_renews_the_session_id,
    settings_pages_send_visitors_to_login_and_back,
    sessions_survive_a_restart,
    the_cli_creates_accounts,
);
