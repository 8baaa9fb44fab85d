//! Issue 15, alerts: an incident (a failure streak past half the auto-disable threshold, an
//! automatic pause, a 410 answer) is told once — on the pages, by e-mail to a real SMTP server
//! on loopback, and to the account's alert webhook, signed like every delivery — and a second
//! incident after a recovery is told again; switched-off channels send nothing; a refusing SMTP
//! server is tried again later and holds up neither deliveries nor other accounts' e-mail.
//!
//! The auto-disable rule here: 4 failures over at least 1 ms, so half of it is 2 failures.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::smtp::SmtpSink;
use crate::common::{Client, TestApp};
use app::entities::alert_incident;
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The scenario's app again, with the small auto-disable rule and (given a sink) e-mail.
async fn respawn(app: TestApp, sink: Option<&SmtpSink>) -> Option<TestApp> {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.auto_disable_after = Duration::from_millis(1).into();
    args.auto_disable_min_failures = 4.into();
    if let Some(sink) = sink {
        args.smtp_url = Some(server::config::SmtpUrl(server::config::Secret::new(
            sink.url.clone(),
        )));
        args.mail_from = Some("SchedulingKit <alerts@sink.test>".into());
    }
    crate::common::spawn_app_with(backend, args).await
}

/// A signed-up owner (pages) and an API key of the account.
async fn owner(app: &TestApp, email: &str) -> (Client, Api) {
    let user = app.user(email).await;
    let api = Api {
        http: reqwest::Client::new(),
        base: app.base.clone(),
        key: app.api_key(email).await,
    };
    (user, api)
}

/// One event, delivered (or not) until nothing is due; then a moment, so that the streak
/// lasts longer than the rule's millisecond.
async fn publish(app: &TestApp, api: &Api) {
    let (status, body) = api.publish("booking.created", json!({"id": 1})).await;
    assert_eq!(status, 202, "{body}");
    app.dispatcher.run_until_idle().await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// The alert loop, several passes (what is told once must stay told once).
async fn alert_passes(app: &TestApp, n: usize) {
    for _ in 0..n {
        app.alerts.run_once().await.unwrap();
    }
}

async fn incidents(app: &TestApp) -> Vec<alert_incident::Model> {
    alert_incident::Entity::find()
        .order_by_asc(alert_incident::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn page(user: &Client, path: &str) -> String {
    let res = user.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// Two failures (half the rule) tell a warning, four the pause — one e-mail each, however
/// often the loop runs, with the webhook, the reason, the last error and the last success;
/// the notice shows on the list and in the header of every page until the owner re-enables
/// (and can be dismissed); the same failures after the recovery are a new incident, told again.
async fn alert_mail_once_per_incident(app: TestApp) {
    let sink = SmtpSink::start().await;
    let Some(app) = respawn(app, Some(&sink)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (user, api) = owner(&app, "owner@example.com").await;
    let id = api.create_webhook(&rx.url("status/500")).await;

    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    assert!(sink.mails().is_empty(), "one failure tells nothing");
    assert!(!page(&user, "/settings/webhooks")
        .await
        .contains("data-testid=\"alert-notice\""));

    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "half the rule: one warning");
    let warning = &mails[0];
    assert_eq!(warning.to, vec!["owner@example.com".to_string()]);
    assert!(
        warning.from.contains("alerts@sink.test"),
        "{}",
        warning.from
    );
    assert!(
        warning.subject().contains("keeps failing"),
        "{}",
        warning.data
    );
    for part in [
        "Webhook: hook",
        &format!("URL: {}", rx.url("status/500")),
        "Reason: Every delivery has failed",
        "Last error: HTTP 500",
        "Last success: never",
        &format!("/settings/webhooks/{id}/edit"),
    ] {
        assert!(warning.data.contains(part), "{part:?} in {}", warning.data);
    }
    let html = page(&user, "/settings/webhooks").await;
    assert!(html.contains("data-testid=\"alert-notice\"") && html.contains("keeps failing"));

    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    assert_eq!(
        sink.mails().len(),
        1,
        "a third failure is the same incident"
    );

    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 2, "the pause is told once");
    let paused = &mails[1];
    assert!(
        paused.subject().contains("was paused automatically"),
        "{}",
        paused.data
    );
    assert!(
        paused.data.contains("Reason: Every delivery failed for"),
        "{}",
        paused.data
    );
    assert!(paused.data.contains("Last error: HTTP 500"));

    // Paused: events are held, nothing more is told.
    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    assert_eq!(sink.mails().len(), 2);

    // The pages: the list's notice (the warning gave way to the pause) and the header's line.
    let html = page(&user, "/settings/webhooks").await;
    assert_eq!(
        html.matches("data-testid=\"alert-notice\"").count(),
        1,
        "{html}"
    );
    assert!(html.contains("was paused automatically") && html.contains("HTTP 500"));
    let html = page(&user, "/settings/api-keys").await;
    assert!(html.contains("data-testid=\"header-alert\"") && html.contains("hook (paused)"));

    // Dismissed, the notice goes; the incident stays open (nothing is told again).
    let open = incidents(&app).await;
    let shown = open
        .iter()
        .find(|i| i.kind == alert_incident::IncidentKind::Disabled)
        .unwrap();
    let res = user
        .call("alerts/dismiss", &[("id", &shown.id.to_string())])
        .await;
    assert_eq!(res.status(), 200);
    assert!(!page(&user, "/settings/webhooks")
        .await
        .contains("data-testid=\"alert-notice\""));

    // The owner fixes the endpoint and re-enables, sending the held event: the incident ends.
    let (status, body) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"url": rx.url("ok"), "active": true, "held": "send"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(rx.count("ok"), 1, "the held event arrives");
    assert!(incidents(&app)
        .await
        .iter()
        .all(|i| i.resolved_at.is_some()));

    // It breaks again: a new incident, told again (a warning and a pause).
    let (status, body) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"url": rx.url("status/500")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..4 {
        publish(&app, &api).await;
        alert_passes(&app, 2).await;
    }
    let mails = sink.mails();
    assert_eq!(mails.len(), 4, "the second incident is told once more");
    assert!(mails[2].subject().contains("keeps failing"));
    assert!(mails[3].subject().contains("was paused automatically"));
    assert!(
        mails[3].data.contains("Last success: 20"),
        "the last success is the held event's: {}",
        mails[3].data
    );
    assert_eq!(incidents(&app).await.len(), 4);
    assert!(page(&user, "/settings/webhooks")
        .await
        .contains("data-testid=\"alert-notice\""));
    app.stop().await;
}

/// The warning is told once for its streak; a success ends it (and its notice) and a new
/// streak is a new warning.
async fn half_threshold_warning_once(app: TestApp) {
    let sink = SmtpSink::start().await;
    let Some(app) = respawn(app, Some(&sink)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (user, api) = owner(&app, "warned@example.com").await;
    // 500 to the first three requests, then 200.
    let id = api.create_webhook(&rx.url("fail/3")).await;
    publish(&app, &api).await;
    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    assert_eq!(sink.mails().len(), 1, "one warning for three failures");
    let open = incidents(&app).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, alert_incident::IncidentKind::Failing);
    assert!(open[0].mailed_at.is_some());

    publish(&app, &api).await;
    assert_eq!(rx.count("fail/3"), 4);
    let ended = incidents(&app).await;
    assert!(
        ended[0].resolved_at.is_some(),
        "a success ends the incident"
    );
    assert!(!page(&user, "/settings/webhooks")
        .await
        .contains("data-testid=\"alert-notice\""));
    alert_passes(&app, 3).await;
    assert_eq!(sink.mails().len(), 1);

    // A new streak (another endpoint): a new warning.
    app::entities::webhook::Entity::update_many()
        .col_expr(
            app::entities::webhook::Column::Url,
            sea_orm::sea_query::Expr::value(rx.url("status/503")),
        )
        .filter(app::entities::webhook::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
    publish(&app, &api).await;
    publish(&app, &api).await;
    alert_passes(&app, 3).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    assert!(mails[1].data.contains("Last error: HTTP 503"));
    assert!(
        mails[1].data.contains("Last success: 20"),
        "{}",
        mails[1].data
    );
    app.stop().await;
}

/// The alert webhook (account settings) gets `webhook.failing` and `webhook.disabled` once
/// each, through the delivery queue, signed with its own secret like every delivery; it is not
/// one of the account's webhooks.
async fn alert_webhook_is_signed(app: TestApp) {
    let Some(app) = respawn(app, None).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (user, api) = owner(&app, "hooked@example.com").await;
    let res = user
        .call(
            "alerts/save-settings",
            &[("mail", "on"), ("hook", "on"), ("hook_url", &rx.url("ok"))],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let settings: Value = user
        .call("alerts/settings", &[])
        .await
        .json()
        .await
        .unwrap();
    let secret = settings["hook_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{settings}");
    assert_eq!(settings["hook_url"], rx.url("ok"));

    let id = api.create_webhook(&rx.url("status/500")).await;
    let (_, list) = api.get("/api/v1/webhooks").await;
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(1),
        "the alert webhook is hidden: {list}"
    );
    let listed: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    for _ in 0..4 {
        publish(&app, &api).await;
        alert_passes(&app, 2).await;
        app.dispatcher.run_until_idle().await.unwrap();
    }
    alert_passes(&app, 3).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let got: Vec<_> = rx.all().into_iter().filter(|r| r.path == "ok").collect();
    assert_eq!(got.len(), 2, "a warning and the pause, once each");
    for r in &got {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&r.body);
        assert_eq!(
            r.headers["x-webhook-signature"],
            hex::encode(mac.finalize().into_bytes()),
            "signed with the alert webhook's secret"
        );
        assert!(r.headers["webhook-signature"].starts_with("v1,"));
        assert!(!r.headers["x-webhook-delivery-id"].is_empty());
    }
    assert_eq!(got[0].headers["x-webhook-event"], "webhook.failing");
    assert_eq!(got[1].headers["x-webhook-event"], "webhook.disabled");
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["event"], "webhook.disabled");
    let data = &body["data"];
    assert_eq!(data["kind"], "disabled");
    assert_eq!(data["webhook"]["id"], id);
    assert_eq!(data["webhook"]["name"], "hook");
    assert_eq!(data["webhook"]["url"], rx.url("status/500"));
    assert_eq!(data["last_error"], "HTTP 500");
    assert_eq!(data["last_success_at"], Value::Null);
    assert!(data["reason"]
        .as_str()
        .unwrap()
        .contains("paused automatically"));
    app.stop().await;
}

/// With both channels switched off nothing is mailed nor sent to the alert webhook (the notice
/// on the pages stays).
async fn switched_off_channels_send_nothing(app: TestApp) {
    let sink = SmtpSink::start().await;
    let Some(app) = respawn(app, Some(&sink)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (user, api) = owner(&app, "quiet@example.com").await;
    // The URL is set, both boxes are unticked — by the account page's form without
    // JavaScript.
    let res = user
        .post_form_as_browser(
            "alerts/save-settings",
            &[("hook_url", &rx.url("alerts"))],
            "/settings/account",
        )
        .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let back = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.contains("/settings/account") && !back.contains("__err"),
        "saved, back to the page: {back}"
    );
    let html = page(&user, "/settings/account").await;
    assert!(html.contains(&rx.url("alerts")) && html.contains("data-testid=\"alert-hook-secret\""));
    assert!(
        html.contains("quiet@example.com"),
        "the recipients are named"
    );
    let settings: Value = user
        .call("alerts/settings", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["mail"], false);
    assert_eq!(settings["hook"], false);
    api.create_webhook(&rx.url("status/500")).await;
    for _ in 0..4 {
        publish(&app, &api).await;
        alert_passes(&app, 2).await;
        app.dispatcher.run_until_idle().await.unwrap();
    }
    assert_eq!(
        incidents(&app).await.len(),
        2,
        "both incidents are recorded"
    );
    assert!(sink.mails().is_empty() && sink.tries() == 0, "no e-mail");
    assert_eq!(rx.count("alerts"), 0, "nothing to the alert webhook");
    assert!(incidents(&app)
        .await
        .iter()
        .all(|i| i.mail_due_at.is_none() && i.hook_due_at.is_none()));
    assert!(page(&user, "/settings/webhooks")
        .await
        .contains("was paused automatically"));
    app.stop().await;
}

/// A refusing SMTP server: the e-mail is tried again after a pause (not at once, not lost),
/// deliveries of other webhooks go on meanwhile, and one account's refused recipient does not
/// hold up another account's e-mail in the same pass.
async fn refusing_smtp_is_retried_and_blocks_nothing(app: TestApp) {
    let sink = SmtpSink::start().await;
    let Some(app) = respawn(app, Some(&sink)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (_, api) = owner(&app, "patient@example.com").await;
    api.create_webhook(&rx.url("status/500")).await;
    let (_, healthy) = owner(&app, "healthy@example.com").await;
    healthy.create_webhook(&rx.url("ok")).await;

    sink.refuse(true);
    publish(&app, &api).await;
    publish(&app, &api).await;
    let pass = app.alerts.run_once().await.unwrap();
    assert_eq!((pass.mails_sent, pass.mails_failed), (0, 1));
    let i = &incidents(&app).await[0];
    assert_eq!(i.mail_attempts, 1);
    assert!(
        i.mail_error.as_deref().unwrap().contains("451"),
        "{:?}",
        i.mail_error
    );
    let due = i.mail_due_at.expect("due again");
    assert!(due > app::entities::now_ms() + 20_000, "after a pause");

    // Deliveries go on.
    publish(&app, &healthy).await;
    assert_eq!(rx.count("ok"), 1);
    // Not again at once.
    let tries = sink.tries();
    alert_passes(&app, 3).await;
    assert_eq!(sink.tries(), tries, "the pause holds");

    // The server takes mail again and the pause is over: sent, once.
    sink.refuse(false);
    alert_incident::Entity::update_many()
        .col_expr(
            alert_incident::Column::MailDueAt,
            sea_orm::sea_query::Expr::value(app::entities::now_ms()),
        )
        .exec(&app.db)
        .await
        .unwrap();
    alert_passes(&app, 3).await;
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(sink.mails()[0].to, vec!["patient@example.com".to_string()]);
    let i = &incidents(&app).await[0];
    assert!(i.mailed_at.is_some() && i.mail_due_at.is_none());

    // One account's recipient is refused, another's e-mail goes out in the same pass.
    let (_, refused) = owner(&app, "refused@example.com").await;
    refused.create_webhook(&rx.url("status/500")).await;
    let (_, other) = owner(&app, "other@example.com").await;
    other.create_webhook(&rx.url("status/502")).await;
    for api in [&refused, &other, &refused, &other] {
        publish(&app, api).await;
    }
    let pass = app.alerts.run_once().await.unwrap();
    assert_eq!((pass.mails_sent, pass.mails_failed), (1, 1));
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, vec!["other@example.com".to_string()]);
    app.stop().await;
}

/// A 410 answer pauses the webhook at once (whatever the streak), ends its delivery (no
/// retry) and is told.
async fn a_410_pauses_at_once_and_is_told(app: TestApp) {
    let sink = SmtpSink::start().await;
    let Some(app) = respawn(app, Some(&sink)).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (user, api) = owner(&app, "gone@example.com").await;
    let (status, body) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "hook", "url": rx.url("status/410"), "events": ["booking.created"],
                "timeout_secs": 10, "retry_attempts": 3}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    publish(&app, &api).await;
    assert_eq!(rx.count("status/410"), 1, "a 410 is not tried again");
    let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["active"], false, "{w}");
    assert!(
        w["disabled_reason"].as_str().unwrap().contains("410"),
        "{w}"
    );
    alert_passes(&app, 3).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject().contains("was paused automatically"));
    assert!(mails[0].data.contains("410 Gone") && mails[0].data.contains("Last error: HTTP 410"));
    assert!(page(&user, "/settings/webhooks").await.contains("410 Gone"));
    app.stop().await;
}

backend_tests!(
    alert_mail_once_per_incident,
    half_threshold_warning_once,
    alert_webhook_is_signed,
    switched_off_channels_send_nothing,
    refusing_smtp_is_retried_and_blocks_nothing,
    a_410_pauses_at_once_and_is_told,
);
