//! Fault isolation between accounts: one account's ordinary actions (deleting a webhook with a
//! delivery in flight, racing its deletes against publishes) never stop another account's
//! deliveries or fail its publishes.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::{wait_for, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The whole app with its dispatcher running (not driven by hand).
async fn dispatching(app: TestApp, grace_ms: u64) -> Option<TestApp> {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.role = server::config::Role::All;
    args.workers = 16.try_into().unwrap();
    args.poll_interval_ms = 50;
    args.shutdown_grace_ms = grace_ms;
    crate::common::spawn_app_with(backend, args).await
}

/// Stops the app (grace 2 s) and checks that it did not take much longer.
async fn stops_within_its_grace(app: TestApp) {
    let t = Instant::now();
    app.running.stop(Duration::from_millis(2_000)).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the stop took {:?}",
        t.elapsed()
    );
}

async fn succeeded_of(app: &TestApp, webhook_id: i64) -> usize {
    use app::entities::delivery;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(delivery::Column::Status.eq("succeeded"))
        .count(&app.db)
        .await
        .unwrap() as usize
}

/// The old recorder retried a batch holding an attempt of a deleted delivery forever (its
/// foreign key failed): nothing was recorded again, for any account, and the stop hung.
async fn a_delete_in_flight_does_not_halt_other_accounts(app: TestApp) {
    let Some(app) = dispatching(app, 2_000).await else {
        return;
    };
    let rx = Receiver::start().await;
    let a = Api::new(&app, "a@example.com").await;
    let b = Api::new(&app, "b@example.com").await;
    let slow = a.create_webhook(&rx.url("slow/1500")).await;
    let healthy = b.create_webhook(&rx.url("ok")).await;

    assert_eq!(a.publish("booking.created", json!({"n": "a"})).await.0, 202);
    wait_for(
        "A's request to be in flight",
        Duration::from_secs(10),
        async || rx.count("slow/1500") == 1,
    )
    .await;
    a.delete_webhook(slow).await;
    // A's attempt finishes after its delivery is gone; B's deliveries go on being recorded.
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    for i in 0..20 {
        assert_eq!(b.publish("booking.created", json!({"i": i})).await.0, 202);
    }
    wait_for(
        "B's deliveries to be recorded",
        Duration::from_secs(20),
        async || succeeded_of(&app, healthy).await == 20,
    )
    .await;
    assert_eq!(rx.count("ok"), 20);

    stops_within_its_grace(app).await;
}

/// The same, one step at a time: `run_once` records a batch in which one delivery was deleted
/// while its request was in flight.
async fn an_attempt_of_a_deleted_delivery_is_dropped(app: TestApp) {
    let rx = Receiver::start().await;
    let a = Api::new(&app, "a@example.com").await;
    let b = Api::new(&app, "b@example.com").await;
    let slow = a.create_webhook(&rx.url("slow/800")).await;
    let healthy = b.create_webhook(&rx.url("ok")).await;
    a.publish("booking.created", json!({})).await;
    b.publish("booking.created", json!({})).await;
    let dispatcher = app.dispatcher.clone();
    let step = tokio::spawn(async move { dispatcher.run_once().await });
    wait_for(
        "A's request to be in flight",
        Duration::from_secs(10),
        async || rx.count("slow/800") == 1,
    )
    .await;
    a.delete_webhook(slow).await;
    assert_eq!(step.await.unwrap().expect("the batch is recorded"), 2);
    assert_eq!(succeeded_of(&app, healthy).await, 1);
    let attempts = app::entities::attempt::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "only B's attempt is recorded");
    assert_eq!(attempts[0].webhook_id.0, healthy);
    // And the dispatcher goes on.
    b.publish("booking.created", json!({})).await;
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 1);
    assert_eq!(succeeded_of(&app, healthy).await, 2);
    app.stop().await;
}

use sea_orm::EntityTrait;

/// Chaos: account A creates, deletes and re-creates webhooks, publishes to them and asks for
/// redeliveries in a loop, while account B publishes a steady stream to a healthy receiver.
/// B's publishes never answer 5xx, all of B's events arrive (none twice: nothing crashed), and
/// the stop at the end is within the shutdown grace.
async fn chaos_of_one_account_leaves_the_other_alone(app: TestApp) {
    let Some(app) = dispatching(app, 2_000).await else {
        return;
    };
    let rx = Receiver::start().await;
    let a = Api::new(&app, "chaos-a@example.com").await;
    let b = Api::new(&app, "chaos-b@example.com").await;
    let healthy = b.create_webhook(&rx.url("ok")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let a_rounds = Arc::new(AtomicUsize::new(0));

    // A: create → publish (twice, concurrently with its own delete) → redeliver → delete.
    let mut chaos = Vec::new();
    for worker in 0..2 {
        let (a, stop, rounds, url) = (
            a.clone(),
            stop.clone(),
            a_rounds.clone(),
            rx.url(&format!("slow/{}", 5 + worker * 20)),
        );
        chaos.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = a.create_webhook(&url).await;
                let (p1, p2) = tokio::join!(a.publish("booking.created", json!({"a": 1})), async {
                    let (s, body) = a.publish("booking.created", json!({"a": 2})).await;
                    a.delete_webhook(id).await;
                    (s, body)
                });
                assert!(p1.0 < 500 && p2.0 < 500, "A's publish: {p1:?} {p2:?}");
                let (s, list) = a.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
                assert!(s == 200 || s == 404, "{s} {list}");
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // A also redelivers its live deliveries while they are being deleted.
    {
        let (a, stop) = (a.clone(), stop.clone());
        chaos.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (_, hooks) = a.get("/api/v1/webhooks").await;
                for h in hooks["data"].as_array().cloned().unwrap_or_default() {
                    let id = h["id"].as_i64().unwrap();
                    let (_, log) = a.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
                    for d in log["data"].as_array().cloned().unwrap_or_default() {
                        let (s, body) = a
                            .send(
                                reqwest::Method::POST,
                                &format!(
                                    "/api/v1/deliveries/{}/redeliver",
                                    d["id"].as_str().unwrap()
                                ),
                                None,
                            )
                            .await;
                        assert!(s < 500, "redeliver: {s} {body}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    // B: a steady stream, a few publishers at once so that batches mix both accounts.
    let sent = 300;
    let mut streams = Vec::new();
    for lane in 0..3 {
        let b = b.clone();
        streams.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for i in 0..sent / 3 {
                let (s, body) = b
                    .publish("booking.created", json!({"lane": lane, "i": i}))
                    .await;
                if s != 202 {
                    errors.push((s, body));
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for s in streams {
        errors.extend(s.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for c in chaos {
        c.await.unwrap();
    }
    assert!(errors.is_empty(), "B's publishes failed: {errors:?}");
    assert!(a_rounds.load(Ordering::Relaxed) > 0);
    wait_for("B's deliveries", Duration::from_secs(30), async || {
        succeeded_of(&app, healthy).await == sent
    })
    .await;
    assert_eq!(rx.count("ok"), sent, "each of B's events arrives once");
    stops_within_its_grace(app).await;
}

/// PostgreSQL: a webhook's delete that meets another writer holding its deliveries in the
/// other order (a deadlock, which the database breaks by failing one side) is tried again: the
/// owner sees 204, not 500. The old delete answered 500 (`deadlock detected`).
async fn a_delete_that_meets_a_deadlock_is_retried(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    if app.backend != crate::common::Backend::Postgres {
        app.stop().await; // SQLite has one writer at a time: no deadlock to meet.
        return;
    }
    let rx = Receiver::start().await;
    let a = Api::new(&app, "a@example.com").await;
    let id = a.create_webhook(&rx.url("ok")).await;
    for n in 0..2 {
        assert_eq!(a.publish("booking.created", json!({ "n": n })).await.0, 202);
    }
    let mut ids: Vec<app::domain::DeliveryId> = app::entities::delivery::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2);
    let touch = |id: app::domain::DeliveryId| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE deliveries SET attempt_count = attempt_count WHERE id = $1",
            [id.into()],
        )
    };
    // Another writer holds the newer delivery…
    let other = app.db.begin().await.unwrap();
    other.execute(touch(ids[1])).await.unwrap();
    let delete = {
        let a = a.clone();
        tokio::spawn(async move { a.delete(&format!("/api/v1/webhooks/{id}")).await })
    };
    wait_for(
        "the delete to wait for a lock",
        Duration::from_secs(10),
        async || {
            let row = app
                .db
                .query_one(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap() > 0
        },
    )
    .await;
    // …and then wants the older one, which the delete took first.
    let _ = other.execute(touch(ids[0])).await;
    let _ = other.commit().await;
    let (status, body) = delete.await.unwrap();
    assert_eq!(status, 204, "{body}");
    assert_eq!(a.get(&format!("/api/v1/webhooks/{id}")).await.0, 404);
    assert_eq!(
        app::entities::delivery::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        0
    );
    app.stop().await;
}

backend_tests!(
    a_delete_in_flight_does_not_halt_other_accounts,
    an_attempt_of_a_deleted_delivery_is_dropped,
    chaos_of_one_account_leaves_the_other_alone,
    a_delete_that_meets_a_deadlock_is_retried,
);
