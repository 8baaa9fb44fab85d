//! One attempt of one delivery, as typed stages: [`prepare`] (the exact request, signed),
//! [`call`] (send it, bounded in time and in bytes read), [`handle`] (what the answer means for
//! the delivery: done, retry when, or failed).

use app::domain::signing::{seed_signature, standard_signature};
use app::domain::{SigningSecret, TargetPolicy, WebhookUrl};
use app::queue::{AttemptOutcome, AttemptTrigger, Job, Next};
use futures::StreamExt;
use std::time::{Duration, Instant};
use url::Host;

use super::retry::{parse_retry_after, RetrySchedule};

pub const USER_AGENT: &str = concat!("SchedulingKit-Webhooks/", env!("CARGO_PKG_VERSION"));

/// A request ready to send.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub timeout: Duration,
    /// 1 for the delivery's first attempt.
    pub number: i32,
    /// Set when the target is refused before any connection (SSRF guard).
    pub blocked: Option<String>,
}

/// Builds the exact request: the stored body, the seed's headers and the Standard Webhooks ones.
/// During a rotation's overlap the previous secret signs too (see the README).
pub fn prepare(job: &Job, policy: TargetPolicy, now_ms: i64) -> Prepared {
    let delivery_id = job.delivery_id.to_string();
    let timestamp = now_ms / 1000;
    let body = job.body.as_bytes();
    let mut headers: Vec<(&'static str, String)> = vec![
        ("content-type", "application/json".to_string()),
        ("user-agent", USER_AGENT.to_string()),
        ("x-webhook-event", job.event_type.clone()),
        ("x-webhook-delivery-id", delivery_id.clone()),
    ];
    let mut blocked = None;
    let mut standard = Vec::new();
    match SigningSecret::parse(&job.secret) {
        Ok(secret) => {
            headers.push(("x-webhook-signature", seed_signature(&secret, body)));
            standard.push(standard_signature(&secret, &delivery_id, timestamp, body));
        }
        Err(e) => blocked = Some(format!("the webhook's signing secret is unusable: {e}")),
    }
    let previous = job
        .previous_secret
        .as_deref()
        .filter(|_| job.previous_secret_expires_at.is_some_and(|t| t > now_ms))
        .and_then(|s| SigningSecret::parse(s).ok());
    if let Some(prev) = previous {
        headers.push(("x-webhook-signature-previous", seed_signature(&prev, body)));
        standard.push(standard_signature(&prev, &delivery_id, timestamp, body));
    }
    headers.push(("webhook-id", delivery_id));
    headers.push(("webhook-timestamp", timestamp.to_string()));
    headers.push(("webhook-signature", standard.join(" ")));

    if blocked.is_none() {
        blocked = check_target(&job.url, policy).err();
    }
    Prepared {
        url: job.url.clone(),
        headers,
        body: job.body.clone(),
        timeout: Duration::from_secs(job.timeout_secs.clamp(1, 300) as u64),
        number: job.attempt_count + 1,
        blocked,
    }
}

/// The URL rules again at send time (the policy may have changed since the webhook was saved),
/// and literal addresses, which no resolver sees.
fn check_target(url: &str, policy: TargetPolicy) -> Result<(), String> {
    WebhookUrl::parse(url, policy)?;
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    match parsed.host() {
        Some(Host::Ipv4(ip)) => policy.check_ip(ip.into()),
        Some(Host::Ipv6(ip)) => policy.check_ip(ip.into()),
        _ => Ok(()),
    }
}

/// What came back.
#[derive(Clone, Debug)]
pub enum CallResult {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        retry_after: Option<Duration>,
        duration: Duration,
    },
    Error {
        kind: &'static str,
        message: String,
        duration: Duration,
    },
}

/// The response headers stored with an attempt: in order, as long as names and values add up
/// to at most `max_bytes` (the body's cap; receivers can send far more — 90 headers of 4 KB);
/// the first one that does not fit and all after it are left out.
fn kept_headers(headers: &reqwest::header::HeaderMap, max_bytes: usize) -> Vec<(String, String)> {
    let mut used = 0;
    let mut kept = Vec::new();
    for (k, v) in headers {
        used += k.as_str().len() + v.len();
        if used > max_bytes {
            break;
        }
        kept.push((
            k.as_str().to_string(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        ));
    }
    kept
}

/// Sends the request. The webhook's timeout bounds everything (connecting, sending, reading);
/// redirects are not followed; at most `max_bytes` of the answer are read.
pub async fn call(client: &reqwest::Client, p: &Prepared, max_bytes: usize) -> CallResult {
    let started = Instant::now();
    if let Some(reason) = &p.blocked {
        return CallResult::Error {
            kind: "blocked",
            message: reason.clone(),
            duration: started.elapsed(),
        };
    }
    let mut req = client.post(&p.url).timeout(p.timeout).body(p.body.clone());
    for (name, value) in &p.headers {
        req = req.header(*name, value);
    }
    let exchange = async {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = kept_headers(resp.headers(), max_bytes);
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let room = max_bytes - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= max_bytes {
                break; // The rest is not read; the connection is dropped.
            }
        }
        Ok::<_, reqwest::Error>((status, headers, body, retry_after))
    };
    match tokio::time::timeout(p.timeout, exchange).await {
        Err(_) => CallResult::Error {
            kind: "timeout",
            message: format!("no complete answer within {} s", p.timeout.as_secs()),
            duration: started.elapsed(),
        },
        Ok(Err(e)) => {
            let (kind, message) = classify(&e);
            CallResult::Error {
                kind,
                message,
                duration: started.elapsed(),
            }
        }
        Ok(Ok((status, headers, body, retry_after))) => CallResult::Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            retry_after,
            duration: started.elapsed(),
        },
    }
}

/// Names a transport error by what failed: `timeout`, `blocked`, `dns`, `tls`, `connect`, `io`.
fn classify(e: &reqwest::Error) -> (&'static str, String) {
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        chain.push(err.to_string());
        source = err.source();
    }
    let detail = chain.last().cloned().unwrap_or_default();
    let all = chain.join(": ").to_lowercase();
    let kind = if e.is_timeout() {
        "timeout"
    } else if all.contains("blocked:") {
        "blocked"
    } else if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service not known")
    {
        "dns"
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        "tls"
    } else if e.is_connect() {
        "connect"
    } else {
        "io"
    };
    let message = match kind {
        "blocked" => chain
            .iter()
            .find(|m| m.starts_with("blocked:"))
            .cloned()
            .unwrap_or(detail),
        _ => detail,
    };
    (kind, message)
}

/// Decides what the attempt means and builds its record.
pub fn handle(
    job: &Job,
    p: &Prepared,
    result: CallResult,
    schedule: &RetrySchedule,
    started_at_ms: i64,
) -> AttemptOutcome {
    let request_headers = serde_json::to_string(
        &p.headers
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>(),
    )
    .unwrap_or_default();
    // A manual redelivery is one try, whatever the webhook's retry setting.
    let max_tries = if job.manual {
        p.number
    } else {
        1 + job.retry_attempts.clamp(0, 10)
    };
    let took_ms = duration_ms(&result);
    let retry_at = |delay: Duration| {
        (p.number < max_tries).then(|| started_at_ms + took_ms + delay.as_millis() as i64)
    };
    let mut outcome = AttemptOutcome {
        lease: job.lease(),
        webhook_id: job.webhook_id,
        number: p.number,
        trigger: if job.manual {
            AttemptTrigger::Manual
        } else {
            AttemptTrigger::Auto
        },
        started_at: started_at_ms,
        duration_ms: took_ms as i32,
        request_headers,
        response_status: None,
        response_headers: None,
        response_body: None,
        error_kind: None,
        error_message: None,
        next: Next::Failed,
    };
    let default_delay = schedule.delay(p.number as u32);
    match result {
        CallResult::Response {
            status,
            headers,
            body,
            retry_after,
            ..
        } => {
            outcome.response_status = Some(status.into());
            outcome.response_headers = Some(
                serde_json::to_string(
                    &headers
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::String(v)))
                        .collect::<serde_json::Map<_, _>>(),
                )
                .unwrap_or_default(),
            );
            outcome.response_body = Some(body);
            if (200..300).contains(&status) {
                outcome.next = Next::Succeeded;
                return outcome;
            }
            let (kind, message) = if (300..400).contains(&status) {
                (
                    "redirect",
                    format!("HTTP {status}: redirects are not followed"),
                )
            } else {
                ("status", format!("HTTP {status}"))
            };
            outcome.error_kind = Some(kind);
            outcome.error_message = Some(message);
            let delay = match (status, retry_after) {
                (429 | 503, Some(asked)) => schedule.honour_retry_after(asked),
                _ => default_delay,
            };
            outcome.next = retry_at(delay).map_or(Next::Failed, Next::RetryAt);
        }
        CallResult::Error { kind, message, .. } => {
            outcome.error_kind = Some(kind);
            outcome.error_message = Some(message);
            outcome.next = retry_at(default_delay).map_or(Next::Failed, Next::RetryAt);
        }
    }
    outcome
}

fn duration_ms(r: &CallResult) -> i64 {
    match r {
        CallResult::Response { duration, .. } | CallResult::Error { duration, .. } => {
            duration.as_millis() as i64
        }
    }
}
