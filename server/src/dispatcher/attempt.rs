//! One attempt of one delivery, as typed stages: [`prepare`] (the exact request, signed),
//! [`call`] (send it, bounded in time and in bytes read), [`handle`] (what the answer means for
//! the delivery: done, retry when, or failed).

use app::domain::outgoing::{self, BodyShape, Envelope};
use app::domain::{SigningSecret, TargetPolicy, WebhookUrl};
use app::queue::{AttemptOutcome, AttemptTrigger, Job, Next};
use app::secrets::SecretBox;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Host;

use super::attempt_error::AttemptError;
use super::retry::{parse_retry_after, RetrySchedule};

pub use app::domain::outgoing::USER_AGENT;

/// A request ready to send.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    /// The webhook's custom headers, opened (recorded in the log as `***`).
    pub custom_headers: Vec<(String, String)>,
    /// Shared with the job (a standard webhook's body is the stored event, not a copy).
    pub body: Arc<str>,
    /// The body is the webhook format's rendering, not the stored event (the log keeps it).
    pub formatted: bool,
    pub timeout: Duration,
    /// 1 for the delivery's first attempt.
    pub number: i32,
    /// Set when the target is refused before any connection (SSRF guard).
    pub blocked: Option<String>,
}

/// A job's signing secrets, opened: what signs its request. The job itself keeps the sealed
/// text it was loaded with; the opened secrets live only here, for one attempt.
#[derive(Clone, Debug)]
pub struct OpenedSecrets {
    /// The current secret, or why it cannot sign (it does not open with this key, or it is
    /// not a signing secret): the attempt is then blocked rather than sent unsigned.
    current: Result<SigningSecret, String>,
    /// The previous secret, while a rotation's overlap lasts.
    previous: Option<SigningSecret>,
    /// The custom headers, opened, or why they cannot be (the attempt is then blocked rather
    /// than sent without them).
    custom: Result<Vec<(String, String)>, String>,
}

impl OpenedSecrets {
    pub fn open(job: &Job, secrets: &SecretBox, now_ms: i64) -> OpenedSecrets {
        let current = secrets
            .open(&job.secret)
            .map_err(|e| e.to_string())
            .and_then(|plain| SigningSecret::parse(&plain));
        let previous = secrets.open_previous_secret(
            job.previous_secret.as_deref(),
            job.previous_secret_expires_at,
            now_ms,
        );
        let custom = app::entities::webhook::stored_headers(job.headers.as_deref())
            .into_iter()
            .map(|(name, sealed)| {
                secrets
                    .open(&sealed)
                    .map(|value| (name.clone(), value))
                    .map_err(|e| format!("the custom header {name} does not open: {e}"))
            })
            .collect();
        OpenedSecrets {
            current,
            previous,
            custom,
        }
    }
}

/// Builds the exact request (`app::domain::outgoing`, which the edit page's preview shows too),
/// with the webhook's custom headers and the target checked again.
pub fn prepare(job: &Job, secrets: &OpenedSecrets, policy: TargetPolicy, now_ms: i64) -> Prepared {
    let delivery_id = job.delivery_id.to_string();
    let shape = BodyShape::stored(
        &job.format,
        job.template.as_deref(),
        job.content_type.as_deref(),
    );
    let out = outgoing::build(
        &shape,
        &Envelope {
            delivery_id: &delivery_id,
            event_type: &job.event_type,
            stored_body: &job.body,
            key: job.key.as_deref().zip(job.sequence),
            timestamp: now_ms / 1000,
        },
        secrets.current.as_ref().map_err(String::as_str),
        secrets.previous.as_ref(),
    );
    let mut blocked = out.refused;
    let custom_headers = match &secrets.custom {
        Ok(h) => h.clone(),
        Err(e) => {
            blocked.get_or_insert_with(|| e.clone());
            Vec::new()
        }
    };
    if blocked.is_none() {
        blocked = check_target(&job.url, policy).err();
    }
    Prepared {
        url: job.url.clone(),
        headers: out.headers,
        custom_headers,
        formatted: out.formatted,
        body: out.body,
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

/// A request body that is the prepared body itself: sending it copies nothing.
struct SharedBody(Arc<str>);

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
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
        error: AttemptError,
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
            error: AttemptError::Blocked(reason.clone()),
            duration: started.elapsed(),
        };
    }
    let body = bytes::Bytes::from_owner(SharedBody(p.body.clone()));
    let mut req = client.post(&p.url).timeout(p.timeout).body(body);
    for (name, value) in &p.headers {
        req = req.header(*name, value);
    }
    for (name, value) in &p.custom_headers {
        req = req.header(name.as_str(), value.as_str());
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
            error: AttemptError::timed_out(p.timeout),
            duration: started.elapsed(),
        },
        Ok(Err(e)) => CallResult::Error {
            error: AttemptError::from_reqwest(&e),
            duration: started.elapsed(),
        },
        Ok(Ok((status, headers, body, retry_after))) => CallResult::Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            retry_after,
            duration: started.elapsed(),
        },
    }
}

/// Decides what the attempt means and builds its record.
pub fn handle(
    job: &Job,
    p: &Prepared,
    result: CallResult,
    schedule: &RetrySchedule,
    started_at_ms: i64,
) -> AttemptOutcome {
    // Custom header values are secrets: the log keeps their names only.
    let mask = || serde_json::Value::String(app::domain::custom_headers::MASK.to_string());
    let request_headers = serde_json::to_string(
        &p.headers
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .chain(
                p.custom_headers
                    .iter()
                    .map(|(k, _)| (k.to_ascii_lowercase(), mask())),
            )
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
        trigger: if job.manual && job.replay {
            AttemptTrigger::Replay
        } else if job.manual {
            AttemptTrigger::Manual
        } else {
            AttemptTrigger::Auto
        },
        started_at: started_at_ms,
        duration_ms: took_ms as i32,
        request_headers,
        request_body: p.formatted.then(|| p.body.to_string()),
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
            let Some(error) = AttemptError::from_status(status) else {
                outcome.next = Next::Succeeded;
                return outcome;
            };
            let delay = match (status, retry_after) {
                (429 | 503, Some(asked)) => schedule.honour_retry_after(asked),
                _ => default_delay,
            };
            fail(&mut outcome, error, retry_at(delay));
        }
        CallResult::Error { error, .. } => fail(&mut outcome, error, retry_at(default_delay)),
    }
    outcome
}

/// Records the failure, and the next try if there is one and the error is worth one.
fn fail(outcome: &mut AttemptOutcome, error: AttemptError, retry_at: Option<i64>) {
    outcome.next = match retry_at {
        Some(at) if error.is_retryable() => Next::RetryAt(at),
        _ => Next::Failed,
    };
    outcome.error_kind = Some(error.kind());
    outcome.error_message = Some(error.message());
}

fn duration_ms(r: &CallResult) -> i64 {
    match r {
        CallResult::Response { duration, .. } | CallResult::Error { duration, .. } => {
            duration.as_millis() as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::signing::seed_signature;

    fn job(secret: String, previous: Option<String>, previous_until: i64) -> Job {
        Job {
            delivery_id: app::domain::DeliveryId(uuid::Uuid::now_v7()),
            lease_token: 1,
            attempt_count: 0,
            webhook_id: app::domain::WebhookId(1),
            event_type: "booking.created".into(),
            body: "{}".into(),
            event_created_at: 0,
            url: "http://127.0.0.1:9/hook".into(),
            secret,
            previous_secret: previous,
            previous_secret_expires_at: Some(previous_until),
            timeout_secs: 5,
            retry_attempts: 0,
            manual: false,
            key: None,
            sequence: None,
            replay: false,
            format: "standard".into(),
            headers: None,
            template: None,
            content_type: None,
        }
    }

    fn header<'a>(p: &'a Prepared, name: &str) -> Option<&'a str> {
        p.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_opened_secrets_sign_and_the_job_keeps_the_sealed_ones() {
        let key = SecretBox::from_key(&SecretBox::random_key());
        let (current, previous) = (SigningSecret::generate(), SigningSecret::generate());
        let job = job(
            key.seal(current.expose()),
            Some(key.seal(previous.expose())),
            2_000,
        );
        let sealed = (job.secret.clone(), job.previous_secret.clone());
        let opened = OpenedSecrets::open(&job, &key, 1_000);
        let p = prepare(&job, &opened, TargetPolicy::INSECURE, 1_000);
        assert_eq!(p.blocked, None);
        assert_eq!(
            header(&p, "x-webhook-signature"),
            Some(seed_signature(&current, b"{}").as_str())
        );
        assert_eq!(
            header(&p, "x-webhook-signature-previous"),
            Some(seed_signature(&previous, b"{}").as_str())
        );
        assert_eq!((job.secret.clone(), job.previous_secret.clone()), sealed);
        assert!(job.secret.starts_with("enc:v1:"));
        // Nothing of the opened secrets shows in a debug print.
        let printed = format!("{opened:?}");
        assert!(!printed.contains(current.expose()), "{printed}");
        assert!(!printed.contains(previous.expose()), "{printed}");

        // After the overlap only the current secret signs.
        let later = OpenedSecrets::open(&job, &key, 2_000);
        let p = prepare(&job, &later, TargetPolicy::INSECURE, 2_000);
        assert_eq!(header(&p, "x-webhook-signature-previous"), None);
    }

    #[test]
    fn a_secret_that_does_not_open_blocks_the_attempt_and_says_why() {
        let sealed_elsewhere =
            SecretBox::from_key(&SecretBox::random_key()).seal(SigningSecret::generate().expose());
        let job = job(sealed_elsewhere, None, 0);
        let key = SecretBox::from_key(&SecretBox::random_key());
        let p = prepare(
            &job,
            &OpenedSecrets::open(&job, &key, 0),
            TargetPolicy::INSECURE,
            0,
        );
        let reason = p.blocked.clone().expect("blocked, not sent unsigned");
        assert!(reason.contains("does not open with this key"), "{reason}");
        assert_eq!(header(&p, "x-webhook-signature"), None);
    }
}
