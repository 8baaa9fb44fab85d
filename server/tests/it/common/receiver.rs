//! A real HTTP receiver on loopback (axum on port 0) whose answers the tests choose per path.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub base: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    counters: Arc<Mutex<HashMap<String, u32>>>,
    /// Per path: requests being answered now, and the most there have been at once.
    active: Arc<Mutex<HashMap<String, (u32, u32)>>>,
}

/// A request being answered, counted in [`Receiver::active`] until it is dropped.
struct Active(Receiver, String);

impl Active {
    fn enter(r: &Receiver, path: &str) -> Active {
        let mut a = r.active.lock().unwrap();
        let (now, most) = a.entry(path.to_string()).or_default();
        *now += 1;
        *most = (*most).max(*now);
        Active(r.clone(), path.to_string())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if let Some((now, _)) = self.0.active.lock().unwrap().get_mut(&self.1) {
            *now -= 1;
        }
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.all().iter().filter(|r| r.path == path).count()
    }

    /// The most requests to `path` that were being answered at once.
    pub fn most_at_once(&self, path: &str) -> u32 {
        self.active
            .lock()
            .unwrap()
            .get(path)
            .map_or(0, |(_, most)| *most)
    }
}

/// Paths: `ok`, `status/{code}` (and `status/{code}/{label}`), `fail/{n}` (500 n times, then 200), `gone/{n}` (410 n times, then 200), `fail-key/{key}/{n}` (500
/// to the first n requests whose `X-Webhook-Key` is `key`, 200 to the rest), `flaky` (500 to
/// the first request of each delivery id, 200 to its next), `slow/{ms}`, `redirect`,
/// `retry-after/{secs}` (429 with Retry-After), `big` (a 100 KiB answer), `many-headers` (90
/// headers of 4 KB), `html` (a script tag); and stand-ins for the chat apps, checking what each
/// documents it accepts: `slack` and `slack/…` (400 `no_text` without a non-empty `text`, else 200 `ok`),
/// `discord` (400 code 50006 without `content` or `embeds`, else 204), `teams` (400 unless a
/// `message` with an adaptive-card attachment, else 202); `crm`, a CRM API that wants
/// `Authorization: Bearer tok-7f3a9c` (401 otherwise) and a JSON body with `event` (422 otherwise).
async fn handle(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    r.received.lock().unwrap().push(Received {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    let _active = Active::enter(&r, &path);
    let seen = {
        let mut c = r.counters.lock().unwrap();
        let n = c.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    let count_of = |name: String| {
        let mut c = r.counters.lock().unwrap();
        let n = c.entry(name).or_default();
        *n += 1;
        *n
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["ok"] => (StatusCode::OK, "thanks").into_response(),
        ["status", code] | ["status", code, _] => StatusCode::from_u16(code.parse().unwrap())
            .unwrap()
            .into_response(),
        ["fail", n] if seen <= n.parse::<u32>().unwrap() => {
            (StatusCode::INTERNAL_SERVER_ERROR, "not yet").into_response()
        }
        ["fail", _] => (StatusCode::OK, "finally").into_response(),
        ["gone", n] if seen <= n.parse::<u32>().unwrap() => {
            (StatusCode::GONE, "gone").into_response()
        }
        ["gone", _] => (StatusCode::OK, "back").into_response(),
        ["fail-key", key, n] if header("x-webhook-key") == *key => {
            if count_of(format!("key:{key}")) <= n.parse::<u32>().unwrap() {
                (StatusCode::INTERNAL_SERVER_ERROR, "not yet").into_response()
            } else {
                (StatusCode::OK, "finally").into_response()
            }
        }
        ["fail-key", _, _] => (StatusCode::OK, "thanks").into_response(),
        ["flaky"] => {
            if count_of(format!("id:{}", header("x-webhook-delivery-id"))) == 1 {
                (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
            } else {
                (StatusCode::OK, "thanks").into_response()
            }
        }
        ["slow", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            (StatusCode::OK, "late").into_response()
        }
        ["redirect"] => (StatusCode::FOUND, [("location", "/ok")]).into_response(),
        ["retry-after", secs] => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        ["big"] => (StatusCode::OK, "x".repeat(100 * 1024)).into_response(),
        ["many-headers"] => {
            let mut res = (StatusCode::OK, "headers").into_response();
            for i in 0..90 {
                res.headers_mut().insert(
                    axum::http::HeaderName::try_from(format!("x-filler-{i}")).unwrap(),
                    axum::http::HeaderValue::try_from("h".repeat(4000)).unwrap(),
                );
            }
            res
        }
        ["slack", ..] => slack(&body),
        ["crm"] => crm(&headers, &body),
        ["discord"] => discord(&body),
        ["teams"] => teams(&body),
        ["html"] => (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<script>alert('pwned')</script>",
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn json_of(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(body).ok()
}

fn non_empty_str(v: &serde_json::Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// Slack's incoming webhooks: `invalid_payload` for non-JSON, `no_text` without `text`.
fn slack(body: &[u8]) -> Response {
    match json_of(body) {
        None => (StatusCode::BAD_REQUEST, "invalid_payload").into_response(),
        Some(v) if !non_empty_str(&v["text"]) => {
            (StatusCode::BAD_REQUEST, "no_text").into_response()
        }
        Some(_) => (StatusCode::OK, "ok").into_response(),
    }
}

/// Discord's execute-webhook: needs `content` or a non-empty `embeds`; 204 without `?wait`.
fn discord(body: &[u8]) -> Response {
    let ok = json_of(body).is_some_and(|v| {
        non_empty_str(&v["content"]) || v["embeds"].as_array().is_some_and(|e| !e.is_empty())
    });
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            r#"{"message": "Cannot send an empty message", "code": 50006}"#,
        )
            .into_response()
    }
}

/// A Teams Workflows trigger ("Post to a channel when a webhook request is received"): a
/// `message` whose first attachment is an adaptive card; 202 Accepted.
fn teams(body: &[u8]) -> Response {
    let ok = json_of(body).is_some_and(|v| {
        let a = &v["attachments"][0];
        v["type"] == "message"
            && a["contentType"] == "application/vnd.microsoft.card.adaptive"
            && a["content"]["type"] == "AdaptiveCard"
            && a["content"]["body"]
                .as_array()
                .is_some_and(|b| !b.is_empty())
    });
    if ok {
        StatusCode::ACCEPTED.into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            "The request body is not an adaptive card message.",
        )
            .into_response()
    }
}

/// A CRM's API: a bearer token, and a JSON body it can map fields from.
fn crm(headers: &HeaderMap, body: &[u8]) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != "Bearer tok-7f3a9c" {
        return (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_token"}"#).into_response();
    }
    match json_of(body) {
        Some(v) if v["event"].is_string() => {
            (StatusCode::CREATED, r#"{"id":"crm-1"}"#).into_response()
        }
        _ => (StatusCode::UNPROCESSABLE_ENTITY, r#"{"error":"no event"}"#).into_response(),
    }
}
