//! Web and account hardening (issue 11): the log-in and sign-up forms, what the pages make of
//! user text and of links, sessions, and the pages that show secrets.
//!
//! Two client addresses without leaving loopback: the server listens on 127.0.0.1 and a client
//! binds 127.0.0.2 (all of 127.0.0.0/8 is this machine).

use crate::common::receiver::Receiver;
use crate::common::{Client, TestApp};
use base64::Engine;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use sha2::Digest;
use std::time::Duration;

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
        server::cli::create_api_key(&app.db, "bidi@example.com", "cli\u{202E}", &[])
            .await
            .is_err()
    );
    app.stop().await;
}

/// A browser-like client whose connections come from `ip` (a loopback address).
fn client_from(app: &TestApp, ip: &str) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .local_address(Some(ip.parse().unwrap()))
            .build()
            .unwrap(),
        base: app.base.clone(),
    }
}

async fn login(c: &Client, email: &str, password: &str) -> reqwest::Response {
    c.call("auth/login", &[("email", email), ("password", password)])
        .await
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", res.headers()))
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds")
}

async fn one_address_cannot_lock_out_another(app: TestApp) {
    app.user("victim@example.com").await;
    let attacker = client_from(&app, "127.0.0.1");
    // Failed log-ins with made-up e-mails, up to the per-address limit (50)…
    for i in 0..50 {
        let res = login(&attacker, &format!("nobody{i}@example.com"), "guess guess").await;
        assert_eq!(res.status(), 422, "attempt {i}");
    }
    // …lock that address out, whatever the e-mail…
    let locked = login(&attacker, "victim@example.com", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    // …and only that address.
    let elsewhere = client_from(&app, "127.0.0.2");
    let res = login(&elsewhere, "victim@example.com", PASSWORD).await;
    assert_eq!(
        res.status(),
        200,
        "another address was locked out: {}",
        res.text().await.unwrap()
    );
    assert!(retry_after(&locked) >= 1);
    app.stop().await;
}

async fn concurrent_guesses_stop_at_the_account_limit(app: TestApp) {
    app.user("target@example.com").await;
    let c = app.client();
    let guesses = (0..48).map(|i| {
        let c = &c;
        async move { login(c, "target@example.com", &format!("guess number {i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status() == 422).count();
    let refused = answers.iter().filter(|r| r.status() == 429).count();
    println!("48 concurrent wrong passwords: {checked} checked, {refused} refused");
    assert_eq!(
        (checked, refused),
        (10, 38),
        "only the account's limit of 10 may reach the password check"
    );
    for r in answers.iter().filter(|r| r.status() == 429) {
        assert!(retry_after(r) >= 1);
    }
    // Locked now, even with the right password.
    assert_eq!(
        login(&c, "target@example.com", PASSWORD).await.status(),
        429
    );
    app.stop().await;
}

async fn sign_ups_are_limited_per_address(app: TestApp) {
    let signup = |c: Client, i: usize| async move {
        c.call(
            "auth/signup",
            &[
                ("email", format!("burst{i}@example.com").as_str()),
                ("password", PASSWORD),
            ],
        )
        .await
    };
    for i in 0..10 {
        let res = signup(client_from(&app, "127.0.0.1"), i).await;
        assert_eq!(
            res.status(),
            200,
            "sign-up {i}: {}",
            res.text().await.unwrap()
        );
    }
    for i in 10..13 {
        let res = signup(client_from(&app, "127.0.0.1"), i).await;
        assert_eq!(res.status(), 429, "sign-up {i} past the limit");
        let wait = retry_after(&res);
        assert!((1..=3600).contains(&wait), "Retry-After: {wait}");
        let body = res.text().await.unwrap();
        assert!(body.contains("Too many sign-ups"), "{body}");
    }
    let accounts = app::entities::account::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts.len(), 10, "the refused sign-ups created nothing");
    // Another address signs up as usual.
    let res = signup(client_from(&app, "127.0.0.2"), 99).await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

async fn a_trusted_proxy_header_is_believed_only_when_configured(app: TestApp) {
    let backend = app.backend;
    // By default the header is ignored: a client cannot spread its failures over made-up
    // addresses.
    app.user("proxied@example.com").await;
    let c = app.client();
    let forged = |i: usize| format!("198.51.100.{i}");
    for i in 0..50 {
        let res = c
            .http
            .post(format!("{}/fn/auth/login", app.base))
            .header("x-forwarded-for", forged(i))
            .form(&[
                ("email", format!("n{i}@example.com")),
                ("password", "guess guess".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
    }
    let res = c
        .http
        .post(format!("{}/fn/auth/login", app.base))
        .header("x-forwarded-for", forged(200))
        .form(&[("email", "proxied@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the header was believed without the setting"
    );
    app.stop().await;

    // Behind a proxy that writes X-Forwarded-For, each client counts for itself.
    let mut args = crate::common::test_args();
    args.trusted_proxy_header = Some("x-forwarded-for".into());
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    app.user("proxied@example.com").await;
    let proxy = app.client();
    let via_proxy = |client: &'static str, email: String, password: &'static str| {
        proxy
            .http
            .post(format!("{}/fn/auth/login", app.base))
            // The client's own (forged) entry first, the proxy's last.
            .header("x-forwarded-for", format!("203.0.113.66, {client}"))
            .form(&[("email", email), ("password", password.to_string())])
            .send()
    };
    for i in 0..50 {
        let res = via_proxy("198.51.100.1", format!("n{i}@example.com"), "guess guess")
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
    }
    let res = via_proxy("198.51.100.1", "proxied@example.com".into(), PASSWORD)
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "the noisy client is limited");
    let res = via_proxy("198.51.100.2", "proxied@example.com".into(), PASSWORD)
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another client behind the proxy is not");
    app.stop().await;
}

async fn next_is_always_a_path_of_this_site(app: TestApp) {
    app.user("next@example.com").await;
    let c = app.client();
    for (next, expected) in [
        ("/settings/api-keys", "/settings/api-keys"),
        ("/\t/evil.example", "/settings/webhooks"),
        ("/\n/evil.example", "/settings/webhooks"),
        ("/settings\r\nSet-Cookie: a=b", "/settings/webhooks"),
        ("//evil.example", "/settings/webhooks"),
        ("/\\evil.example", "/settings/webhooks"),
        ("/ /evil.example", "/settings/webhooks"),
        ("https://evil.example/", "/settings/webhooks"),
    ] {
        let res = c
            .http
            .post(format!("{}/fn/auth/login", app.base))
            .header("accept", "text/html")
            .header("referer", format!("{}/login", app.base))
            .form(&[
                ("email", "next@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap_or_else(|e| panic!("next={next:?} dropped the connection: {e}"));
        assert_eq!(res.status(), 302, "{next:?}");
        assert_eq!(res.headers()["location"], expected, "{next:?}");
    }
    // Called as a script would (no redirect to follow), and at sign-up: no panic either.
    let res = c
        .call(
            "auth/login",
            &[
                ("email", "next@example.com"),
                ("password", PASSWORD),
                ("next", "/\n"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .client()
        .call(
            "auth/signup",
            &[
                ("email", "next2@example.com"),
                ("password", PASSWORD),
                ("next", "/x\ny"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("skw_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a session cookie")
}

async fn the_sessions_table_holds_no_session_id(app: TestApp) {
    app.user("hashed@example.com").await;
    let c = app.client();
    let res = login(&c, "hashed@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let id = session_cookie(&res);
    let rows = app::entities::session::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    assert!(
        !dump.contains(&id),
        "the cookie's value is readable in the sessions table: {dump}"
    );
    let hashed = hex::encode(sha2::Sha256::digest(id.as_bytes()));
    assert!(
        rows.iter().any(|r| r.id == hashed),
        "the row is keyed by the id's SHA-256"
    );
    // The cookie still logs in, and a row's key does not.
    let me: Value = c.call("auth/me", &[]).await.json().await.unwrap();
    assert_eq!(me["email"], "hashed@example.com");
    let thief = reqwest::Client::new()
        .post(format!("{}/fn/auth/me", app.base))
        .header("cookie", format!("skw_session={hashed}"))
        .send()
        .await
        .unwrap();
    let me: Value = thief.json().await.unwrap();
    assert!(me.is_null(), "a row's key is not a log-in: {me}");
    // Log-out deletes the row.
    assert_eq!(c.call("auth/logout", &[]).await.status(), 200);
    let rows = app::entities::session::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.id != hashed));
    app.stop().await;
}

async fn page(user: &Client, path: &str) -> String {
    let res = user.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

fn full_keys(html: &str) -> Vec<String> {
    html.match_indices("skw_")
        .map(|(at, _)| &html[at..])
        .filter_map(|rest| {
            let hex: String = rest[4..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            (hex.len() == 48).then(|| format!("skw_{hex}"))
        })
        .collect()
}

async fn sessions_data(app: &TestApp) -> String {
    let rows = app::entities::session::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.data.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn a_key_made_without_javascript_is_handed_over_sealed_and_once(app: TestApp) {
    let user = app.user("nojs-key@example.com").await;
    let res = user
        .post_form_as_browser(
            "api-keys/create",
            &[("name", "No JS"), ("scopes[]", "events:publish")],
            "/settings/api-keys",
        )
        .await;
    assert_eq!(res.status(), 302);
    let stored = app::entities::api_key::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let data = sessions_data(&app).await;
    assert!(
        !data.contains(&stored.prefix) && !data.contains("skw_"),
        "the new key waits in plain text in the session row: {data}"
    );

    let html = page(&user, "/settings/api-keys").await;
    let keys = full_keys(&html);
    assert!(!keys.is_empty(), "the page shows the new key once");
    assert!(keys
        .iter()
        .all(|k| app::api_keys::ssr::hash_key(k) == stored.key_hash));
    assert!(
        !sessions_data(&app).await.contains("new_api_key"),
        "shown, and gone from the session"
    );
    let html = page(&user, "/settings/api-keys").await;
    assert!(full_keys(&html).is_empty(), "not twice");
    app.stop().await;
}

async fn pages_with_secrets_are_not_cached(app: TestApp) {
    let user = app.user("nostore@example.com").await;
    let id = app
        .webhook(
            &user,
            "https://hooks.example.com/in",
            &["booking.created"],
            0,
            30,
        )
        .await;
    for path in [
        format!("/settings/webhooks/{id}/edit?reveal=1"),
        format!("/settings/webhooks/{id}/edit"),
        "/settings/api-keys".to_string(),
    ] {
        let res = user.get(&path).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    for (f, args) in [
        ("webhooks/reveal-secret", vec![("id", id.to_string())]),
        (
            "api-keys/create",
            vec![
                ("name", "k".to_string()),
                ("scopes[]", "events:publish".to_string()),
            ],
        ),
    ] {
        let res = user
            .call_owned(
                f,
                &args
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<Vec<_>>(),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store", "{f}");
    }
    app.stop().await;
}

const TEXTAREA: &str = "</textarea><b>x";

const TITLE: &str = "</title><b>x";

/// Fails if `html` holds the payloads' markup unescaped.
fn assert_no_markup(what: &str, html: &str) {
    for raw in ["<b>x", "</textarea><b>", "</title><b>"] {
        if let Some(at) = html.find(raw) {
            let from = at.saturating_sub(200);
            panic!(
                "{what}: `{raw}` unescaped at {at}: …{}…",
                &html[from..(at + 60).min(html.len())]
            );
        }
    }
}

async fn free_text_never_becomes_markup(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("markup@example.com").await;
    let key = app.api_key("markup@example.com").await;

    // Through the pages' server functions…
    let mut form = vec![
        ("name".to_string(), TITLE.to_string()),
        ("url".to_string(), rx.url("ok")),
        ("events[]".to_string(), "booking.created".to_string()),
        ("active".to_string(), "true".to_string()),
        ("description".to_string(), TEXTAREA.to_string()),
    ];
    let res = user.call_owned("webhooks/create", &form).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for name in [TITLE, TEXTAREA] {
        let res = user
            .call(
                "api-keys/create",
                &[("name", name), ("scopes[]", "webhooks:read")],
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    // …and through the JSON API (each payload in the other field too).
    let api = reqwest::Client::new();
    let res = api
        .post(format!("{}/api/v1/webhooks", app.base))
        .bearer_auth(&key)
        .json(&json!({"name": TEXTAREA, "url": rx.url("ok"), "events": ["booking.created"], "description": TITLE}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let second = second["id"].as_i64().unwrap();
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_i64().unwrap())
        .find(|id| *id != second)
        .unwrap();
    let res = api
        .patch(format!("{}/api/v1/webhooks/{first}", app.base))
        .bearer_auth(&key)
        .json(&json!({"description": format!("{TEXTAREA} {TITLE}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Deliveries whose bodies hold the payloads.
    let res = app
        .publish(
            &key,
            "booking.created",
            json!({"invitee": {"name": TEXTAREA, "email": "x@example.com"}, "location": TITLE}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.dispatcher.run_until_idle().await.unwrap();

    let mut pages = vec![
        "/settings/webhooks".to_string(),
        "/settings/api-keys".to_string(),
    ];
    for id in [first, second] {
        pages.push(format!("/settings/webhooks/{id}/edit"));
        pages.push(format!("/settings/webhooks/{id}/edit?reveal=1"));
        pages.push(format!("/settings/webhooks/{id}/deliveries"));
        let log: Value = user
            .call("deliveries/list", &[("webhook_id", &id.to_string())])
            .await
            .json()
            .await
            .unwrap();
        let did = log["rows"][0]["id"].as_str().unwrap();
        pages.push(format!("/settings/webhooks/{id}/deliveries/{did}"));
    }
    for path in &pages {
        let html = page(&user, path).await;
        assert_no_markup(path, &html);
    }
    // The text is still there, as text: in the title and in the textarea.
    let html = page(&user, &format!("/settings/webhooks/{first}/edit")).await;
    assert!(
        html.contains("<title>&lt;/title&gt;&lt;b&gt;x · Webhooks · SchedulingKit</title>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;/textarea&gt;&lt;b&gt;x &lt;/title&gt;&lt;b&gt;x</textarea>"),
        "{html}"
    );
    let html = page(&user, &format!("/settings/webhooks/{second}/edit")).await;
    assert!(html.contains("<title>&lt;/textarea&gt;&lt;b&gt;x · Webhooks"));

    // The no-JavaScript path: a refused form comes back with the input refilled, escaped.
    form[1] = ("url".to_string(), "not a url".to_string());
    form[4] = ("description".to_string(), TEXTAREA.to_string());
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = user
        .post_form_as_browser("webhooks/create", &form, "/settings/webhooks/create")
        .await;
    assert_eq!(res.status(), 302);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    assert!(back.contains("__err="), "{back}");
    let path = back.strip_prefix(&app.base).unwrap_or(&back).to_string();
    let html = page(&user, &path).await;
    assert_no_markup("the refilled create form", &html);
    assert!(
        html.contains("&lt;/textarea&gt;&lt;b&gt;x</textarea>"),
        "the user's own input is refilled: {html}"
    );
    assert!(
        html.contains("field-error"),
        "with the message next to the field"
    );
    // Once: the same address again is the empty form.
    let again = user.get(&path).await;
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"], "/settings/webhooks/create");
    app.stop().await;
}

/// leptos' encoding of a server function error in a URL (`?__err=`).
fn forged_error(echo: &[(&str, &str)]) -> String {
    let err = app::error::AppError::Invalid(app::domain::FieldErrors {
        errors: vec![(
            "url".into(),
            "Your endpoint moved: use https://attacker.example/in instead.".into(),
        )],
        echo: echo
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&err).unwrap())
}

async fn a_link_cannot_fill_in_a_form(app: TestApp) {
    let user = app.user("victim-form@example.com").await;
    let err = forged_error(&[
        ("name", "Backup"),
        ("url", "https://attacker.example/in"),
        ("description", TEXTAREA),
        ("events", "booking.created"),
    ]);
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("__path", "/fn/webhooks/create")
        .append_pair("__err", &err)
        .finish();
    let res = user.get(&format!("/settings/webhooks/create?{q}")).await;
    let status = res.status();
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("attacker.example"),
        "a crafted link filled in the form ({status})"
    );
    assert_no_markup("the create form from a crafted link", &html);
    assert_eq!(status, 303, "sent to the plain form");

    // Nor for a visitor who must log in first…
    let visitor = app.client();
    let res = visitor
        .get(&format!("/settings/webhooks/create?{q}&x=1"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/settings/webhooks/create?x=1");
    // …even when the link is a log-in whose `next` carries the error.
    let next = format!("/settings/webhooks/create?{q}&x=1");
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let login_page = format!("/login?next={encoded}");
    assert_eq!(visitor.get(&login_page).await.status(), 200);
    let res = visitor
        .post_form_as_browser(
            "auth/login",
            &[
                ("email", "victim-form@example.com"),
                ("password", PASSWORD),
                ("next", &next),
            ],
            &login_page,
        )
        .await;
    assert_eq!(res.status(), 302);
    let after = res.headers()["location"].to_str().unwrap().to_string();
    let res = visitor.get(&after).await;
    assert_eq!(res.status(), 303, "{after}");
    assert_eq!(res.headers()["location"], "/settings/webhooks/create?x=1");
    app.stop().await;
}

backend_tests!(
    names_with_invisible_characters_are_refused,
    one_address_cannot_lock_out_another,
    concurrent_guesses_stop_at_the_account_limit,
    sign_ups_are_limited_per_address,
    a_trusted_proxy_header_is_believed_only_when_configured,
    next_is_always_a_path_of_this_site,
    the_sessions_table_holds_no_session_id,
    a_key_made_without_javascript_is_handed_over_sealed_and_once,
    pages_with_secrets_are_not_cached,
    free_text_never_becomes_markup,
    a_link_cannot_fill_in_a_form,
);
