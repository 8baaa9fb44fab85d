//! The operator API (issue 18): the scheduling product's back end provisions accounts by its
//! own ids, publishes for them one by one or in a batch, reaches their management API under
//! `/api/v1/accounts/{external_id}/…`, and opens the pages for them with one-time log-in links.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::{Backend, Client, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The product's back end: an operator key.
async fn operator(app: &TestApp) -> Api {
    Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        base: app.base.clone(),
        key: server::cli::create_operator_key(&app.db, "product")
            .await
            .unwrap(),
    }
}

/// Provisions an account (`owner@<id>.example`) and answers the status.
async fn provision(op: &Api, id: &str) -> (u16, Value) {
    op.send(
        reqwest::Method::PUT,
        &format!("/api/v1/accounts/{id}"),
        Some(
            json!({"name": format!("Account {id}"), "owner_email": format!("owner@{id}.example")}),
        ),
    )
    .await
}

/// A webhook of an account, made through the operator's prefix.
async fn webhook_for(op: &Api, id: &str, url: &str, name: &str) -> i64 {
    let (status, body) = op
        .post(
            &format!("/api/v1/accounts/{id}/webhooks"),
            json!({"name": name, "url": url, "events": ["booking.created"],
                "timeout_secs": 10, "retry_attempts": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

async fn link(op: &Api, id: &str, body: Value) -> (u16, Value) {
    op.post(&format!("/api/v1/accounts/{id}/login-links"), body)
        .await
}

/// The link's path on the test server (its host is the configured public URL).
fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_string()
}

/// Opens a link in a new browser-like client: its status, `Location`, and the client.
async fn open(app: &TestApp, path: &str) -> (u16, Option<String>, Client) {
    let c = app.client();
    let res = c.get(path).await;
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (res.status().as_u16(), location, c)
}

async fn webhook_names(c: &Client) -> Result<Vec<String>, u16> {
    let res = c.call("webhooks/list", &[]).await;
    if res.status() != 200 {
        return Err(res.status().as_u16());
    }
    let list: Value = res.json().await.unwrap();
    Ok(list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect())
}

async fn provisioning_is_idempotent_and_keyed_by_the_products_id(app: TestApp) {
    let op = operator(&app).await;
    assert_eq!(provision(&op, "cus_1").await.0, 201);
    let (status, again) = provision(&op, "cus_1").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["external_id"], "cus_1");
    assert_eq!(again["owner_email"], "owner@cus_1.example");
    // A change of name only keeps the owner.
    let (status, renamed) = op
        .send(
            reqwest::Method::PUT,
            "/api/v1/accounts/cus_1",
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(renamed["owner_email"], "owner@cus_1.example");
    // Creating without an owner, a bad id, another account's e-mail: clear errors.
    let (status, body) = op
        .send(
            reqwest::Method::PUT,
            "/api/v1/accounts/cus_2",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("owner_email"));
    let (status, _) = op
        .send(
            reqwest::Method::PUT,
            "/api/v1/accounts/bad%20id",
            Some(json!({"owner_email": "x@example.com"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = op
        .send(
            reqwest::Method::PUT,
            "/api/v1/accounts/cus_2",
            Some(json!({"owner_email": "owner@cus_1.example"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    for i in 2..=5 {
        assert_eq!(provision(&op, &format!("cus_{i}")).await.0, 201);
    }
    // One account per external id, listed in keyset pages.
    let (status, page) = op.get("/api/v1/accounts?limit=3").await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cus_1", "cus_2", "cus_3"]);
    assert_eq!(page["next_after"], "cus_3");
    let (_, rest) = op.get("/api/v1/accounts?limit=3&after=cus_3").await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_after"], Value::Null);
    assert_eq!(op.get("/api/v1/accounts/cus_4").await.0, 200);
    assert_eq!(op.get("/api/v1/accounts/cus_9").await.0, 404);
    assert_eq!(op.get("/api/v1/accounts?limit=0").await.0, 422);
}

async fn publishing_for_an_account_reaches_its_webhooks_only(app: TestApp) {
    let rx = Receiver::start().await;
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "a", &rx.url("a"), "A's").await;
    webhook_for(&op, "b", &rx.url("b"), "B's").await;

    let (status, body) = op
        .post(
            "/api/v1/accounts/a/events",
            json!({"event": "booking.created", "data": {"for": "a"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"], 1);
    // The same Idempotency-Key rules as the account's own route.
    let again = op
        .http
        .post(format!("{}/api/v1/accounts/a/events", op.base))
        .bearer_auth(&op.key)
        .header("idempotency-key", "k1")
        .json(&json!({"event": "booking.created", "data": {"for": "a", "n": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    let replay = op
        .http
        .post(format!("{}/api/v1/accounts/a/events", op.base))
        .bearer_auth(&op.key)
        .header("idempotency-key", "k1")
        .json(&json!({"event": "booking.created", "data": {"for": "a", "n": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    assert_eq!(rx.count("a"), 2);
    assert_eq!(rx.count("b"), 0, "B's webhook got A's event");
    // The management API under the prefix sees only that account.
    let (_, hooks) = op.get("/api/v1/accounts/b/webhooks").await;
    let names: Vec<&str> = hooks["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["B's"]);
    assert_eq!(op.get("/api/v1/accounts/nobody/webhooks").await.0, 404);
}

async fn a_batch_commits_the_good_events_and_names_the_bad_one(app: TestApp) {
    let rx = Receiver::start().await;
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "a", &rx.url("a"), "A's").await;
    webhook_for(&op, "b", &rx.url("b"), "B's").await;
    let (status, body) = op
        .post(
            "/api/v1/events/batch",
            json!({"events": [
                {"account": "a", "event": "booking.created", "data": {"n": 0}},
                {"account": "b", "event": "booking.created", "data": {"n": 1}, "idempotency_key": "x"},
                {"account": "a", "event": "no.such.event", "data": {"n": 2}},
                {"account": "ghost", "event": "booking.created", "data": {"n": 3}},
                {"account": "b", "event": "booking.created", "data": {"n": 4}},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses[0], 202);
    assert_eq!(statuses[1], 202);
    assert_eq!(statuses[4], 202);
    assert_eq!(results[2]["index"], 2);
    assert_eq!(statuses[2], 422, "{}", results[2]);
    assert!(results[2]["error"]["message"].is_string());
    assert!(results[2]["id"].is_null());
    assert_eq!(statuses[3], 404, "{}", results[3]);
    assert_eq!(results[3]["error"]["code"], "unknown_account");
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    assert_eq!(rx.count("a"), 1);
    assert_eq!(rx.count("b"), 2);
    // The idempotency key is the account's: the same event again is answered, not sent.
    let (_, again) = op
        .post(
            "/api/v1/events/batch",
            json!({"events": [{"account": "b", "event": "booking.created", "data": {"n": 1}, "idempotency_key": "x"}]}),
        )
        .await;
    assert_eq!(again["results"][0]["replayed"], true, "{again}");
    assert_eq!(again["results"][0]["id"], results[1]["id"]);
    // Too many events: refused whole, nothing written.
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"account": "a", "event": "booking.created", "data": {"i": i}}))
        .collect();
    let (status, body) = op
        .post("/api/v1/events/batch", json!({ "events": many }))
        .await;
    assert_eq!(status, 422, "{body}");
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    assert_eq!(rx.count("a"), 1);
}

async fn keys_stay_in_their_lane(app: TestApp) {
    let op = operator(&app).await;
    provision(&op, "a").await;
    let own = Api::new(&app, "self@example.com").await;
    // An account's own key on the operator routes.
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/accounts"),
        (reqwest::Method::GET, "/api/v1/accounts/a"),
        (reqwest::Method::GET, "/api/v1/accounts/a/webhooks"),
        (reqwest::Method::POST, "/api/v1/accounts/a/login-links"),
        (reqwest::Method::POST, "/api/v1/events/batch"),
        (reqwest::Method::DELETE, "/api/v1/accounts/a"),
    ] {
        let (status, body) = own.send(method.clone(), path, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operator key"));
    }
    // An operator key on an account route without the prefix.
    let (status, body) = op.get("/api/v1/webhooks").await;
    assert_eq!(status, 401, "{body}");
    // A revoked operator key.
    server::cli::revoke_operator_key(&app.db, "product")
        .await
        .unwrap();
    // (the cache holds a key for a few seconds at most)
    let until = Instant::now() + Duration::from_secs(10);
    while op.get("/api/v1/accounts").await.0 != 401 {
        assert!(Instant::now() < until, "a revoked key still works");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // An operator key on the pages opens no session.
    let op = operator(&app).await;
    let c = app.client();
    let res = c
        .http
        .get(format!("{}/settings/webhooks", app.base))
        .bearer_auth(&op.key)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    let res = c
        .http
        .post(format!("{}/fn/webhooks/list", app.base))
        .bearer_auth(&op.key)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);
}

async fn a_login_link_logs_in_once(app: TestApp) {
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "a", "http://127.0.0.1:9/a", "A's hook").await;
    let b_hook = webhook_for(&op, "b", "http://127.0.0.1:9/b", "B's hook").await;

    let (status, made) = link(&op, "a", json!({})).await;
    assert_eq!(status, 201, "{made}");
    assert!(made["expires_at"].is_string());
    let path = path_of(made["url"].as_str().unwrap());
    let (status, to, a) = open(&app, &path).await;
    assert_eq!((status, to.as_deref()), (303, Some("/settings/webhooks")));
    // Logged in as A: A's webhooks, never B's, on the list and by id.
    assert_eq!(webhook_names(&a).await.unwrap(), ["A's hook"]);
    let page = a.get(&format!("/settings/webhooks/{b_hook}/edit")).await;
    let text = page.text().await.unwrap();
    assert!(!text.contains("B's hook"), "A's session shows B's webhook");
    // A second use, a changed character: a clear page, no session.
    let (status, _, second) = open(&app, &path).await;
    assert_eq!(status, 410);
    assert!(webhook_names(&second).await.is_err());
    let (_, made) = link(&op, "a", json!({})).await;
    let path = path_of(made["url"].as_str().unwrap());
    let last = path.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &path[..path.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let (status, _, c) = open(&app, &tampered).await;
    assert_eq!(status, 404);
    let res = c.get(&tampered).await;
    assert!(res.text().await.unwrap().contains("not valid"));
    assert!(webhook_names(&c).await.is_err());
    // Expired: the clock moves past the link's five minutes.
    app.running
        .portal
        .clock
        .advance(Duration::from_secs(5 * 60 + 1));
    let (status, _, c) = open(&app, &path).await;
    assert_eq!(status, 410);
    assert!(webhook_names(&c).await.is_err());
    // A path of another account's webhook, or of another site: refused when the link is made.
    let (status, body) = link(
        &op,
        "a",
        json!({"path": format!("/settings/webhooks/{b_hook}/edit")}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    for bad in [
        "https://evil.example/settings",
        "//evil.example/x",
        "/login",
    ] {
        let (status, body) = link(&op, "a", json!({ "path": bad })).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    // A return URL outside the allow-list (none configured here).
    let (status, body) = link(
        &op,
        "a",
        json!({"return_url": "https://app.example.com/settings"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("return"));
}

/// A link session can do what the owner does on the pages, for its own account only; the API
/// keys it makes are the account's own (refused on every operator route).
async fn a_link_session_mints_only_its_own_accounts_keys(app: TestApp) {
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "b", "http://127.0.0.1:9/b", "B's hook").await;
    let (_, made) = link(&op, "a", json!({})).await;
    let (_, _, a) = open(&app, &path_of(made["url"].as_str().unwrap())).await;
    let res = a
        .call(
            "api-keys/create",
            &[("name", "from the link"), ("scopes[]", "webhooks:read")],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    let key = created["key"]
        .as_str()
        .or_else(|| created.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no key in {created}"));
    let minted = Api { key, ..op.clone() };
    let (status, hooks) = minted.get("/api/v1/webhooks").await;
    assert_eq!(status, 200, "{hooks}");
    assert_eq!(hooks["data"].as_array().unwrap().len(), 0, "{hooks}");
    assert_eq!(minted.get("/api/v1/accounts/b/webhooks").await.0, 401);
}

async fn deleting_an_account_in_flight_stops_nothing_of_another(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = crate::common::test_args();
    args.role = server::config::Role::All;
    args.workers = 16.try_into().unwrap();
    args.poll_interval_ms = 50;
    args.shutdown_grace_ms = 2_000;
    let Some(app) = crate::common::spawn_app_with(backend, args).await else {
        return;
    };
    let rx = Receiver::start().await;
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "a", &rx.url("slow/1500"), "A's slow").await;
    let healthy = webhook_for(&op, "b", &rx.url("ok"), "B's").await;
    let (status, _) = op
        .post(
            "/api/v1/accounts/a/events",
            json!({"event": "booking.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    let until = Instant::now() + Duration::from_secs(10);
    while rx.count("slow/1500") == 0 {
        assert!(Instant::now() < until, "A's request never went out");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, body) = op.delete("/api/v1/accounts/a").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(op.get("/api/v1/accounts/a").await.0, 404);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    for i in 0..20 {
        let (status, _) = op
            .post(
                "/api/v1/accounts/b/events",
                json!({"event": "booking.created", "data": {"i": i}}),
            )
            .await;
        assert_eq!(status, 202);
    }
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        use app::entities::delivery;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let done = delivery::Entity::find()
            .filter(delivery::Column::WebhookId.eq(healthy))
            .filter(delivery::Column::Status.eq("succeeded"))
            .count(&app.db)
            .await
            .unwrap();
        if done == 20 {
            break;
        }
        assert!(
            Instant::now() < until,
            "B's deliveries stopped at {done}/20"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A is gone whole: its owner cannot log in by a link any more, its id can be used again.
    assert_eq!(link(&op, "a", json!({})).await.0, 404);
    assert_eq!(provision(&op, "a").await.0, 201);
    let t = Instant::now();
    app.running.stop(Duration::from_millis(2_000)).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the stop took {:?}",
        t.elapsed()
    );
}

/// An account with more events than one delete statement takes: every one of them goes, with
/// their deliveries; another account's stay.
async fn deleting_an_account_takes_all_it_owns_and_nothing_else(app: TestApp) {
    use app::entities::{account, delivery, event, webhook};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    webhook_for(&op, "a", "http://127.0.0.1:9/a", "A's").await;
    webhook_for(&op, "b", "http://127.0.0.1:9/b", "B's").await;
    let n = app::queue::retention::BATCH as usize * 2 + 50;
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"account": "a", "event": "booking.created", "data": {"i": i}}))
        .chain(
            (0..3).map(|i| json!({"account": "b", "event": "booking.created", "data": {"i": i}})),
        )
        .collect();
    let (status, body) = op
        .post("/api/v1/events/batch", json!({ "events": events }))
        .await;
    assert_eq!(status, 200, "{body}");
    let a = account::Entity::find()
        .filter(account::Column::ExternalId.eq("a"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let events_of = |id| {
        event::Entity::find()
            .filter(event::Column::AccountId.eq(id))
            .count(&app.db)
    };
    assert_eq!(events_of(a).await.unwrap(), n as u64);
    let (status, body) = op.delete("/api/v1/accounts/a").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(events_of(a).await.unwrap(), 0);
    assert_eq!(event::Entity::find().count(&app.db).await.unwrap(), 3);
    assert_eq!(delivery::Entity::find().count(&app.db).await.unwrap(), 3);
    assert_eq!(webhook::Entity::find().count(&app.db).await.unwrap(), 1);
    assert!(account::Entity::find_by_id(a)
        .one(&app.db)
        .await
        .unwrap()
        .is_none());
    assert_eq!(op.get("/api/v1/accounts/b/webhooks").await.0, 200);
}

/// Acting for account B, every route of the operator's prefix that takes an id answers A's id
/// with 404 and changes nothing of A's (the list is checked against the OpenAPI document).
async fn acting_for_one_account_never_reaches_anothers_ids(app: TestApp) {
    use std::collections::BTreeSet;
    let rx = Receiver::start().await;
    let op = operator(&app).await;
    provision(&op, "a").await;
    provision(&op, "b").await;
    let hook = webhook_for(&op, "a", &rx.url("a"), "A's").await;
    webhook_for(&op, "b", &rx.url("b"), "B's").await;
    let (_, published) = op
        .post(
            "/api/v1/accounts/a/events",
            json!({"event": "booking.created", "data": {}}),
        )
        .await;
    let event = published["id"].as_str().unwrap().to_string();
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    let (_, deliveries) = op
        .get(&format!("/api/v1/accounts/a/webhooks/{hook}/deliveries"))
        .await;
    let d = deliveries["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{deliveries}"))
        .to_string();
    let h = hook.to_string();
    let prefix = "/api/v1/accounts/{external_id}";
    let api: Vec<(reqwest::Method, String, &str)> = [
        (reqwest::Method::GET, "/webhooks/{id}", &h),
        (reqwest::Method::PATCH, "/webhooks/{id}", &h),
        (reqwest::Method::DELETE, "/webhooks/{id}", &h),
        (reqwest::Method::POST, "/webhooks/{id}/test", &h),
        (reqwest::Method::POST, "/webhooks/{id}/replay", &h),
        (reqwest::Method::POST, "/webhooks/{id}/rotate-secret", &h),
        (reqwest::Method::GET, "/webhooks/{id}/deliveries", &h),
        (reqwest::Method::GET, "/deliveries/{id}", &d),
        (reqwest::Method::POST, "/deliveries/{id}/redeliver", &d),
        (reqwest::Method::DELETE, "/events/{id}", &event),
    ]
    .into_iter()
    .map(|(m, route, id)| (m, format!("{prefix}{route}"), id.as_str()))
    .collect();
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with(prefix) && p.contains("{id}"))
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    let covered: BTreeSet<String> = api.iter().map(|(m, r, _)| format!("{m} {r}")).collect();
    assert_eq!(
        documented, covered,
        "every prefixed route with an id is in the matrix"
    );
    for (method, route, id) in &api {
        let path = route.replace("{external_id}", "b").replace("{id}", id);
        let (status, body) = op
            .send(method.clone(), &path, Some(json!({"name": "mine"})))
            .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
    }
    // Nothing of A's changed, and nothing more was sent.
    let (status, a_hook) = op.get(&format!("/api/v1/accounts/a/webhooks/{hook}")).await;
    assert_eq!(status, 200);
    assert_eq!(a_hook["name"], "A's");
    assert_eq!(a_hook["active"], true);
    while app.dispatcher.run_once().await.unwrap() > 0 {}
    assert_eq!(rx.count("a"), 1, "no test event or redelivery was sent");
}

backend_tests!(
    provisioning_is_idempotent_and_keyed_by_the_products_id,
    acting_for_one_account_never_reaches_anothers_ids,
    deleting_an_account_takes_all_it_owns_and_nothing_else,
    publishing_for_an_account_reaches_its_webhooks_only,
    a_batch_commits_the_good_events_and_names_the_bad_one,
    keys_stay_in_their_lane,
    a_login_link_logs_in_once,
    a_link_session_mints_only_its_own_accounts_keys,
    deleting_an_account_in_flight_stops_nothing_of_another,
);

/// With `SKW_PASSWORD_LOGIN=off`, nobody signs up or logs in with a password; links work.
mod password_login_off {
    use super::*;

    async fn run(backend: Backend) {
        let mut args = crate::common::test_args();
        args.password_login = false;
        let Some(app) = crate::common::spawn_app_with(backend, args).await else {
            return;
        };
        let c = app.client();
        let res = c
            .call(
                "auth/signup",
                &[
                    ("email", "x@example.com"),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("scheduling app"));
        let res = c
            .call(
                "auth/login",
                &[
                    ("email", "x@example.com"),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        for page in ["/login", "/signup"] {
            let res = c.get(page).await;
            assert_eq!(res.status(), 403, "{page}");
            assert!(res.text().await.unwrap().contains("Log in from"));
        }
        let op = operator(&app).await;
        provision(&op, "a").await;
        let (_, made) = link(&op, "a", json!({})).await;
        let (status, _, a) = open(&app, &path_of(made["url"].as_str().unwrap())).await;
        assert_eq!(status, 303);
        assert!(webhook_names(&a).await.unwrap().is_empty());
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

/// With frame ancestors and return origins set: the pages may be framed by those origins only,
/// the session cookie works in a frame, and the way back shows the product's name.
mod embeddable {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let mut args = crate::common::test_args();
        args.frame_ancestors = server::config::Origins(vec!["https://app.example.com".into()]);
        args.return_origins = server::config::Origins(vec!["https://app.example.com".into()]);
        args.product_name = "Acme Scheduling".into();
        args.accent_color = Some("#0a7d43".into());
        args.logo_url = Some("https://cdn.acme.example/logo.svg".into());
        args.link_session_ttl = server::config::Span(Duration::from_secs(30 * 60));
        let Some(app) = crate::common::spawn_app_with(Backend::Sqlite, args).await else {
            return;
        };
        let op = operator(&app).await;
        provision(&op, "a").await;
        let (status, made) = link(
            &op,
            "a",
            json!({"return_url": "https://app.example.com/settings", "embedded": true}),
        )
        .await;
        assert_eq!(status, 201, "{made}");
        let url = path_of(made["url"].as_str().unwrap());
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = plain
            .get(format!("{}{url}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        // The session cookie works inside a frame on another site: SameSite=None; Secure (sent
        // here by hand: a cookie store keeps Secure cookies for https only).
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.contains("SameSite=None"), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
        // …and partitioned (CHIPS), which browsers that block third-party cookies still keep.
        assert!(cookie.contains("Partitioned"), "{cookie}");
        // The session lasts SKW_LINK_SESSION_TTL (30 minutes here) from the link's opening.
        let max_age: i64 = cookie
            .split(';')
            .find_map(|p| p.trim().strip_prefix("Max-Age="))
            .unwrap_or_else(|| panic!("no Max-Age in {cookie}"))
            .parse()
            .unwrap();
        assert!((30 * 60 - 60..=30 * 60).contains(&max_age), "{cookie}");
        let session = cookie.split(';').next().unwrap().to_string();
        let res = plain
            .get(format!("{}{url}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 410);
        let res = plain
            .get(format!("{}/settings/webhooks", app.base))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert!(h.get("x-frame-options").is_none(), "{h:?}");
        let csp = h["content-security-policy"].to_str().unwrap().to_string();
        assert!(
            csp.contains("frame-ancestors https://app.example.com"),
            "{csp}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("data-embedded"), "not marked embedded");
        assert!(html.contains("Back to Acme Scheduling"));
        assert!(html.contains("https://app.example.com/settings"));
        assert!(html.contains("--brand:#0a7d43"));
        // The logo, allowed by the page's policy for its origin only.
        assert!(
            html.contains("url(https://cdn.acme.example/logo.svg)"),
            "no logo"
        );
        assert!(
            csp.contains("img-src 'self' data: https://cdn.acme.example;"),
            "{csp}"
        );
    }
}
