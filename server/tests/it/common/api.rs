//! A JSON API client of one account (a bearer key), as the scheduling app would use it.

use super::TestApp;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    /// A new account (signed up through the pages) and an API key of it.
    pub async fn new(app: &TestApp, email: &str) -> Api {
        app.user(email).await;
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: app.base.clone(),
            key: app.api_key(email).await,
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }
    pub async fn publish(&self, event: &str, data: Value) -> (u16, Value) {
        self.post("/api/v1/events", json!({"event": event, "data": data}))
            .await
    }

    /// A webhook for `booking.created` at `url` (10 s timeout, no retries); its id.
    pub async fn create_webhook(&self, url: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/v1/webhooks",
                json!({"name": "hook", "url": url, "events": ["booking.created"],
                    "timeout_secs": 10, "retry_attempts": 0}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().unwrap()
    }

    pub async fn delete_webhook(&self, id: i64) {
        let (status, body) = self.delete(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(status, 204, "{body}");
    }
}
