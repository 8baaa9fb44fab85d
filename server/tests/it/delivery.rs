//! Ingest, fan-out and the dispatcher against a real receiver on loopback. The dispatcher is
//! driven step by step (`run_once`) rather than by sleeping.

use crate::common::receiver::{Received, Receiver};
use crate::common::TestApp;
use app::queue;
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// An account with a webhook at `path` of `receiver`; returns (API key, webhook id, secret).
async fn setup(
    app: &TestApp,
    email: &str,
    receiver: &Receiver,
    path: &str,
    retries: u8,
    timeout: u16,
) -> (String, i64, String) {
    let user = app.user(email).await;
    let id = app
        .webhook(
            &user,
            &receiver.url(path),
            &["booking.created", "booking.cancelled"],
            retries,
            timeout,
        )
        .await;
    let secret: String = user
        .call("webhooks/reveal-secret", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    (app.api_key(email).await, id, secret)
}

async fn deliveries(app: &TestApp) -> Vec<app::entities::delivery::Model> {
    app::entities::delivery::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
}

async fn attempts(app: &TestApp) -> Vec<app::entities::attempt::Model> {
    app::entities::attempt::Entity::find()
        .order_by_asc(app::entities::attempt::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// Checks both signatures with an implementation of this test's own.
pub(crate) fn verify(r: &Received, secret: &str) {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(
        r.headers["x-webhook-signature"], expected,
        "X-Webhook-Signature"
    );

    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = HmacSha256::new_from_slice(&key).unwrap();
    let signed = format!(
        "{}.{}.{}",
        r.headers["webhook-id"],
        r.headers["webhook-timestamp"],
        String::from_utf8(r.body.clone()).unwrap()
    );
    mac.update(signed.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert!(
        r.headers["webhook-signature"]
            .split(' ')
            .any(|s| s == expected),
        "webhook-signature {} lacks {expected}",
        r.headers["webhook-signature"]
    );
}

async fn a_published_event_arrives_signed_and_exact(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _id, secret) = setup(&app, "sig@example.com", &rx, "ok", 3, 30).await;
    let data =
        json!({"id": 123, "event_type": "30-min-consultation", "invitee": {"name": "Jane Smith"}});
    let res = app.publish(&key, "booking.created", data.clone()).await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["deliveries"], 1);
    let event_id = body["id"].as_str().unwrap().to_string();

    // Not subscribed: no delivery.
    let res: Value = app
        .publish(&key, "payment.failed", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["deliveries"], 0);

    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    let got = rx.all();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    verify(r, &secret);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-webhook-event"], "booking.created");
    assert!(r.headers["user-agent"].starts_with("SchedulingKit-Webhooks/"));
    let sent: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["event"], "booking.created");
    assert_eq!(sent["data"], data);
    let ts = sent["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
        "{ts}"
    );
    let keys: Vec<&str> = std::str::from_utf8(&r.body).unwrap().split('"').collect();
    assert_eq!(
        (keys[1], keys[5], keys[9]),
        ("event", "timestamp", "data"),
        "field order"
    );

    let d = deliveries(&app).await;
    assert_eq!(d[0].status.as_str(), "succeeded");
    assert_eq!(d[0].event_id.to_string(), event_id);
    assert_eq!(r.headers["x-webhook-delivery-id"], d[0].id.to_string());
    assert_eq!(r.headers["webhook-id"], d[0].id.to_string());
    let a = attempts(&app).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].response_status, Some(200));
    assert_eq!(a[0].response_body.as_deref(), Some("thanks"));
    assert!(a[0].request_headers.contains("x-webhook-signature"));
    assert!(a[0].error_kind.is_none());
    app.stop().await;
}

async fn failures_are_retried_until_success_with_the_same_delivery_id(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "retry@example.com", &rx, "fail/2", 3, 30).await;
    app.publish(&key, "booking.created", json!({"n": 1})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let got = rx.all();
    assert_eq!(got.len(), 3, "two failures, then success");
    let ids: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.headers["x-webhook-delivery-id"].clone())
        .collect();
    assert_eq!(ids.len(), 1, "one delivery id across retries");
    let d = deliveries(&app).await;
    assert_eq!((d[0].status.as_str(), d[0].attempt_count), ("succeeded", 3));
    let a = attempts(&app).await;
    assert_eq!(
        a.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(a[0].error_kind.map(|k| k.as_str()), Some("status"));
    assert_eq!(a[0].response_status, Some(500));
    assert_eq!(a[2].response_status, Some(200));
    app.stop().await;
}

async fn retries_stop_at_the_configured_number(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "exhaust@example.com", &rx, "status/500", 2, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(rx.all().len(), 3, "1 + 2 retries");
    let d = deliveries(&app).await;
    assert_eq!((d[0].status.as_str(), d[0].attempt_count), ("failed", 3));
    assert!(d[0].next_attempt_at.is_none());
    app.stop().await;
}

async fn zero_retries_means_one_try(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "zero@example.com", &rx, "status/503", 0, 30).await;
    app.publish(&key, "booking.cancelled", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    assert_eq!(rx.all().len(), 1);
    assert_eq!(deliveries(&app).await[0].status.as_str(), "failed");
    app.stop().await;
}

async fn a_slow_endpoint_times_out(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "slow@example.com", &rx, "slow/3000", 0, 1).await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_once().await.unwrap();
    let a = attempts(&app).await;
    assert_eq!(a[0].error_kind.map(|k| k.as_str()), Some("timeout"));
    assert!(
        a[0].duration_ms >= 900 && a[0].duration_ms < 2900,
        "{}",
        a[0].duration_ms
    );
    assert_eq!(deliveries(&app).await[0].status.as_str(), "failed");
    app.stop().await;
}

async fn redirects_are_not_followed(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "redir@example.com", &rx, "redirect", 0, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_once().await.unwrap();
    assert_eq!(rx.count("ok"), 0, "the redirect target was not called");
    let a = attempts(&app).await;
    assert_eq!(a[0].error_kind.map(|k| k.as_str()), Some("redirect"));
    assert_eq!(a[0].response_status, Some(302));
    app.stop().await;
}

async fn retry_after_is_honoured(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "ra@example.com", &rx, "retry-after/120", 3, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    let before = app::entities::now_ms();
    app.dispatcher.run_once().await.unwrap();
    let d = deliveries(&app).await;
    assert_eq!(d[0].status.as_str(), "pending");
    let due = d[0].next_attempt_at.unwrap();
    assert!(
        due >= before + 119_000 && due <= before + 125_000,
        "due in {} ms",
        due - before
    );
    assert_eq!(
        app.dispatcher.run_once().await.unwrap(),
        0,
        "not due yet, although the schedule says 0ms"
    );
    app.stop().await;
}

async fn responses_are_read_up_to_16_kib(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "big@example.com", &rx, "big", 0, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_once().await.unwrap();
    let a = attempts(&app).await;
    assert_eq!(a[0].response_body.as_ref().unwrap().len(), 16 * 1024);
    assert_eq!(deliveries(&app).await[0].status.as_str(), "succeeded");
    app.stop().await;
}

/// Before, every response header was stored (90 × 4 KB per attempt); now they are capped like
/// the body.
async fn response_headers_are_capped_like_the_body(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "headers@example.com", &rx, "many-headers", 0, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_once().await.unwrap();
    let a = attempts(&app).await;
    let stored: Value = serde_json::from_str(a[0].response_headers.as_ref().unwrap()).unwrap();
    let kept: usize = stored
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| k.len() + v.as_str().unwrap_or("").len())
                .sum()
        })
        .or_else(|| {
            stored.as_array().map(|pairs| {
                pairs
                    .iter()
                    .map(|p| p[0].as_str().unwrap().len() + p[1].as_str().unwrap().len())
                    .sum()
            })
        })
        .unwrap();
    assert!(kept <= 16 * 1024, "{kept} bytes of headers stored");
    assert!(
        kept > 8 * 1024,
        "the headers that fit are kept ({kept} bytes)"
    );
    assert!(a[0].response_headers.as_ref().unwrap().len() < 20 * 1024);
    assert_eq!(deliveries(&app).await[0].status.as_str(), "succeeded");
    app.stop().await;
}

async fn unreachable_endpoints_are_connect_errors(app: TestApp) {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let user = app.user("down@example.com").await;
    app.webhook(
        &user,
        &format!("http://127.0.0.1:{port}/x"),
        &["booking.created"],
        1,
        5,
    )
    .await;
    let key = app.api_key("down@example.com").await;
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let a = attempts(&app).await;
    assert_eq!(a.len(), 2);
    assert!(
        a.iter()
            .all(|a| a.error_kind.map(|k| k.as_str()) == Some("connect")),
        "{a:?}"
    );
    app.stop().await;
}

async fn idempotency_keys_return_the_first_answer(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "idem@example.com", &rx, "ok", 3, 30).await;
    let send = |k: &'static str, event: &'static str, data: Value| {
        let key = key.clone();
        let base = app.base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/events"))
                .bearer_auth(key)
                .header("idempotency-key", k)
                .json(&json!({"event": event, "data": data}))
                .send()
                .await
                .unwrap()
        }
    };
    let first = send("order-42", "booking.created", json!({"a": 1})).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = send("order-42", "booking.created", json!({"a": 1})).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let other: Value = send("order-43", "booking.created", json!({"a": 1}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(other["id"], first["id"]);
    assert_eq!(
        deliveries(&app).await.len(),
        2,
        "the repeat created nothing"
    );
    // The same key for another event is refused (it used to replay the first silently).
    for (event, data) in [
        ("booking.created", json!({"a": 2})),
        ("booking.cancelled", json!({"a": 1})),
    ] {
        let reused = send("order-42", event, data).await;
        assert_eq!(reused.status(), 422);
        let body: Value = reused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "idempotency_key_reused", "{body}");
    }
    assert_eq!(deliveries(&app).await.len(), 2, "nothing was created");
    app.stop().await;
}

async fn a_key_acts_for_its_own_account_only(app: TestApp) {
    let rx = Receiver::start().await;
    let (key_a, _, _) = setup(&app, "a@example.com", &rx, "ok", 3, 30).await;
    let (_key_b, _, _) = setup(&app, "b@example.com", &rx, "ok", 3, 30).await;
    let res: Value = app
        .publish(&key_a, "booking.created", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["deliveries"], 1, "only A's webhook");
    let d = deliveries(&app).await;
    let a_account = app::entities::user::Entity::find()
        .filter(app::entities::user::Column::Email.eq("a@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .account_id;
    assert!(d.iter().all(|d| d.account_id == a_account));
    app.stop().await;
}

async fn ingest_errors_are_json_with_fitting_statuses(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "err@example.com", &rx, "ok", 3, 30).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/events", app.base);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.post(&url)
                .json(&json!({"event": "booking.created", "data": {}})),
            401,
            "unauthorized",
        ),
        (
            http.post(&url)
                .bearer_auth("skw_nope")
                .json(&json!({"event": "booking.created", "data": {}})),
            401,
            "unauthorized",
        ),
        (
            http.post(&url).bearer_auth(&key).body("{not json"),
            400,
            "malformed_json",
        ),
        (
            http.post(&url)
                .bearer_auth(&key)
                .json(&json!({"event": "booking.exploded", "data": {}})),
            422,
            "unknown_event_type",
        ),
        (
            http.post(&url).bearer_auth(&key).json(&json!({"data": {}})),
            422,
            "unknown_event_type",
        ),
        (
            http.post(&url)
                .bearer_auth(&key)
                .json(&json!({"event": "booking.created", "data": [1]})),
            422,
            "invalid_data",
        ),
        (
            http.post(&url)
                .bearer_auth(&key)
                .json(&json!({"event": "booking.created"})),
            422,
            "invalid_data",
        ),
        (
            http.post(&url).bearer_auth(&key).json(&json!([1, 2])),
            422,
            "invalid_body",
        ),
        (
            http.post(&url).bearer_auth(&key).body(format!(
                "{{\"event\":\"booking.created\",\"data\":{{\"x\":\"{}\"}}}}",
                "a".repeat(300 * 1024)
            )),
            413,
            "payload_too_large",
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{code}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert!(deliveries(&app).await.is_empty());
    app.stop().await;
}

fn room(per_webhook: u32) -> queue::Room {
    queue::Room {
        per_webhook,
        busy: vec![],
    }
}

async fn claims_respect_each_webhooks_room(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("room@example.com").await;
    let a = app
        .webhook(&user, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let b = app
        .webhook(&user, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("room@example.com").await;
    for _ in 0..10 {
        app.publish(&key, "booking.created", json!({})).await;
    }
    let now = app::entities::now_ms();
    let count = |c: &[queue::Claimed], w: i64| c.iter().filter(|c| c.webhook_id.0 == w).count();
    // A is at its cap, B has room for 2, others (none here) 5.
    let claimed = queue::claim_due(
        &app.db,
        &app.running.gate,
        now,
        100,
        30_000,
        &queue::Room {
            per_webhook: 5,
            busy: vec![
                (app::domain::WebhookId(a), 0),
                (app::domain::WebhookId(b), 2),
            ],
        },
    )
    .await
    .unwrap();
    assert_eq!((count(&claimed, a), count(&claimed, b)), (0, 2));
    // Nothing in flight: at most 5 of each in one claim.
    let claimed = queue::claim_due(&app.db, &app.running.gate, now, 100, 30_000, &room(5))
        .await
        .unwrap();
    assert_eq!((count(&claimed, a), count(&claimed, b)), (5, 5));
    // The claim limit holds across webhooks.
    let claimed = queue::claim_due(&app.db, &app.running.gate, now, 3, 30_000, &room(5))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    app.stop().await;
}

/// PostgreSQL: with several instances, a process whose clock runs an hour ahead must not take
/// over a lease that is still running by the database's clock. (SQLite serves one host.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_clock_cannot_take_over_a_lease() {
    let Some(app) = crate::common::spawn_app(crate::common::Backend::Postgres).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "clock@example.com", &rx, "ok", 3, 5).await;
    app.publish(&key, "booking.created", json!({})).await;
    let now = app::entities::now_ms();
    let held = queue::claim_due(&app.db, &app.running.gate, now, 10, 30_000, &room(10))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let ahead = now + 3_600_000;
    let taken = queue::claim_due(&app.db, &app.running.gate, ahead, 10, 30_000, &room(10))
        .await
        .unwrap();
    assert!(taken.is_empty(), "a fast clock took over a running lease");
    app.stop().await;
}

async fn an_expired_lease_is_taken_over(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, _, _) = setup(&app, "lease@example.com", &rx, "ok", 3, 5).await;
    app.publish(&key, "booking.created", json!({})).await;
    // A worker claims the delivery and "crashes" (never reports back).
    let now = app::entities::now_ms();
    let crashed = queue::claim_due(&app.db, &app.running.gate, now, 10, 30_000, &room(10))
        .await
        .unwrap();
    assert_eq!(crashed.len(), 1);
    // While the lease runs, nobody else gets it. (Time passes by moving the stored times back:
    // on PostgreSQL claims follow the database's clock.)
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    app.age_queue(30_000).await;
    let now = app::entities::now_ms();
    assert!(
        queue::claim_due(&app.db, &app.running.gate, now, 10, 30_000, &room(10))
            .await
            .unwrap()
            .is_empty()
    );
    // After timeout (5 s) + grace (30 s) it is due again.
    app.age_queue(5_001).await;
    let now = app::entities::now_ms();
    let taken = queue::claim_due(&app.db, &app.running.gate, now, 10, 30_000, &room(10))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_ne!(taken[0].lease.token(), crashed[0].lease.token());
    // The new holder delivers it; the crashed worker's late report changes nothing.
    let jobs = queue::load_jobs(&app.db, &taken).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let stale = queue::load_jobs(&app.db, &crashed).await.unwrap();
    assert!(
        stale.is_empty(),
        "the old claim no longer holds the delivery"
    );
    app.stop().await;
}

async fn send_test_event_goes_through_the_pipeline(app: TestApp) {
    // This one needs the dispatcher running in the background, as in production.
    let mut args = crate::common::test_args();
    args.role = server::config::Role::All;
    let backend = app.backend;
    app.stop().await;
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (_key, id, secret) = setup(&app, "test-event@example.com", &rx, "ok", 3, 30).await;
    let user = app.client();
    let res = user
        .call(
            "auth/login",
            &[
                ("email", "test-event@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let outcome: Value = user
        .call("webhooks/send-test", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["finished"], true, "{outcome}");
    assert_eq!(outcome["succeeded"], true, "{outcome}");
    assert_eq!(outcome["status_code"], 200);
    let got = rx.all();
    assert_eq!(got.len(), 1);
    verify(&got[0], &secret);
    assert_eq!(got[0].headers["x-webhook-event"], "webhook.test");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    for field in [
        "id",
        "event_type",
        "date",
        "time",
        "duration",
        "invitee",
        "location",
        "meeting_link",
    ] {
        assert!(
            body["data"].get(field).is_some(),
            "sample booking lacks {field}"
        );
    }
    // Without JavaScript: redirected to the edit page, which shows the outcome.
    let res = user
        .post_form_as_browser(
            "webhooks/send-test",
            &[("id", &id.to_string())],
            &format!("/settings/webhooks/{id}/edit"),
        )
        .await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/settings/webhooks/{id}/edit?test=")),
        "{location}"
    );
    let page = user.get(&location).await.text().await.unwrap();
    assert!(
        page.contains("Delivered: HTTP 200"),
        "outcome shown after the redirect"
    );
    app.stop().await;
}

async fn rotation_signs_with_both_secrets_for_a_day(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, id, old) = setup(&app, "rot@example.com", &rx, "ok", 3, 30).await;
    let user = app.client();
    user.call(
        "auth/login",
        &[
            ("email", "rot@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    user.call("webhooks/rotate-secret", &[("id", &id.to_string())])
        .await;
    let new: String = user
        .call("webhooks/reveal-secret", &[("id", &id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    app.publish(&key, "booking.created", json!({})).await;
    app.dispatcher.run_once().await.unwrap();
    let r = &rx.all()[0];
    verify(r, &new);
    // The previous secret still verifies: its own header, and a second webhook-signature entry.
    let mut prev = r.clone();
    prev.headers.insert(
        "x-webhook-signature".into(),
        r.headers["x-webhook-signature-previous"].clone(),
    );
    verify(&prev, &old);
    assert_eq!(r.headers["webhook-signature"].split(' ').count(), 2);
    app.stop().await;
}

async fn deleting_a_webhook_removes_its_pending_deliveries(app: TestApp) {
    let rx = Receiver::start().await;
    let (key, id, _) = setup(&app, "del@example.com", &rx, "ok", 3, 30).await;
    app.publish(&key, "booking.created", json!({})).await;
    let user = app.client();
    user.call(
        "auth/login",
        &[
            ("email", "del@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(
        user.call("webhooks/delete", &[("id", &id.to_string())])
            .await
            .status(),
        200
    );
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    assert!(rx.all().is_empty());
    assert!(deliveries(&app).await.is_empty());
    app.stop().await;
}

async fn a_hanging_endpoint_does_not_hold_up_the_others(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.role = server::config::Role::All;
    args.per_webhook_concurrency = 2.try_into().unwrap();
    args.workers = 8.try_into().unwrap();
    args.shutdown_grace_ms = 0;
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    let rx = Receiver::start().await;
    let user = app.user("iso@example.com").await;
    app.webhook(&user, &rx.url("slow/20000"), &["booking.created"], 0, 30)
        .await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 30)
        .await;
    let key = app.api_key("iso@example.com").await;
    for i in 0..10 {
        assert_eq!(
            app.publish(&key, "booking.created", json!({"i": i}))
                .await
                .status(),
            202
        );
    }
    // The healthy webhook gets all ten while the hanging one holds at most its two slots.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while rx.count("ok") < 10 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rx.count("ok"), 10);
    assert!(
        rx.count("slow/20000") <= 2,
        "{} requests in flight to the hanging endpoint",
        rx.count("slow/20000")
    );
    let t = std::time::Instant::now();
    app.running
        .stop(std::time::Duration::from_millis(100))
        .await;
    eprintln!("STOP took {:?}", t.elapsed());
}

backend_tests!(
    a_hanging_endpoint_does_not_hold_up_the_others,
    a_published_event_arrives_signed_and_exact,
    failures_are_retried_until_success_with_the_same_delivery_id,
    retries_stop_at_the_configured_number,
    zero_retries_means_one_try,
    a_slow_endpoint_times_out,
    redirects_are_not_followed,
    retry_after_is_honoured,
    responses_are_read_up_to_16_kib,
    response_headers_are_capped_like_the_body,
    unreachable_endpoints_are_connect_errors,
    idempotency_keys_return_the_first_answer,
    a_key_acts_for_its_own_account_only,
    ingest_errors_are_json_with_fitting_statuses,
    an_expired_lease_is_taken_over,
    claims_respect_each_webhooks_room,
    send_test_event_goes_through_the_pipeline,
    rotation_signs_with_both_secrets_for_a_day,
    deleting_a_webhook_removes_its_pending_deliveries,
);
