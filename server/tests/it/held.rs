//! Issue 15: events kept for a paused webhook (held), and what re-enabling does with them; bulk
//! replay of a webhook's deliveries by filter.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

async fn pause(api: &Api, id: i64) {
    let (status, body) = api
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"active": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
}

async fn held_count(api: &Api, id: i64) -> i64 {
    let (status, body) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["held_count"]
        .as_i64()
        .unwrap_or_else(|| panic!("no held_count in {body}"))
}

async fn publish_n(api: &Api, n: usize) {
    for i in 0..n {
        let (status, body) = api
            .publish("booking.created", json!({"id": i, "n": i}))
            .await;
        assert_eq!(status, 202, "{body}");
    }
}

fn order_of(receiver: &Receiver, path: &str) -> Vec<i64> {
    receiver
        .all()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

async fn rows_of(app: &TestApp, webhook: i64) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM deliveries WHERE webhook_id = {webhook}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Paused, 5 events are held (not sent, counted, `status: held`); re-enabling without saying
/// what to do with them is refused naming `held`; with `send` all 5 arrive in publish order; a
/// second pause and re-enable sends nothing more.
async fn held_then_sent_in_order(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "held@example.com").await;
    let id = api.create_webhook(&receiver.url("ok")).await;
    pause(&api, id).await;
    publish_n(&api, 5).await;
    assert_eq!(held_count(&api, id).await, 5);
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert!(receiver.all().is_empty());
    let (status, list) = api
        .get(&format!("/api/v1/webhooks/{id}/deliveries?status=held"))
        .await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 5, "{list}");
    assert!(data.iter().all(|d| d["status"] == "held"), "{list}");
    // The list of webhooks carries the count too.
    let (_, all) = api.get("/api/v1/webhooks").await;
    assert_eq!(all["data"][0]["held_count"], 5, "{all}");

    let (status, err) = api
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"active": true}))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"]["fields"]["held"].is_string(), "{err}");
    assert_eq!(held_count(&api, id).await, 5, "a refusal keeps them");
    let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["active"], false, "a refusal changes nothing: {w}");

    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": true, "held": "bogus"}),
        )
        .await;
    assert_eq!(status, 422, "{w}");
    assert!(w["error"]["fields"]["held"].is_string(), "{w}");

    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": true, "held": "send"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["active"], true);
    assert_eq!(w["held_count"], 0, "{w}");
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(order_of(&receiver, "ok"), vec![0, 1, 2, 3, 4]);

    pause(&api, id).await;
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": true, "held": "send"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert_eq!(receiver.count("ok"), 5, "nothing is sent twice");
    app.stop().await;
}

/// Discard: the held events are dropped and nothing is sent; a webhook deleted while holding
/// events takes them with it.
async fn held_discarded_or_deleted(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "discard@example.com").await;
    let id = api.create_webhook(&receiver.url("ok")).await;
    pause(&api, id).await;
    publish_n(&api, 3).await;
    assert_eq!(held_count(&api, id).await, 3);
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": true, "held": "discard"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["held_count"], 0);
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert!(receiver.all().is_empty());
    assert_eq!(rows_of(&app, id).await, 0);

    // Re-enabling with nothing held needs no choice.
    pause(&api, id).await;
    let (status, w) = api
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"active": true}))
        .await;
    assert_eq!(status, 200, "{w}");

    pause(&api, id).await;
    publish_n(&api, 2).await;
    assert_eq!(rows_of(&app, id).await, 2);
    api.delete_webhook(id).await;
    assert_eq!(rows_of(&app, id).await, 0);
    app.stop().await;
}

/// The page's re-enable: a plain form post (no JavaScript) with `held=send`.
async fn held_sent_through_the_page(app: TestApp) {
    let receiver = Receiver::start().await;
    let user = app.user("page@example.com").await;
    let api = Api {
        http: reqwest::Client::new(),
        base: app.base.clone(),
        key: app.api_key("page@example.com").await,
    };
    let id = api.create_webhook(&receiver.url("ok")).await;
    pause(&api, id).await;
    publish_n(&api, 2).await;
    let page = user
        .get(&format!("/settings/webhooks/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("send the 2 held events"), "{page}");
    assert!(page.contains("discard them"));
    let list = user.get("/settings/webhooks").await.text().await.unwrap();
    assert!(list.contains("2 held"), "{list}");
    let res = user
        .post_form_as_browser(
            "webhooks/enable",
            &[("id", id.to_string().as_str()), ("held", "send")],
            &format!("/settings/webhooks/{id}/edit"),
        )
        .await;
    assert!(
        res.status().is_redirection() || res.status() == 200,
        "{}",
        res.status()
    );
    assert_eq!(held_count(&api, id).await, 0);
    app.dispatcher.run_until_idle().await.unwrap();
    let mut got = order_of(&receiver, "ok");
    got.sort();
    assert_eq!(got, vec![0, 1]);
    app.stop().await;
}

/// Replay: a dry run counts what a real one then sends; replayed deliveries keep their id and
/// get an attempt with trigger `replay`; a second identical replay sends nothing.
async fn replay_dry_run_then_send(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "replay@example.com").await;
    let id = api.create_webhook(&receiver.url("status/500")).await;
    publish_n(&api, 3).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let (_, failed) = api
        .get(&format!("/api/v1/webhooks/{id}/deliveries?status=failed"))
        .await;
    let mut ids: Vec<String> = failed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"url": receiver.url("ok")}),
        )
        .await;
    assert_eq!(status, 200, "{w}");

    let path = format!("/api/v1/webhooks/{id}/replay");
    let (status, dry) = api.post(&path, json!({"dry_run": true})).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["matched"], 3, "{dry}");
    assert_eq!(dry["queued"], 0, "{dry}");
    assert_eq!(dry["cap"], 10000, "{dry}");
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);

    let (status, done) = api.post(&path, json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["matched"], 3, "{done}");
    assert_eq!(done["queued"], 3, "{done}");
    app.dispatcher.run_until_idle().await.unwrap();
    let mut got: Vec<String> = receiver
        .all()
        .iter()
        .filter(|r| r.path == "ok")
        .map(|r| r.headers["x-webhook-delivery-id"].clone())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "the same delivery ids");
    let (_, one) = api.get(&format!("/api/v1/deliveries/{}", ids[0])).await;
    assert_eq!(one["status"], "succeeded", "{one}");
    assert_eq!(one["attempts"][0]["trigger"], "replay", "{one}");
    assert_eq!(one["attempts"][1]["trigger"], "auto", "{one}");

    let (status, again) = api.post(&path, json!({})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["matched"], 0, "{again}");
    assert_eq!(again["queued"], 0, "{again}");
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert_eq!(receiver.count("ok"), 3);
    app.stop().await;
}

/// Filters: event type and time range narrow the match; bad values are refused naming the
/// field, and nothing is queued.
async fn replay_filters_and_errors(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "filters@example.com").await;
    let id = api.create_webhook(&receiver.url("status/500")).await;
    publish_n(&api, 2).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let path = format!("/api/v1/webhooks/{id}/replay");
    for (body, field) in [
        (json!({"status": "nope"}), "status"),
        (json!({"event": "booking.nope"}), "event"),
        (json!({"since": "yesterday"}), "since"),
        (json!({"until": "2025-13-01T00:00:00Z"}), "until"),
        (
            json!({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}),
            "until",
        ),
    ] {
        let (status, err) = api.post(&path, body.clone()).await;
        assert_eq!(status, 422, "{body} → {err}");
        assert!(err["error"]["fields"][field].is_string(), "{body} → {err}");
    }
    let (_, r) = api
        .post(
            &path,
            json!({"event": "booking.cancelled", "dry_run": true}),
        )
        .await;
    assert_eq!(r["matched"], 0, "{r}");
    let (_, r) = api
        .post(
            &path,
            json!({"since": "2999-01-01T00:00:00Z", "dry_run": true}),
        )
        .await;
    assert_eq!(r["matched"], 0, "{r}");
    let (_, r) = api
        .post(
            &path,
            json!({"event": "booking.created", "since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z", "dry_run": true}),
        )
        .await;
    assert_eq!(r["matched"], 2, "{r}");
    let (status, _) = api.post("/api/v1/webhooks/999999/replay", json!({})).await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// A big replay drains through the queue without delaying another webhook: the other
/// webhook's new delivery goes out in the first pass of the dispatcher.
async fn replay_does_not_delay_others(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "fair@example.com").await;
    let big = api.create_webhook(&receiver.url("status/500")).await;
    publish_n(&api, 60).await;
    app.dispatcher.run_until_idle().await.unwrap();
    api.patch(
        &format!("/api/v1/webhooks/{big}"),
        json!({"url": receiver.url("ok")}),
    )
    .await;
    let (_, r) = api
        .post(&format!("/api/v1/webhooks/{big}/replay"), json!({}))
        .await;
    assert_eq!(r["queued"], 60, "{r}");
    // Another webhook, created after the replay, of another event type.
    let (status, other) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "other", "url": receiver.url("other"), "events": ["booking.cancelled"]}),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let (status, _) = api.publish("booking.cancelled", json!({"id": 1})).await;
    assert_eq!(status, 202);
    app.dispatcher.run_once().await.unwrap();
    assert_eq!(
        receiver.count("other"),
        1,
        "the other webhook is not behind the replay"
    );
    assert!(receiver.count("ok") < 60, "the replay takes several passes");
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(receiver.count("ok"), 60);
    app.stop().await;
}

/// As the browser test does it, with the dispatcher running on its own (not driven by the test)
/// and another account's webhook busy meanwhile: a receiver's 410 pauses the webhook, two events
/// are held, re-enabling with "send" delivers both.
async fn held_events_arrive_after_a_410_pause_while_others_are_busy(app: TestApp) {
    let receiver = Receiver::start().await;
    let api = Api::new(&app, "gone@example.com").await;
    let id = api.create_webhook(&receiver.url("gone/1")).await;
    let busy = Api::new(&app, "busy@example.com").await;
    busy.create_webhook(&receiver.url("slow/100")).await;
    let flood = {
        let busy = Api {
            http: busy.http.clone(),
            base: busy.base.clone(),
            key: busy.key.clone(),
        };
        tokio::spawn(async move {
            for i in 0..400 {
                busy.publish("booking.created", json!({"id": i, "n": i}))
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let wait = |what: &'static str| {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
    };
    api.publish("booking.created", json!({"id": 1, "n": 1}))
        .await;
    loop {
        let (_, w) = api.get(&format!("/api/v1/webhooks/{id}")).await;
        if w["active"] == false {
            break;
        }
        wait("the 410 pauses the webhook");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for n in [2, 3] {
        let (status, b) = api
            .publish("booking.created", json!({"id": n, "n": n}))
            .await;
        assert_eq!(status, 202, "{b}");
    }
    assert_eq!(held_count(&api, id).await, 2);
    let (status, w) = api
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"active": true, "held": "send"}),
        )
        .await;
    assert_eq!(status, 200, "{w}");
    while order_of(&receiver, "gone/1").len() < 3 {
        wait("the held events arrive");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // (Sent side by side: arrival order is not publish order unless the webhook is ordered.)
    let mut got = order_of(&receiver, "gone/1");
    got.sort();
    assert_eq!(got, vec![1, 2, 3]);
    flood.abort();
    app.stop().await;
}

mod held_events_arrive_after_a_410_pause_while_others_are_busy {
    use crate::common::{spawn_app_with, test_args, Backend};

    async fn run(backend: Backend) {
        let mut args = test_args();
        args.role = server::config::Role::All;
        if let Some(app) = spawn_app_with(backend, args).await {
            super::held_events_arrive_after_a_410_pause_while_others_are_busy(app).await;
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

/// One request in flight per webhook, so that arrival order is send order.
mod held_then_sent_in_order {
    use crate::common::{spawn_app_with, test_args, Backend};

    async fn run(backend: Backend) {
        let mut args = test_args();
        args.per_webhook_concurrency = std::num::NonZeroUsize::new(1).unwrap();
        if let Some(app) = spawn_app_with(backend, args).await {
            super::held_then_sent_in_order(app).await;
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

backend_tests!(
    held_discarded_or_deleted,
    held_sent_through_the_page,
    replay_dry_run_then_send,
    replay_filters_and_errors,
    replay_does_not_delay_others,
);
