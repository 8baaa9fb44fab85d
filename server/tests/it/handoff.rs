//! Hand-off in process (issue 16): a delivery published by a process that also dispatches is
//! written already leased and handed to its workers after the commit — the same job a claim
//! would load, the database still the source of truth (a crash after the commit loses
//! nothing), and the worker bound, the per-webhook room and the other webhooks' turn intact.

use crate::common::receiver::Receiver;
use crate::common::{wait_for, Backend, TestApp};
use app::domain::{AccountId, EventType};
use app::entities::delivery;
use app::queue::{self, Destination, Dispatch, Handoff, Job, PublishRequest, Reservation, Targets};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A dispatcher stand-in: reserves a slot for every delivery (or none), keeps the jobs it is
/// given (or drops them, as a process that dies after the commit), counts the slots given back.
#[derive(Default)]
struct Stand {
    refuse: bool,
    drop_jobs: bool,
    started: Mutex<Vec<Job>>,
    reserved: AtomicUsize,
    given_back: Arc<AtomicUsize>,
}

struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Dispatch for Stand {
    fn reserve(&self, _webhook: app::domain::WebhookId) -> Option<Reservation> {
        if self.refuse {
            return None;
        }
        self.reserved.fetch_add(1, Ordering::SeqCst);
        Some(Reservation::new(Slot(self.given_back.clone())))
    }

    fn lease_grace_ms(&self) -> i64 {
        30_000
    }

    fn start(&self, jobs: Vec<(Job, Reservation)>) {
        if self.drop_jobs {
            return;
        }
        let mut started = self.started.lock().unwrap();
        for (job, slot) in jobs {
            // Started: the slot is the worker's now (not given back here).
            std::mem::forget(slot);
            started.push(job);
        }
    }
}

fn destination(app: &TestApp, stand: Arc<Stand>) -> Destination {
    Destination {
        db: app.db.clone(),
        gate: app.running.gate.clone(),
        wakeup: app.running.wakeup.clone(),
        health: app.running.health.clone(),
        handoff: Some(Handoff::new(stand)),
    }
}

async fn account_of(app: &TestApp, email: &str) -> AccountId {
    use sea_orm::{ColumnTrait, QueryFilter};
    app::entities::user::Entity::find()
        .filter(app::entities::user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .account_id
}

fn booking(account: AccountId, data: serde_json::Value) -> PublishRequest {
    PublishRequest::now(
        account,
        EventType::parse("booking.created").unwrap(),
        data,
        Targets::Subscribed,
    )
}

/// Once the hand-offs' leases (timeout 10 s + grace 30 s) have run out: claims up to 10 due
/// deliveries and loads their jobs, as the dispatcher does.
async fn claim_after_the_leases(app: &TestApp) -> Vec<Job> {
    app.age_queue(41_000).await;
    let claimed = queue::claim_due(
        &app.db,
        &app.running.gate,
        app::entities::now_ms(),
        10,
        30_000,
        &queue::Room {
            per_webhook: 10,
            busy: vec![],
        },
    )
    .await
    .unwrap();
    queue::load_jobs(&app.db, &claimed).await.unwrap()
}

/// The handed job is the one a claim would load (every field but the lease's token), and its
/// row is in flight under that lease.
async fn a_handed_off_job_is_the_job_a_claim_loads(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("handed@example.com").await;
    let hook = app
        .webhook(&user, &rx.url("ok"), &["booking.created"], 2, 10)
        .await;
    let account = account_of(&app, "handed@example.com").await;
    let stand = Arc::new(Stand::default());
    let answers = queue::publish_batch(
        &destination(&app, stand.clone()),
        vec![booking(account, json!({"id": "b-1", "who": "Ada"}))],
    )
    .await;
    let published = answers[0].as_ref().unwrap();
    let handed = stand.started.lock().unwrap().clone();
    assert_eq!(handed.len(), 1);
    let job = &handed[0];
    assert_eq!(job.delivery_id, published.delivery_ids[0]);
    assert_eq!(job.webhook_id.0, hook);
    let row = delivery::Entity::find_by_id(job.delivery_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.lease_token, Some(job.lease_token), "written leased");
    assert!(row.in_flight());
    let lease_left = row.next_attempt_at.unwrap() - app::entities::now_ms();
    assert!(
        (35_000..=40_000).contains(&lease_left),
        "the lease is the timeout (10 s) plus the grace (30 s): {lease_left} ms left"
    );
    // Not claimable while the lease runs…
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 0);
    assert!(rx.all().is_empty());
    // …and what a claim loads once it has run out is the same job.
    let loaded = claim_after_the_leases(&app).await;
    assert_eq!(loaded.len(), 1);
    let same_token = |j: &Job| {
        format!(
            "{:?}",
            Job {
                lease_token: 0,
                ..j.clone()
            }
        )
    };
    assert_eq!(same_token(&loaded[0]), same_token(job));
    app.stop().await;
}

/// The process dies between the commit and the request (its jobs never start): nothing is lost,
/// the delivery is claimed and sent once its lease has run out.
async fn a_crash_after_the_commit_loses_nothing(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("crash-handed@example.com").await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
        .await;
    let account = account_of(&app, "crash-handed@example.com").await;
    let stand = Arc::new(Stand {
        drop_jobs: true,
        ..Stand::default()
    });
    let answers = queue::publish_batch(
        &destination(&app, stand.clone()),
        vec![
            booking(account, json!({"n": 1})),
            booking(account, json!({"n": 2})),
        ],
    )
    .await;
    let ids: Vec<_> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().delivery_ids[0].to_string())
        .collect();
    assert_eq!(stand.reserved.load(Ordering::SeqCst), 2);
    assert_eq!(
        app.dispatcher.run_once().await.unwrap(),
        0,
        "leased, not due"
    );
    app.age_queue(41_000).await;
    assert_eq!(app.dispatcher.run_until_idle().await.unwrap(), 2);
    let mut sent: Vec<String> = rx
        .all()
        .iter()
        .map(|r| r.headers["x-webhook-delivery-id"].clone())
        .collect();
    sent.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(sent, want, "each delivery once, after its lease");
    app.stop().await;
}

/// A publish whose transaction fails gives every slot it reserved back, and nothing starts.
async fn a_failed_publish_gives_its_slots_back(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("failed-handed@example.com").await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
        .await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
        .await;
    let account = account_of(&app, "failed-handed@example.com").await;
    // Every insert of a delivery fails from now on.
    let trigger = match app.backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER no_deliveries BEFORE INSERT ON deliveries \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER no_deliveries BEFORE INSERT ON deliveries \
             FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
    };
    for sql in trigger {
        app.db.execute_unprepared(sql).await.unwrap();
    }
    let stand = Arc::new(Stand::default());
    let answers = queue::publish_batch(
        &destination(&app, stand.clone()),
        vec![booking(account, json!({"n": 1}))],
    )
    .await;
    assert!(answers[0].is_err());
    assert!(stand.reserved.load(Ordering::SeqCst) >= 2);
    assert_eq!(
        stand.given_back.load(Ordering::SeqCst),
        stand.reserved.load(Ordering::SeqCst),
        "every reserved slot is given back"
    );
    assert!(stand.started.lock().unwrap().is_empty());
    app.stop().await;
}

/// Where the dispatcher cannot start a delivery at once, it is written waiting and claimed as
/// before.
async fn without_a_slot_the_delivery_waits_to_be_claimed(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("refused-handed@example.com").await;
    app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
        .await;
    let account = account_of(&app, "refused-handed@example.com").await;
    let stand = Arc::new(Stand {
        refuse: true,
        ..Stand::default()
    });
    queue::publish_batch(
        &destination(&app, stand.clone()),
        vec![booking(account, json!({"n": 1}))],
    )
    .await[0]
        .as_ref()
        .unwrap();
    assert!(stand.started.lock().unwrap().is_empty());
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(rx.count("ok"), 1);
    app.stop().await;
}

/// A fan-out holds its event's body once: the jobs handed off for one event share one copy, as
/// do the jobs a claim loads for one event, and a standard webhook's prepared request is that
/// copy, not another.
async fn a_fan_out_holds_one_copy_of_the_body(app: TestApp) {
    let rx = Receiver::start().await;
    let user = app.user("fan-out-body@example.com").await;
    for _ in 0..3 {
        app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
            .await;
    }
    let account = account_of(&app, "fan-out-body@example.com").await;
    let big = "x".repeat(64 * 1024);
    let stand = Arc::new(Stand::default());
    let answers = queue::publish_batch(
        &destination(&app, stand.clone()),
        vec![
            booking(account, json!({"n": 1, "big": big})),
            booking(account, json!({"n": 2, "big": big})),
        ],
    )
    .await;
    assert!(answers.iter().all(Result::is_ok));
    let handed = stand.started.lock().unwrap().clone();
    assert_eq!(
        handed.len(),
        6,
        "two events to three webhooks, all handed off"
    );
    let one_copy_per_event = |jobs: &[Job]| {
        for a in jobs {
            for b in jobs {
                let same_event = a.body == b.body;
                assert_eq!(
                    Arc::ptr_eq(&a.body, &b.body),
                    same_event,
                    "jobs of one event share its body, jobs of two events do not"
                );
            }
        }
    };
    one_copy_per_event(&handed);
    // A claim (once the leases have run out) loads each event's body once too.
    let loaded = claim_after_the_leases(&app).await;
    assert_eq!(loaded.len(), 6);
    one_copy_per_event(&loaded);
    // The request of a standard webhook sends that copy.
    let job = &loaded[0];
    let now = app::entities::now_ms();
    let secrets = server::dispatcher::OpenedSecrets::open(job, &app.running.secrets, now);
    let policy = app::domain::TargetPolicy {
        allow_insecure: true,
        resolve_on_save: false,
    };
    let prepared = server::dispatcher::prepare(job, &secrets, policy, now);
    assert!(Arc::ptr_eq(&prepared.body, &job.body));
    assert!(!prepared.formatted);
    app.stop().await;
}

backend_tests!(
    a_fan_out_holds_one_copy_of_the_body,
    a_handed_off_job_is_the_job_a_claim_loads,
    a_crash_after_the_commit_loses_nothing,
    a_failed_publish_gives_its_slots_back,
    without_a_slot_the_delivery_waits_to_be_claimed,
);

/// The whole process, dispatcher running: every delivery arrives once, a webhook never has
/// more requests in flight than its cap (hand-offs and claims together), and another
/// webhook's event goes out while the first webhook's burst is still being sent.
mod in_a_running_process {
    use super::*;

    async fn run(backend: Backend) {
        let mut args = crate::common::test_args();
        args.role = server::config::Role::All;
        args.workers = 8.try_into().unwrap();
        args.per_webhook_concurrency = 2.try_into().unwrap();
        args.poll_interval_ms = 50;
        let Some(app) = crate::common::spawn_app_with(backend, args).await else {
            return;
        };
        let rx = Receiver::start().await;
        let user = app.user("running-handed@example.com").await;
        app.webhook(&user, &rx.url("slow/200"), &["booking.created"], 0, 10)
            .await;
        app.webhook(&user, &rx.url("ok"), &["booking.cancelled"], 0, 10)
            .await;
        let key = app.api_key("running-handed@example.com").await;
        for i in 0..12 {
            let res = app.publish(&key, "booking.created", json!({"i": i})).await;
            assert_eq!(res.status(), 202);
        }
        let res = app.publish(&key, "booking.cancelled", json!({})).await;
        assert_eq!(res.status(), 202);
        let handed = || app.running.handed_off.load(Ordering::Relaxed);
        let until = Instant::now() + Duration::from_secs(30);
        while rx.count("ok") == 0 {
            assert!(
                Instant::now() < until,
                "the other webhook's event never arrived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            rx.count("slow/200") < 12,
            "the other webhook waited for the whole burst"
        );
        while rx.count("slow/200") < 12 {
            assert!(Instant::now() < until, "the burst did not all arrive");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            rx.most_at_once("slow/200") <= 2,
            "{} requests at once to a webhook capped at 2",
            rx.most_at_once("slow/200")
        );
        let mut ids: Vec<String> = rx
            .all()
            .iter()
            .map(|r| r.headers["x-webhook-delivery-id"].clone())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "a delivery arrived twice");
        assert_eq!(n, 13);
        // The first two of the burst went without a claim (the webhook had room, nothing was
        // due); the rest of the burst waited for room and was claimed.
        assert!(handed() >= 2, "{} handed off", handed());
        assert!(handed() < 13, "{} handed off past the cap", handed());
        app.stop().await;
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

/// At a steady trickle every delivery is handed off, and a finished delivery does not send the
/// dispatcher's loop back to the database: only a delivery that waits for room (a worker slot,
/// its webhook's cap) is helped by a slot freeing. Before, each finished delivery woke the loop
/// twice (its webhook's place, then its recorded outcome), and each wake-up cost a read.
mod a_trickle_costs_no_passes {
    use super::*;

    async fn run(backend: Backend) {
        let mut args = crate::common::test_args();
        args.role = server::config::Role::All;
        args.poll_interval_ms = 60_000;
        args.per_webhook_concurrency = 4.try_into().unwrap();
        let Some(app) = crate::common::spawn_app_with(backend, args).await else {
            return;
        };
        let rx = Receiver::start().await;
        let user = app.user("trickle@example.com").await;
        app.webhook(&user, &rx.url("ok"), &["booking.created"], 0, 10)
            .await;
        let key = app.api_key("trickle@example.com").await;
        let passes = || app.running.claim_passes.load(Ordering::Relaxed);
        // The loop's first passes (its start, the webhook's creation) are behind it.
        let mut last = passes();
        wait_for("the loop to go idle", Duration::from_secs(30), async || {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = passes();
            let idle = now == last;
            last = now;
            idle
        })
        .await;
        let before = passes();
        for i in 0..20 {
            let res = app.publish(&key, "booking.created", json!({"i": i})).await;
            assert_eq!(res.status(), 202);
            wait_for(
                &format!("delivery {i}"),
                Duration::from_secs(30),
                async || rx.count("ok") > i,
            )
            .await;
        }
        // Its outcome recorded, the last slot freed.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let handed = app.running.handed_off.load(Ordering::Relaxed);
        assert_eq!(handed, 20, "every delivery of the trickle is handed off");
        let made = passes() - before;
        assert!(
            made <= 2,
            "{made} claim passes for 20 handed-off deliveries (each a database round trip)"
        );
        app.stop().await;
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

/// The loop never waits for a slot that only a hand-off queued behind it can give back. Its
/// read of the queue waits (here, behind a table lock; on a busy database, behind anything);
/// meanwhile a publish reserves the only worker slot for its hand-off; the read then finds a
/// delivery due and the loop claims it with the count of free slots it read before. Before,
/// the loop waited for a slot for the claimed job while the handed-off job holding that slot
/// waited in the loop's channel: neither was ever sent, nor anything after them. PostgreSQL
/// only: SQLite's reads do not wait on writers.
mod a_hand_off_while_the_loop_reads {
    use super::*;

    async fn waiting_on_locks(app: &TestApp) -> i64 {
        let row = app
            .db
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    async fn until_waiting(app: &TestApp, n: i64, what: &str) {
        wait_for(what, Duration::from_secs(20), async || {
            waiting_on_locks(app).await >= n
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        use sea_orm::TransactionTrait;
        let mut args = crate::common::test_args();
        args.role = server::config::Role::All;
        args.workers = 1.try_into().unwrap();
        args.poll_interval_ms = 60_000;
        let Some(app) = crate::common::spawn_app_with(Backend::Postgres, args).await else {
            return;
        };
        let rx = Receiver::start().await;
        let user = app.user("loop-reads@example.com").await;
        app.webhook(&user, &rx.url("claimed"), &["booking.created"], 0, 10)
            .await;
        app.webhook(&user, &rx.url("handed"), &["booking.cancelled"], 0, 10)
            .await;
        let key = app.api_key("loop-reads@example.com").await;
        let account = account_of(&app, "loop-reads@example.com").await;
        // A delivery due now that the loop has not heard of (another process published it).
        let elsewhere = Destination {
            db: app.db.clone(),
            gate: app.running.gate.clone(),
            wakeup: queue::Wakeup::default(),
            health: app.running.health.clone(),
            handoff: None,
        };
        let published = queue::publish_batch(&elsewhere, vec![booking(account, json!({}))]).await;
        assert!(published[0].is_ok());
        let lock = app.db.begin().await.unwrap();
        lock.execute_unprepared("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        // The loop looks (one slot free) and its read waits.
        app.running.wakeup.notify();
        until_waiting(&app, 1, "the loop's read to wait on the lock").await;
        // A publish takes the slot for its hand-off, then its insert waits too.
        let base = app.base.clone();
        let publish = tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/events"))
                .bearer_auth(key)
                .json(&json!({"event": "booking.cancelled", "data": {}}))
                .send()
                .await
                .unwrap()
                .status()
        });
        until_waiting(&app, 2, "the publish to wait on the lock").await;
        lock.commit().await.unwrap();
        assert_eq!(publish.await.unwrap(), 202);
        wait_for(
            "the claimed and the handed-off delivery (the loop is stuck otherwise)",
            Duration::from_secs(30),
            async || rx.count("claimed") >= 1 && rx.count("handed") >= 1,
        )
        .await;
        app.stop().await;
    }
}
