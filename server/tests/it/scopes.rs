//! Scoped API keys (issue 13, items 7 and 9): every `/api/v1` route requires its scope — a key
//! without it gets `403 insufficient_scope` naming the scope and changes nothing, a key with
//! exactly that scope gets through —, the OpenAPI document names the scope each route enforces,
//! keys stored without scopes keep full access, and the page and the CLI choose them.

use crate::common::api::Api;
use crate::common::receiver::Receiver;
use crate::common::TestApp;
use app::domain::ApiScope;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const EMAIL: &str = "scopes@example.com";

/// Which fixture's id a route's `{id}` stands for.
#[derive(Clone, Copy, Debug)]
enum Id {
    None,
    Event,
    Webhook,
    /// A second webhook, the one the allowed DELETE removes.
    Doomed,
    Delivery,
}

struct Route {
    method: Method,
    path: &'static str,
    id: Id,
    scope: ApiScope,
    /// The answer of a call with the scope.
    ok: u16,
    body: Option<Value>,
}

/// Every route of `/api/v1` (the OpenAPI document is checked against this list), in the order
/// the allowed pass calls them (the DELETE of a webhook last).
fn routes() -> Vec<Route> {
    use ApiScope::*;
    let r = |method, path, id, scope, ok, body| Route {
        method,
        path,
        id,
        scope,
        ok,
        body,
    };
    vec![
        r(
            Method::POST,
            "/api/v1/events",
            Id::None,
            EventsPublish,
            202,
            Some(json!({"event": "booking.created", "data": {"id": 7}})),
        ),
        r(
            Method::DELETE,
            "/api/v1/events/{id}",
            Id::Event,
            EventsPublish,
            200,
            None,
        ),
        r(
            Method::GET,
            "/api/v1/event-types",
            Id::None,
            WebhooksRead,
            200,
            None,
        ),
        r(
            Method::GET,
            "/api/v1/event-types/{type}/samples",
            Id::None,
            DeliveriesRead,
            200,
            None,
        ),
        r(
            Method::GET,
            "/api/v1/webhooks",
            Id::None,
            WebhooksRead,
            200,
            None,
        ),
        r(
            Method::POST,
            "/api/v1/webhooks",
            Id::None,
            WebhooksWrite,
            201,
            Some(
                json!({"name": "new", "url": "https://new.example.com/in", "events": ["booking.created"]}),
            ),
        ),
        r(
            Method::GET,
            "/api/v1/webhooks/{id}",
            Id::Webhook,
            WebhooksRead,
            200,
            None,
        ),
        r(
            Method::PATCH,
            "/api/v1/webhooks/{id}",
            Id::Webhook,
            WebhooksWrite,
            200,
            Some(json!({"name": "renamed"})),
        ),
        r(
            Method::POST,
            "/api/v1/webhooks/{id}/test",
            Id::Webhook,
            WebhooksWrite,
            200,
            Some(json!({})),
        ),
        r(
            Method::POST,
            "/api/v1/webhooks/{id}/rotate-secret",
            Id::Webhook,
            WebhooksWrite,
            200,
            Some(json!({})),
        ),
        r(
            Method::POST,
            "/api/v1/webhooks/{id}/replay",
            Id::Webhook,
            WebhooksWrite,
            200,
            Some(json!({"status": "succeeded"})),
        ),
        r(
            Method::GET,
            "/api/v1/webhooks/{id}/deliveries",
            Id::Webhook,
            DeliveriesRead,
            200,
            None,
        ),
        r(
            Method::GET,
            "/api/v1/deliveries/{id}",
            Id::Delivery,
            DeliveriesRead,
            200,
            None,
        ),
        r(
            Method::POST,
            "/api/v1/deliveries/{id}/redeliver",
            Id::Delivery,
            DeliveriesWrite,
            202,
            Some(json!({})),
        ),
        r(
            Method::DELETE,
            "/api/v1/webhooks/{id}",
            Id::Doomed,
            WebhooksWrite,
            204,
            None,
        ),
    ]
}

/// The ids the routes act on: a webhook with one succeeded delivery of one event, and a second
/// webhook to delete.
struct Fixture {
    event: String,
    webhook: i64,
    doomed: i64,
    delivery: String,
    _rx: Receiver,
}

impl Fixture {
    async fn new(app: &TestApp, owner: &Api) -> Fixture {
        let rx = Receiver::start().await;
        let (s, w) = owner
            .post(
                "/api/v1/webhooks",
                json!({"name": "kept", "url": rx.url("ok"), "events": ["booking.created"],
                    "timeout_secs": 5, "retry_attempts": 0}),
            )
            .await;
        assert_eq!(s, 201, "{w}");
        let doomed = owner.create_webhook("https://doomed.example.com/in").await;
        // The doomed one is paused, so that the event is delivered to the kept one only.
        let (s, _) = owner
            .patch(
                &format!("/api/v1/webhooks/{doomed}"),
                json!({"active": false}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, e) = owner.publish("booking.created", json!({"id": 1})).await;
        assert_eq!(s, 202, "{e}");
        app.dispatcher.run_until_idle().await.unwrap();
        let webhook = w["id"].as_i64().unwrap();
        let (_, list) = owner
            .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
            .await;
        assert_eq!(list["data"][0]["status"], "succeeded", "{list}");
        Fixture {
            event: e["id"].as_str().unwrap().to_string(),
            webhook,
            doomed,
            delivery: list["data"][0]["id"].as_str().unwrap().to_string(),
            _rx: rx,
        }
    }

    fn path(&self, route: &Route) -> String {
        let id = match route.id {
            Id::None => return route.path.replace("{type}", "booking.created"),
            Id::Event => self.event.clone(),
            Id::Webhook => self.webhook.to_string(),
            Id::Doomed => self.doomed.to_string(),
            Id::Delivery => self.delivery.clone(),
        };
        route.path.replace("{id}", &id)
    }
}

async fn key_with(app: &TestApp, scopes: &[ApiScope]) -> String {
    let name = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    server::cli::create_api_key(&app.db, EMAIL, &name, scopes)
        .await
        .unwrap()
}

async fn call(app: &TestApp, key: &str, route: &Route, path: &str) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .request(route.method.clone(), format!("{}{path}", app.base))
        .bearer_auth(key);
    if let Some(body) = &route.body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, challenge, body)
}

/// Everything a route could change: the account's webhooks, events, deliveries and attempts.
async fn snapshot(app: &TestApp) -> String {
    use app::entities::{attempt, delivery, event, webhook};
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        webhook::Entity::find()
            .order_by_asc(webhook::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
        event::Entity::find()
            .order_by_asc(event::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
        delivery::Entity::find()
            .order_by_asc(delivery::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
        attempt::Entity::find()
            .order_by_asc(attempt::Column::Id)
            .all(&app.db)
            .await
            .unwrap(),
    )
}

/// Calls every route in order with the key `key_for` gives, which must get through: the
/// route's own answer, never a 403.
async fn every_route_answers(app: &TestApp, fx: &Fixture, key_for: impl Fn(ApiScope) -> String) {
    for route in routes() {
        let path = fx.path(&route);
        let key = key_for(route.scope);
        let (status, _, body) = if route.path.ends_with("/test") {
            // The answer waits for the first attempt: drive the dispatcher meanwhile.
            let (app_base, method, body) =
                (app.base.clone(), route.method.clone(), route.body.clone());
            let (key, path2) = (key.clone(), path.clone());
            let req = tokio::spawn(async move {
                let res = reqwest::Client::new()
                    .request(method, format!("{app_base}{path2}"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, None::<String>, res.json::<Value>().await.unwrap())
            });
            while !req.is_finished() {
                app.dispatcher.run_once().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            req.await.unwrap()
        } else {
            call(app, &key, &route, &path).await
        };
        assert_eq!(
            status, route.ok,
            "{} {} with {}: {body}",
            route.method, route.path, route.scope
        );
    }
}

async fn every_route_requires_its_scope(app: TestApp) {
    let owner = Api::new(&app, EMAIL).await;
    let fx = Fixture::new(&app, &owner).await;
    let mut keys = std::collections::HashMap::new();
    for scope in ApiScope::ALL {
        keys.insert(scope, key_with(&app, &[scope]).await);
    }

    // Every key without the route's scope: 403 naming it, and nothing changed.
    for route in routes() {
        let path = fx.path(&route);
        for scope in ApiScope::ALL.into_iter().filter(|s| *s != route.scope) {
            let before = snapshot(&app).await;
            let (status, challenge, body) = call(&app, &keys[&scope], &route, &path).await;
            let what = format!("{} {} with a {scope} key", route.method, route.path);
            assert_eq!(status, 403, "{what}: {body}");
            assert_eq!(
                body["error"]["code"], "insufficient_scope",
                "{what}: {body}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("`{}`", route.scope)),
                "{what}: the message names the missing scope: {message}"
            );
            assert_eq!(
                challenge.as_deref(),
                Some(
                    format!(
                        "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                        route.scope
                    )
                    .as_str()
                ),
                "{what}"
            );
            assert_eq!(before, snapshot(&app).await, "{what} changed something");
        }
    }
    let (s, list) = owner.get("/api/v1/webhooks").await;
    assert_eq!(
        (s, list["data"].as_array().unwrap().len()),
        (200, 2),
        "nothing created nor deleted"
    );

    // A key with exactly the route's scope gets through, on every route.
    every_route_answers(&app, &fx, |scope| keys[&scope].clone()).await;
    let (_, list) = owner.get("/api/v1/webhooks").await;
    let names: BTreeSet<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["renamed".to_string(), "new".to_string()]),
        "created, renamed, and the doomed one deleted"
    );
    app.stop().await;
}

/// The document names, for every operation, the scope its handler enforces, and the matrix
/// above covers every operation; each operation has its own operationId and documents its 403.
async fn the_openapi_document_names_each_routes_scope(app: TestApp) {
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(
                !id.is_empty() && ids.insert(id.clone()),
                "{method} {path}: operationId {id:?} missing or used twice"
            );
            // The operator's routes take an operator key, not a scoped API key
            // (operator.rs tests them).
            if op["security"][0].get("operatorKey").is_some() {
                assert!(
                    path.starts_with("/api/v1/accounts") || path == "/api/v1/events/batch",
                    "{method} {path}: an operator route outside the operator's paths"
                );
                continue;
            }
            let scopes = &op["security"][0]["bearer"];
            assert_eq!(
                scopes.as_array().map(Vec::len),
                Some(1),
                "{method} {path}: {scopes}"
            );
            let scope = scopes[0].as_str().unwrap().to_string();
            assert!(
                op["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&scope),
                "{method} {path}: the description names the scope"
            );
            let forbidden = &op["responses"]["403"];
            assert!(
                forbidden["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("insufficient_scope"),
                "{method} {path}: {forbidden}"
            );
            documented.insert((method.to_uppercase(), path.clone(), scope));
        }
    }
    let enforced: BTreeSet<_> = routes()
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.scope.to_string(),
            )
        })
        .collect();
    assert_eq!(documented, enforced);
    let bearer = doc["components"]["securitySchemes"]["bearer"]["description"]
        .as_str()
        .unwrap();
    for scope in ApiScope::ALL {
        assert!(bearer.contains(&format!("`{scope}`")), "{bearer}");
    }
    app.stop().await;
}

/// A key stored without scopes (NULL: created before scopes existed) may call every route.
async fn keys_without_stored_scopes_keep_full_access(app: TestApp) {
    use app::entities::api_key;
    let owner = Api::new(&app, EMAIL).await;
    let fx = Fixture::new(&app, &owner).await;
    let old = key_with(&app, &[ApiScope::EventsPublish]).await;
    let res = api_key::Entity::update_many()
        .col_expr(
            api_key::Column::Scopes,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(api_key::Column::KeyHash.eq(app::api_keys::ssr::hash_key(&old)))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(res.rows_affected, 1);
    every_route_answers(&app, &fx, |_| old.clone()).await;

    // The page's list shows it with every scope.
    let account = api_key::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .account_id;
    let list = app::api_keys::ssr::list(&app.db, account).await.unwrap();
    let old_row = list.iter().find(|k| old.starts_with(&k.prefix)).unwrap();
    assert_eq!(old_row.scopes, ApiScope::ALL.to_vec(), "{old_row:?}");
    app.stop().await;
}

/// The CLI stores the scopes given (none: all of them), and the key has exactly those.
async fn the_cli_stores_the_scopes_given(app: TestApp) {
    use app::entities::api_key;
    let owner = Api::new(&app, EMAIL).await;
    let reader = server::cli::create_api_key(
        &app.db,
        EMAIL,
        "reader",
        &[
            ApiScope::DeliveriesRead,
            ApiScope::WebhooksRead,
            ApiScope::WebhooksRead,
        ],
    )
    .await
    .unwrap();
    let stored = |key: String| {
        let db = app.db.clone();
        async move {
            api_key::Entity::find()
                .filter(api_key::Column::KeyHash.eq(app::api_keys::ssr::hash_key(&key)))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .scopes
        }
    };
    assert_eq!(
        stored(reader.clone()).await.as_deref(),
        Some("webhooks:read,deliveries:read")
    );
    assert_eq!(
        stored(owner.key.clone()).await.as_deref(),
        Some("events:publish,webhooks:read,webhooks:write,deliveries:read,deliveries:write"),
        "no --scope: every scope"
    );
    let reader = Api {
        key: reader,
        ..owner.clone()
    };
    assert_eq!(reader.get("/api/v1/webhooks").await.0, 200);
    let (s, err) = reader.publish("booking.created", json!({})).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    app.stop().await;
}

/// The page offers every scope, ticked; a key made there without JavaScript has the ones left
/// ticked, and the list shows them; none ticked is refused by name.
async fn the_page_chooses_scopes_without_javascript(app: TestApp) {
    use app::entities::api_key;
    let user = app.user(EMAIL).await;
    let html = user.get("/settings/api-keys").await.text().await.unwrap();
    for scope in ApiScope::ALL {
        let input = html
            .match_indices("<input")
            .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()])
            .find(|tag| tag.contains(&format!("value=\"{scope}\"")))
            .unwrap_or_else(|| panic!("no checkbox for {scope}"));
        assert!(
            input.contains("type=\"checkbox\"")
                && input.contains("name=\"scopes[]\"")
                && input.contains("checked"),
            "{input}"
        );
    }

    let res = user
        .post_form_as_browser(
            "api-keys/create",
            &[
                ("name", "Reader"),
                ("scopes[]", "webhooks:read"),
                ("scopes[]", "deliveries:read"),
            ],
            "/settings/api-keys",
        )
        .await;
    assert_eq!(res.status(), 302);
    let key = api_key::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(key.scopes.as_deref(), Some("webhooks:read,deliveries:read"));
    let html = user.get("/settings/api-keys").await.text().await.unwrap();
    // The list's row (the notice above it shows the new key's scopes too).
    let table = &html[html.find("<tbody").expect("the list")..];
    let row = &table[table.find("Reader").expect("the key is listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<code>webhooks:read</code>")
            && row.contains("<code>deliveries:read</code>")
            && !row.contains("<code>webhooks:write</code>"),
        "{row}"
    );

    let res = user.call("api-keys/create", &[("name", "Nothing")]).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["Invalid"]["errors"][0][0], "scopes", "{body}");
    let res = user
        .call(
            "api-keys/create",
            &[("name", "Bad"), ("scopes[]", "webhooks:admin")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["Invalid"]["errors"][0][1]
            .as_str()
            .unwrap()
            .contains("`webhooks:admin`"),
        "{body}"
    );
    assert_eq!(
        api_key::Entity::find().all(&app.db).await.unwrap().len(),
        1,
        "nothing stored"
    );
    app.stop().await;
}

backend_tests!(
    every_route_requires_its_scope,
    the_openapi_document_names_each_routes_scope,
    keys_without_stored_scopes_keep_full_access,
    the_cli_stores_the_scopes_given,
    the_page_chooses_scopes_without_javascript,
);

/// `api-key create --scope S` (repeatable) parses each name; a bad one stops the command with
/// exit code 2 and a message naming it and the scopes there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_parses_scope_flags() {
    use server::config::{ApiKeyCommand, Command};
    let base = [
        "schedulingkit-webhooks",
        "api-key",
        "create",
        "--account",
        "a@example.com",
    ];
    let parse = |extra: &[&str]| server::config::parse(base.iter().chain(extra).copied());
    let scopes_of = |cli: server::config::Cli| match cli.command {
        Some(Command::ApiKey(ApiKeyCommand::Create { scopes, .. })) => scopes,
        other => panic!("{other:?}"),
    };
    assert_eq!(scopes_of(parse(&[]).unwrap()), vec![]);
    assert_eq!(
        scopes_of(parse(&["--scope", "webhooks:read", "--scope", "deliveries:write"]).unwrap()),
        vec![ApiScope::WebhooksRead, ApiScope::DeliveriesWrite]
    );
    let err = parse(&["--scope", "webhooks:read", "--scope", "webhooks:admin"]).unwrap_err();
    let message = server::config::refusal(&err);
    assert!(
        message.contains("unknown scope `webhooks:admin`") && message.contains("events:publish"),
        "{message}"
    );

    let (code, stderr) = crate::common::process::run_to_exit(
        &[
            "api-key",
            "create",
            "--account",
            "a@example.com",
            "--scope",
            "nope",
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown scope `nope`") && stderr.contains("deliveries:read"),
        "{stderr}"
    );
}
