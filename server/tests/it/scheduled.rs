//! Scheduled deliveries (`deliver_at`), cancelling them, and order per key (issue 14), against
//! real receivers on loopback. The dispatcher is driven step by step; time is moved by setting
//! a delivery due in the database where waiting would only make the test slow.

use crate::common::api::Api;
use crate::common::receiver::{Received, Receiver};
use crate::common::TestApp;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use std::time::Duration;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn webhook_for(api: &Api, url: &str, events: &[&str], ordered: bool, retries: u8) -> i64 {
    let (status, body) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "hook", "url": url, "events": events, "timeout_secs": 10,
                "retry_attempts": retries, "ordered": ordered}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ordered"], json!(ordered));
    body["id"].as_i64().unwrap()
}

async fn deliveries(api: &Api, webhook: i64) -> Vec<Value> {
    let (status, body) = api
        .get(&format!("/api/v1/webhooks/{webhook}/deliveries?limit=100"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// Makes every pending delivery due now, as if its time had come.
async fn all_due_now(app: &TestApp) {
    app.db
        .execute(Statement::from_string(
            app.db.get_database_backend(),
            "UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'pending'",
        ))
        .await
        .unwrap();
}

fn body_of(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

async fn a_scheduled_reminder_arrives_once_and_not_before_its_time(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "sched@example.com").await;
    let hook = webhook_for(&api, &rx.url("ok"), &["event.reminder"], false, 3).await;
    let due = now_ms() + 2_000;
    let (status, body) = api
        .post(
            "/api/v1/events",
            json!({"event": "event.reminder", "data": {"id": "booking-123"},
                "deliver_at": rfc3339(due)}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"], 1);

    // Not before its time: nothing is due.
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert!(rx.all().is_empty());
    let rows = deliveries(&api, hook).await;
    assert_eq!(rows[0]["status"], "scheduled", "{rows:?}");
    assert_eq!(rows[0]["deliver_at"], rfc3339(due));
    assert_eq!(rows[0]["key"], "booking-123");
    assert_eq!(rows[0]["sequence"], 1);
    // The list filter and the edit page know it.
    let (_, only) = api
        .get(&format!(
            "/api/v1/webhooks/{hook}/deliveries?status=scheduled"
        ))
        .await;
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let (_, pending) = api
        .get(&format!(
            "/api/v1/webhooks/{hook}/deliveries?status=pending"
        ))
        .await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 0);

    // Its time comes: it is sent once, with its key and sequence.
    let wait = (due - now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 1);
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    let got = rx.all();
    assert_eq!(got.len(), 1);
    assert!(now_ms() >= due);
    assert_eq!(got[0].headers["x-webhook-key"], "booking-123");
    assert_eq!(got[0].headers["x-webhook-sequence"], "1");
    // A scheduled event's timestamp is its time.
    assert_eq!(
        body_of(&got[0])["timestamp"],
        rfc3339(due - due % 1000).replace(".000Z", "Z")
    );
    let rows = deliveries(&api, hook).await;
    assert_eq!(rows[0]["status"], "succeeded");
}

async fn a_cancelled_event_sends_nothing(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "cancel@example.com").await;
    let other = Api::new(&app, "other@example.com").await;
    let hook = webhook_for(&api, &rx.url("ok"), &["event.reminder"], false, 3).await;
    let (status, body) = api
        .post(
            "/api/v1/events",
            json!({"event": "event.reminder", "data": {"id": 7},
                "deliver_at": rfc3339(now_ms() + 3_600_000)}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let event = body["id"].as_str().unwrap().to_string();

    // Another account cannot cancel it (nor learn that it exists).
    let (status, body) = other.delete(&format!("/api/v1/events/{event}")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(deliveries(&api, hook).await[0]["status"], "scheduled");

    let (status, body) = api.delete(&format!("/api/v1/events/{event}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancelled"], 1);
    let (status, body) = api.delete(&format!("/api/v1/events/{event}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancelled"], 0);
    let (status, _) = api.delete("/api/v1/events/not-an-id").await;
    assert_eq!(status, 404);

    // Even once its time has come, nothing is sent.
    all_due_now(&app).await;
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 0);
    assert!(rx.all().is_empty());
    let rows = deliveries(&api, hook).await;
    assert_eq!(rows[0]["status"], "cancelled");
}

async fn a_booking_cancelled_cancels_its_own_keys_reminders_only(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "keys@example.com").await;
    let hook = webhook_for(
        &api,
        &rx.url("ok"),
        &["event.reminder", "event.follow_up", "booking.cancelled"],
        false,
        3,
    )
    .await;
    let later = rfc3339(now_ms() + 3_600_000);
    for (event, key) in [
        ("event.reminder", "booking-A"),
        ("event.follow_up", "booking-A"),
        ("event.reminder", "booking-B"),
        ("event.follow_up", "booking-C"),
    ] {
        let (status, body) = api
            .post(
                "/api/v1/events",
                json!({"event": event, "key": key, "data": {"n": 1}, "deliver_at": later}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    // A's booking is cancelled; C's too, but without touching its scheduled events.
    let (status, body) = api
        .post(
            "/api/v1/events",
            json!({"event": "booking.cancelled", "data": {"id": "booking-A"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/events",
            json!({"event": "booking.cancelled", "data": {"id": "booking-C"},
                "cancel_scheduled": false}),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    let rows = deliveries(&api, hook).await;
    let status_of = |event: &str, key: &str| -> String {
        rows.iter()
            .find(|r| r["event_type"] == event && r["key"] == key)
            .unwrap_or_else(|| panic!("no {event} for {key}: {rows:?}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of("event.reminder", "booking-A"), "cancelled");
    assert_eq!(status_of("event.follow_up", "booking-A"), "cancelled");
    assert_eq!(status_of("event.reminder", "booking-B"), "scheduled");
    assert_eq!(status_of("event.follow_up", "booking-C"), "scheduled");

    // When everything is due, B's reminder, C's follow-up and the two cancellations go.
    all_due_now(&app).await;
    app.dispatcher.run_until_idle().await.unwrap();
    let mut sent: Vec<(String, String)> = rx
        .all()
        .iter()
        .map(|r| {
            (
                r.headers["x-webhook-event"].clone(),
                r.headers["x-webhook-key"].clone(),
            )
        })
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            ("booking.cancelled".to_string(), "booking-A".to_string()),
            ("booking.cancelled".to_string(), "booking-C".to_string()),
            ("event.follow_up".to_string(), "booking-C".to_string()),
            ("event.reminder".to_string(), "booking-B".to_string()),
        ]
    );
}

/// The receiver's view of one key: (event type, sequence, answered 2xx?) in arrival order.
fn arrivals(got: &[Received], key: &str) -> Vec<(String, i64)> {
    got.iter()
        .filter(|r| r.headers.get("x-webhook-key").map(String::as_str) == Some(key))
        .map(|r| {
            (
                r.headers["x-webhook-event"].clone(),
                r.headers["x-webhook-sequence"].parse().unwrap(),
            )
        })
        .collect()
}

async fn publish_story(api: &Api) {
    for (event, key) in [
        ("booking.created", "K1"),
        ("booking.confirmed", "K1"),
        ("booking.cancelled", "K1"),
        ("booking.created", "K2"),
        ("booking.confirmed", "K2"),
    ] {
        let (status, body) = api
            .post(
                "/api/v1/events",
                json!({"event": event, "key": key, "data": {"n": 1}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
}

const STORY: [&str; 3] = ["booking.created", "booking.confirmed", "booking.cancelled"];

async fn an_ordered_webhook_sends_one_key_at_a_time_in_publish_order(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "order@example.com").await;
    // K1's first two tries fail.
    let hook = webhook_for(&api, &rx.url("fail-key/K1/2"), &STORY, true, 3).await;
    publish_story(&api).await;
    let mut steps = 0;
    while app.dispatcher.run_once().await.unwrap() > 0 {
        steps += 1;
        assert!(steps < 50, "the queue does not drain");
    }
    let got = rx.all();
    let k1 = arrivals(&got, "K1");
    // created three times (two failures, then success), then confirmed, then cancelled.
    assert_eq!(
        k1,
        [
            ("booking.created".to_string(), 1),
            ("booking.created".to_string(), 1),
            ("booking.created".to_string(), 1),
            ("booking.confirmed".to_string(), 2),
            ("booking.cancelled".to_string(), 3),
        ]
    );
    // K2 was not held back by K1's retries: both its deliveries arrived before K1's created
    // succeeded (its third try).
    let k1_created_ok = got
        .iter()
        .enumerate()
        .filter(|(_, r)| r.headers["x-webhook-key"] == "K1")
        .nth(2)
        .unwrap()
        .0;
    let k2_last = got
        .iter()
        .rposition(|r| r.headers["x-webhook-key"] == "K2")
        .unwrap();
    assert!(k2_last < k1_created_ok, "K2 waited for K1: {k1:?}");
    assert!(deliveries(&api, hook)
        .await
        .iter()
        .all(|d| d["status"] == "succeeded"));
}

/// The same story to a webhook without the option: K1's later events overtake its retrying
/// first one (what the option is for), while the sequence numbers still tell the order.
async fn without_ordering_later_events_overtake_a_retry(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "unordered@example.com").await;
    webhook_for(&api, &rx.url("fail-key/K1/2"), &STORY, false, 3).await;
    publish_story(&api).await;
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    let k1 = arrivals(&rx.all(), "K1");
    assert_eq!(k1.len(), 5);
    let first_confirmed = k1
        .iter()
        .position(|(e, _)| e == "booking.confirmed")
        .unwrap();
    let last_created = k1
        .iter()
        .rposition(|(e, _)| e == "booking.created")
        .unwrap();
    assert!(first_confirmed < last_created, "{k1:?}");
}

async fn switching_ordering_on_applies_to_pending_deliveries(app: TestApp) {
    let rx = Receiver::start().await;
    let api = Api::new(&app, "switch@example.com").await;
    let hook = webhook_for(&api, &rx.url("fail-key/K1/2"), &STORY, false, 3).await;
    publish_story(&api).await;
    let (status, body) = api
        .patch(
            &format!("/api/v1/webhooks/{hook}"),
            json!({"ordered": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ordered"], true);
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    let k1: Vec<i64> = arrivals(&rx.all(), "K1").into_iter().map(|a| a.1).collect();
    assert_eq!(k1, [1, 1, 1, 2, 3]);
}

async fn bad_schedule_input_is_refused_by_field_and_stores_nothing(app: TestApp) {
    let api = Api::new(&app, "bad@example.com").await;
    let rx = Receiver::start().await;
    webhook_for(&api, &rx.url("ok"), &["event.reminder"], false, 3).await;
    let cases = [
        (json!({"deliver_at": "next tuesday"}), "deliver_at"),
        (json!({"deliver_at": 1736000000}), "deliver_at"),
        (
            json!({"deliver_at": rfc3339(now_ms() + 367 * 24 * 3_600_000)}),
            "deliver_at",
        ),
        (json!({"key": "k".repeat(201)}), "key"),
        (json!({"key": ""}), "key"),
        (json!({"key": 42}), "key"),
        (json!({"cancel_scheduled": "no"}), "cancel_scheduled"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"event": "event.reminder", "data": {"id": 1}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = api.post("/api/v1/events", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed", "{answer}");
        assert!(
            answer["error"]["fields"][field].is_string(),
            "{body} → {answer}"
        );
    }
    // 366 days ahead and 200 characters are allowed.
    let (status, answer) = api
        .post(
            "/api/v1/events",
            json!({"event": "event.reminder", "data": {}, "key": "k".repeat(200),
                "deliver_at": rfc3339(now_ms() + 365 * 24 * 3_600_000)}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let row = app
        .db
        .query_one(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM events",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
}

backend_tests!(
    a_scheduled_reminder_arrives_once_and_not_before_its_time,
    a_cancelled_event_sends_nothing,
    a_booking_cancelled_cancels_its_own_keys_reminders_only,
    an_ordered_webhook_sends_one_key_at_a_time_in_publish_order,
    without_ordering_later_events_overtake_a_retry,
    switching_ordering_on_applies_to_pending_deliveries,
    bad_schedule_input_is_refused_by_field_and_stores_nothing,
);
