//! Hand-off in process: publish → in flight, with no claim.
//!
//! A delivery published by a process that also dispatches, due now, is written already leased
//! to that process's dispatcher — in the publishing transaction, with the lease a claim would
//! give it — and handed to a worker straight after the commit with everything its request
//! needs, so neither a claim nor a load query stands between the `202` and the POST. The
//! database stays the source of truth: if the process dies after the commit, the lease runs
//! out and any process claims the delivery, as after any crash.
//!
//! Only what the dispatcher can start at once is handed off ([`Dispatch::reserve`]: a worker
//! slot is free, the webhook is under its cap, and the last claim pass left nothing due
//! behind, so a fresh event never overtakes a backlog). The rest — a full pool, a webhook at
//! its cap, an ordered webhook's keyed delivery (its order is the claim's to keep), a held or
//! scheduled delivery — is written waiting, as before, and claimed.

use std::any::Any;
use std::sync::Arc;

use super::Job;
use crate::domain::{DeliveryId, WebhookId};
use crate::entities::webhook;

/// A worker slot kept for one delivery until its job is started; given back when dropped
/// unstarted (the publishing transaction failed). Opaque here: the dispatcher's own guard.
pub struct Reservation(Box<dyn Any + Send>);

impl Reservation {
    pub fn new<T: Send + 'static>(guard: T) -> Reservation {
        Reservation(Box::new(guard))
    }

    /// The dispatcher's guard back.
    pub fn into_inner(self) -> Box<dyn Any + Send> {
        self.0
    }
}

/// What a dispatcher offers the publisher of its own process.
pub trait Dispatch: Send + Sync {
    /// A slot for a delivery of `webhook` due now, if the dispatcher can start it at once.
    fn reserve(&self, webhook: WebhookId) -> Option<Reservation>;
    /// The grace added to a webhook's timeout to make a lease (as the claims make it).
    fn lease_grace_ms(&self) -> i64;
    /// Starts the attempts of jobs whose leased rows are committed.
    fn start(&self, jobs: Vec<(Job, Reservation)>);
}

/// The dispatcher of this process, as its publisher sees it (`None` where it does not
/// dispatch: a web-only process).
#[derive(Clone)]
pub struct Handoff(Arc<dyn Dispatch>);

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handoff")
    }
}

impl Handoff {
    pub fn new(dispatch: Arc<dyn Dispatch>) -> Handoff {
        Handoff(dispatch)
    }

    pub fn reserve(&self, webhook: WebhookId) -> Option<Reservation> {
        self.0.reserve(webhook)
    }

    /// When the lease of a delivery of `hook` handed off at `now` ends: the webhook's
    /// timeout plus the grace, as [`super::claim_due`] computes it in SQL.
    pub fn lease_until(&self, now: i64, hook: &webhook::Model) -> i64 {
        now + self.0.lease_grace_ms() + 1000 * i64::from(hook.timeout_secs)
    }

    pub fn start(&self, jobs: Vec<(Job, Reservation)>) {
        if !jobs.is_empty() {
            self.0.start(jobs);
        }
    }
}

/// A new lease token (one per publishing transaction).
pub fn new_token() -> i64 {
    super::claim::random_token()
}

/// What a handed-off delivery's attempt needs, from the rows its publish wrote: the same
/// fields [`super::load_jobs`] reads from the database.
pub struct Handed<'a> {
    pub delivery_id: DeliveryId,
    pub token: i64,
    pub event_type: &'a str,
    /// The event's body, shared by its jobs.
    pub body: &'a Arc<str>,
    pub event_created_at: i64,
    pub key: Option<&'a str>,
    pub sequence: Option<i64>,
    pub webhook: &'a webhook::Model,
}

impl Handed<'_> {
    pub fn job(&self) -> Job {
        let w = self.webhook;
        let template = w.format == "template";
        Job {
            delivery_id: self.delivery_id,
            lease_token: self.token,
            attempt_count: 0,
            webhook_id: w.id,
            event_type: self.event_type.to_string(),
            body: self.body.clone(),
            event_created_at: self.event_created_at,
            url: w.url.clone(),
            secret: w.secret.clone(),
            previous_secret: w.previous_secret.clone(),
            previous_secret_expires_at: w.previous_secret_expires_at,
            timeout_secs: w.timeout_secs,
            retry_attempts: w.retry_attempts,
            manual: false,
            key: self.key.map(str::to_string),
            sequence: self.sequence,
            replay: false,
            format: w.format.clone(),
            headers: w.headers.clone(),
            template: template.then(|| w.template.clone()).flatten(),
            content_type: template.then(|| w.content_type.clone()).flatten(),
        }
    }
}
