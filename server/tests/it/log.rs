//! The delivery log in the browser's terms (pages and server functions), the health figures
//! on the list, and auto-disable.

use crate::common::receiver::Receiver;
use crate::common::TestApp;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

async fn the_log_and_detail_pages_show_every_attempt(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("pages-log@example.com").await;
    let id = app
        .webhook(&user, &rx.url("html"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("pages-log@example.com").await;
    app.publish(
        &key,
        "booking.created",
        json!({"invitee": {"name": "Jane <b>Smith</b>"}}),
    )
    .await;
    app.dispatcher.run_until_idle().await.unwrap();

    let page: Value = user
        .call("deliveries/list", &[("webhook_id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let did = page["rows"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(page["rows"][0]["status"], "succeeded");

    let html = user
        .get(&format!("/settings/webhooks/{id}/deliveries"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&did), "the log lists the delivery");
    assert!(html.contains("<tbody>"));
    let html = user
        .get(&format!("/settings/webhooks/{id}/deliveries?status=failed"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No deliveries match these filters."));

    let detail = user
        .get(&format!("/settings/webhooks/{id}/deliveries/{did}"))
        .await;
    assert_eq!(detail.status(), 200);
    let html = detail.text().await.unwrap();
    assert!(
        html.contains("x-webhook-signature") && html.contains("webhook-signature"),
        "request headers shown"
    );
    assert!(
        html.contains("&quot;invitee&quot;") || html.contains("\"invitee\""),
        "body shown"
    );
    assert!(
        !html.contains("<script>alert('pwned')</script>"),
        "a response body is never HTML"
    );
    assert!(html.contains("&lt;script&gt;alert"), "it is shown as text");
    assert!(!html.contains("<b>Smith</b>"));
    app.stop().await;
}

async fn resend_from_the_page_and_isolation(app: TestApp) {
    let rx = Receiver::start().await;
    let alice = app.user("alice-log@example.com").await;
    let bob = app.user("bob-log@example.com").await;
    let id = app
        .webhook(&alice, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("alice-log@example.com").await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let page: Value = alice
        .call("deliveries/list", &[("webhook_id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let did = page["rows"][0]["id"].as_str().unwrap().to_string();
    let sid = id.to_string();

    let said: String = alice
        .call(
            "deliveries/resend",
            &[("webhook_id", &sid), ("delivery_id", &did)],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(said, "Redelivering now.");
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(rx.count("ok"), 2);
    let d: Value = alice
        .call(
            "deliveries/get",
            &[("webhook_id", &sid), ("delivery_id", &did)],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(d["attempts"][0]["trigger"], "manual");

    for (endpoint, form) in [
        ("deliveries/list", vec![("webhook_id", sid.as_str())]),
        (
            "deliveries/get",
            vec![("webhook_id", sid.as_str()), ("delivery_id", did.as_str())],
        ),
        (
            "deliveries/resend",
            vec![("webhook_id", sid.as_str()), ("delivery_id", did.as_str())],
        ),
        ("webhooks/enable", vec![("id", sid.as_str())]),
    ] {
        assert_eq!(bob.call(endpoint, &form).await.status(), 404, "{endpoint}");
    }
    for path in [
        format!("/settings/webhooks/{id}/deliveries"),
        format!("/settings/webhooks/{id}/deliveries/{did}"),
    ] {
        assert_eq!(bob.get(&path).await.status(), 404, "{path}");
    }
    assert_eq!(rx.count("ok"), 2, "Bob's resend sent nothing");
    app.stop().await;
}

async fn the_list_shows_the_last_delivery_and_the_day(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("stats@example.com").await;
    let id = app
        .webhook(&user, &rx.url("fail/1"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("stats@example.com").await;
    for _ in 0..4 {
        app.publish(&key, "booking.created", json!({})).await;
        app.dispatcher.run_until_idle().await.unwrap();
    }
    let list: Value = user.call("webhooks/list", &[]).await.json().await.unwrap();
    assert_eq!(list[0]["finished_24h"], 4);
    assert_eq!(list[0]["succeeded_24h"], 3);
    assert_eq!(list[0]["last_delivery"]["status"], "succeeded");
    let detail: Value = user
        .call("webhooks/get", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let hourly = detail["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    let ok: i64 = hourly
        .iter()
        .map(|h| h["succeeded"].as_i64().unwrap())
        .sum();
    let failed: i64 = hourly.iter().map(|h| h["failed"].as_i64().unwrap()).sum();
    assert_eq!((ok, failed), (3, 1));
    let html = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(html.contains("75 % of 4"), "success rate on the list");
    let html = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<svg") && html.contains("3 succeeded"),
        "the chart is drawn on the server"
    );
    app.stop().await;
}

async fn a_webhook_that_keeps_failing_is_disabled(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.auto_disable_after = std::time::Duration::from_secs(3600).into();
    args.auto_disable_min_failures = 3.into();
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    let rx = Receiver::start().await;
    let user = app.user("dead@example.com").await;
    let id = app
        .webhook(&user, &rx.url("status/500"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("dead@example.com").await;
    for _ in 0..4 {
        app.publish(&key, "booking.created", json!({})).await;
        app.dispatcher.run_until_idle().await.unwrap();
    }
    let hook = || async {
        app::entities::webhook::Entity::find_by_id(app::domain::WebhookId(id))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
    };
    // Four failures, but for less than an hour: still on.
    let w = hook().await;
    assert!(w.active);
    assert_eq!(w.consecutive_failures, 4);

    // An hour of failures later, the next failure switches it off.
    app::entities::webhook::Entity::update_many()
        .col_expr(
            app::entities::webhook::Column::FailingSince,
            sea_orm::sea_query::Expr::value(w.failing_since.unwrap() - 3_600_001),
        )
        .filter(app::entities::webhook::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let w = hook().await;
    assert!(!w.active, "disabled");
    assert!(w.disabled_reason.as_deref().unwrap().contains("failed"));

    let res: Value = app
        .publish(&key, "booking.created", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["deliveries"], 0,
        "a disabled webhook gets no new deliveries sent (the event is held for it)"
    );
    let html = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(html.contains("Disabled"));
    let html = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Paused automatically") && html.contains("Re-enable"));

    // The held event needs a choice (issue 15).
    assert_eq!(
        user.call("webhooks/enable", &[("id", &id.to_string())])
            .await
            .status(),
        422
    );
    assert_eq!(
        user.call(
            "webhooks/enable",
            &[("id", &id.to_string()), ("held", "discard")]
        )
        .await
        .status(),
        200
    );
    let w = hook().await;
    assert!(w.active && w.disabled_at.is_none() && w.consecutive_failures == 0);
    let res: Value = app
        .publish(&key, "booking.created", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["deliveries"], 1);

    // A success ends a failure streak.
    app::entities::webhook::Entity::update_many()
        .col_expr(
            app::entities::webhook::Column::Url,
            sea_orm::sea_query::Expr::value(rx.url("ok")),
        )
        .filter(app::entities::webhook::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
    app.dispatcher.run_until_idle().await.unwrap();
    let w = hook().await;
    assert_eq!((w.consecutive_failures, w.failing_since), (0, None));
    app.stop().await;
}

/// The not-found notice names what is missing (a delivery page spoke of a missing webhook),
/// and the list and the edit page show a webhook's state by one rule (they disagreed on a
/// webhook switched off with a `disabled_at` but no reason).
async fn pages_name_what_is_missing_and_agree_on_the_state(app: TestApp) {
    use app::entities::webhook;
    use sea_orm::sea_query::Expr;
    let rx = Receiver::start().await;
    let user = app.user("states@example.com").await;
    let id = app
        .webhook(&user, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let missing = user
        .get(&format!(
            "/settings/webhooks/{id}/deliveries/{}",
            uuid::Uuid::now_v7()
        ))
        .await;
    assert_eq!(missing.status(), 404);
    let html = missing.text().await.unwrap();
    assert!(html.contains("This delivery does not exist"), "{html}");
    assert!(!html.contains("This webhook does not exist"));

    let set = |disabled_at: Option<i64>, reason: Option<&'static str>| {
        let db = app.db.clone();
        async move {
            webhook::Entity::update_many()
                .col_expr(webhook::Column::Active, Expr::value(false))
                .col_expr(webhook::Column::DisabledAt, Expr::value(disabled_at))
                .col_expr(
                    webhook::Column::DisabledReason,
                    Expr::value(reason.map(str::to_string)),
                )
                .filter(webhook::Column::Id.eq(id))
                .exec(&db)
                .await
                .unwrap();
        }
    };
    let badges = || async {
        let list = user.get("/settings/webhooks").await.text().await.unwrap();
        let edit = user
            .get(&format!("/settings/webhooks/{id}/edit"))
            .await
            .text()
            .await
            .unwrap();
        let state = |html: &str| {
            ["Active", "Disabled", "Paused"]
                .into_iter()
                .filter(|s| html.contains(&format!(">{s}</span>")))
                .collect::<Vec<_>>()
        };
        (state(&list), state(&edit))
    };
    set(Some(1), None).await;
    assert_eq!(badges().await, (vec!["Paused"], vec!["Paused"]));
    set(Some(1), Some("Every delivery failed.")).await;
    assert_eq!(badges().await, (vec!["Disabled"], vec!["Disabled"]));
    app.stop().await;
}

backend_tests!(
    the_log_and_detail_pages_show_every_attempt,
    resend_from_the_page_and_isolation,
    the_list_shows_the_last_delivery_and_the_day,
    a_webhook_that_keeps_failing_is_disabled,
    pages_name_what_is_missing_and_agree_on_the_state,
);
