//! The dispatcher: claims due deliveries from the queue, sends them, records every attempt.
//!
//! * A pool of at most `workers` requests in flight, and at most `per_webhook` per webhook, so
//!   a slow or hanging endpoint holds only its own slots.
//! * Claims take a lease (the webhook's timeout plus a grace period): work held by a process
//!   that dies becomes due again when its lease ends.
//! * Outcomes are written by one recorder task, which batches whatever has accumulated into a
//!   single transaction.

mod attempt;
mod attempt_error;
mod resolver;
mod retry;

pub use attempt::{call, handle, prepare, CallResult, OpenedSecrets, Prepared, USER_AGENT};
pub use attempt_error::AttemptError;
pub use resolver::GuardedResolver;
pub use retry::{parse_duration, parse_retry_after, RetrySchedule, MAX_RETRY_DELAY};

use app::domain::TargetPolicy;
use app::domain::WebhookId;
use app::entities::now_ms;
use app::queue::{self, AttemptOutcome, AutoDisable, Job, Lease, Recorded, Wakeup, WriteGate};
use app::storage::{is_unavailable, StorageHealth};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// At least 1 (the settings refuse 0).
    pub workers: usize,
    /// At least 1 (the settings refuse 0).
    pub per_webhook: usize,
    /// Most deliveries claimed by one query.
    pub batch_size: u32,
    pub poll_interval: Duration,
    /// Added to the webhook's timeout to make the claim's lease.
    pub lease_grace: Duration,
    pub retry: RetrySchedule,
    /// Most bytes of a response body read and stored.
    pub max_response_bytes: usize,
    pub policy: TargetPolicy,
    /// `None`: webhooks are never paused automatically.
    pub auto_disable: Option<AutoDisable>,
    /// Opens the signing secrets sealed at rest.
    pub secrets: app::secrets::SecretBox,
}

impl DispatcherConfig {
    pub fn new(
        policy: TargetPolicy,
        retry: RetrySchedule,
        secrets: app::secrets::SecretBox,
    ) -> Self {
        use crate::config::defaults;
        DispatcherConfig {
            workers: defaults::WORKERS.get(),
            per_webhook: defaults::PER_WEBHOOK_CONCURRENCY.get(),
            batch_size: 128,
            poll_interval: Duration::from_millis(defaults::POLL_INTERVAL_MS),
            lease_grace: Duration::from_millis(defaults::LEASE_GRACE_MS),
            retry,
            max_response_bytes: 16 * 1024,
            policy,
            auto_disable: defaults::auto_disable(),
            secrets,
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    db: DatabaseConnection,
    gate: WriteGate,
    cfg: Arc<DispatcherConfig>,
    client: reqwest::Client,
    wakeup: Wakeup,
    /// Whether storage is failing; claims pause while it is.
    health: StorageHealth,
    permits: Arc<Semaphore>,
    /// Requests in flight per webhook.
    in_flight: Arc<Mutex<HashMap<WebhookId, usize>>>,
    /// The deliveries in flight and the claim tokens they are held under.
    held: Arc<Mutex<HashSet<Lease>>>,
    slot_freed: Arc<Notify>,
}

/// The HTTP client all deliveries share: pooled keep-alive connections (as many kept per host
/// as there are workers, so a busy receiver's connections are reused, not reopened), no
/// redirects, the guarded resolver, rustls, and no proxy: `HTTPS_PROXY` and friends in the
/// environment are ignored, since a proxy would get the unresolved host name and the guard
/// would never see the address actually connected to.
pub fn delivery_client(policy: TargetPolicy, workers: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .user_agent(USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(workers)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("the delivery HTTP client builds")
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        gate: WriteGate,
        wakeup: Wakeup,
        health: StorageHealth,
        cfg: DispatcherConfig,
    ) -> Self {
        Dispatcher {
            db,
            gate,
            health,
            client: delivery_client(cfg.policy, cfg.workers),
            permits: Arc::new(Semaphore::new(cfg.workers)),
            cfg: Arc::new(cfg),
            wakeup,
            in_flight: Arc::default(),
            held: Arc::default(),
            slot_freed: Arc::default(),
        }
    }

    /// Claims one batch of due deliveries, makes one attempt of each, records the outcomes,
    /// and returns how many it handled. Tests drive the dispatcher with this, step by step.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let jobs = self.claim(self.cfg.batch_size).await?;
        let n = jobs.len();
        let outcomes = futures::future::join_all(jobs.iter().map(|job| self.attempt(job))).await;
        Recording::new(&outcomes)
            .run(&self.db, &self.gate, self.cfg.auto_disable, &self.health)
            .await?;
        Ok(n)
    }

    /// Runs `run_once` until nothing is due (for tests; retries due later are left).
    pub async fn run_until_idle(&self) -> Result<usize, DbErr> {
        let mut total = 0;
        loop {
            match self.run_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    async fn claim(&self, limit: u32) -> Result<Vec<Job>, DbErr> {
        let room = {
            let map = self.in_flight.lock().expect("in-flight map poisoned");
            queue::Room {
                per_webhook: self.cfg.per_webhook as u32,
                busy: map
                    .iter()
                    .map(|(&id, &n)| (id, self.cfg.per_webhook.saturating_sub(n) as u32))
                    .collect(),
            }
        };
        let claimed = queue::claim_due(
            &self.db,
            &self.gate,
            now_ms(),
            limit,
            self.cfg.lease_grace.as_millis() as i64,
            &room,
        )
        .await
        .inspect_err(|e| self.health.observe_err(e))?;
        queue::load_jobs(&self.db, &claimed)
            .await
            .inspect_err(|e| self.health.observe_err(e))
    }

    /// One attempt, in its own tracing span, counted in the metrics.
    async fn attempt(&self, job: &Job) -> AttemptOutcome {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "attempt",
            delivery = %job.delivery_id,
            webhook = %job.webhook_id,
            number = job.attempt_count + 1,
        );
        let outcome = self.attempt_once(job).instrument(span.clone()).await;
        let m = crate::metrics::metrics();
        m.attempts
            .with_label_values(&[outcome.error_kind.map_or("success", |k| k.as_str())])
            .inc();
        m.attempt_duration
            .observe(f64::from(outcome.duration_ms) / 1000.0);
        match outcome.next {
            queue::Next::Succeeded => m.deliveries.with_label_values(&["succeeded"]).inc(),
            queue::Next::Failed => m.deliveries.with_label_values(&["failed"]).inc(),
            queue::Next::RetryAt(_) => {}
        }
        span.in_scope(|| {
            tracing::debug!(
                status = outcome.response_status,
                error = outcome.error_kind.map(|k| k.as_str()),
                duration_ms = outcome.duration_ms,
                "attempt finished"
            )
        });
        outcome
    }

    async fn attempt_once(&self, job: &Job) -> AttemptOutcome {
        let started_at = now_ms();
        // A secret that does not open blocks the attempt ("signing secret unusable") rather
        // than letting it go out unsigned.
        let secrets = OpenedSecrets::open(job, &self.cfg.secrets, started_at);
        let prepared = prepare(job, &secrets, self.cfg.policy, started_at);
        let result = call(&self.client, &prepared, self.cfg.max_response_bytes).await;
        handle(job, &prepared, result, &self.cfg.retry, started_at)
    }

    /// The dispatcher's life: claim what is due, send it, sleep until woken or until the next
    /// delivery is due (at most `poll_interval`). Stops claiming when `shutdown` turns true,
    /// waits up to `drain` for the requests in flight, and gives what is still in flight back
    /// to the queue.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        let (record_tx, record_rx) = mpsc::unbounded_channel();
        let mut recorder = tokio::spawn(record_loop(
            self.db.clone(),
            self.gate.clone(),
            record_rx,
            self.cfg.auto_disable,
            self.slot_freed.clone(),
            self.health.clone(),
        ));
        let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
        crate::metrics::metrics()
            .workers
            .set(self.cfg.workers as i64);
        loop {
            while tasks.try_join_next().is_some() {}
            if *shutdown.borrow() {
                break;
            }
            // While storage is failing nothing is claimed: what would be sent could not be
            // recorded. The storage probe (or the recorder) notices when it is back.
            if self.health.failing().is_some() {
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let free = self
                .permits
                .available_permits()
                .min(self.cfg.batch_size as usize) as u32;
            let jobs = if free == 0 {
                Vec::new()
            } else {
                match self.claim(free).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming deliveries failed");
                        tokio::select! {
                            _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                            _ = shutdown.changed() => {}
                        }
                        continue;
                    }
                }
            };
            self.health.claim_pass();
            crate::metrics::metrics()
                .last_claim_pass
                .set(now_ms() / 1000);
            if jobs.is_empty() {
                let wait = self.idle_wait(free == 0).await;
                tokio::select! {
                    _ = self.wakeup.wait() => {}
                    _ = self.slot_freed.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for job in jobs {
                let Ok(permit) = self.permits.clone().acquire_owned().await else {
                    break;
                };
                *self
                    .in_flight
                    .lock()
                    .expect("in-flight map poisoned")
                    .entry(job.webhook_id)
                    .or_default() += 1;
                self.held
                    .lock()
                    .expect("held map poisoned")
                    .insert(job.lease());
                let this = self.clone();
                let tx = record_tx.clone();
                crate::metrics::metrics().in_flight.inc();
                tasks.spawn(async move {
                    let outcome = this.attempt(&job).await;
                    crate::metrics::metrics().in_flight.dec();
                    // The slot stays taken until the outcome is written, so a process never
                    // holds more unrecorded deliveries than it has workers (the most a crash
                    // can make arrive twice).
                    let _ = tx.send((outcome, permit));
                    this.held
                        .lock()
                        .expect("held map poisoned")
                        .remove(&job.lease());
                    {
                        let mut map = this.in_flight.lock().expect("in-flight map poisoned");
                        if let Some(n) = map.get_mut(&job.webhook_id) {
                            *n -= 1;
                            if *n == 0 {
                                map.remove(&job.webhook_id);
                            }
                        }
                    }
                    // Its webhook has room again (the slot itself frees once recorded).
                    this.slot_freed.notify_one();
                });
            }
        }
        // Graceful stop: let the requests in flight finish, within `drain`…
        let deadline = tokio::time::Instant::now() + drain;
        let finished = tokio::time::timeout_at(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            // …and give the rest back to the queue for another worker (or the next start).
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            let held: Vec<Lease> = self
                .held
                .lock()
                .expect("held map poisoned")
                .drain()
                .collect();
            match queue::release(&self.db, &held).await {
                Ok(n) => tracing::warn!(
                    released = n,
                    "stopped with deliveries in flight; they are due again"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "could not release deliveries; their leases will expire")
                }
            }
        }
        // …and let the recorder write what has finished, within what is left of `drain` (at
        // least half a second). A write that cannot succeed (storage down) must not hold the
        // stop: its deliveries are sent again when their leases end (at least once).
        drop(record_tx);
        let last_call = deadline.max(tokio::time::Instant::now() + Duration::from_millis(500));
        if tokio::time::timeout_at(last_call, &mut recorder)
            .await
            .is_err()
        {
            recorder.abort();
            tracing::error!(
                "stopped before every finished attempt was recorded; those deliveries will be sent again"
            );
        }
    }

    /// How long to sleep when nothing was claimed.
    async fn idle_wait(&self, pool_full: bool) -> Duration {
        if pool_full {
            return self.cfg.poll_interval;
        }
        match queue::next_due_at(&self.db).await {
            Ok(Some(due)) => {
                let in_ms = (due - now_ms()).max(0) as u64;
                // Due now but not claimable (its webhook is at its cap): wait for a free slot.
                let in_ms = if in_ms == 0 {
                    self.cfg.poll_interval.as_millis() as u64
                } else {
                    in_ms
                };
                Duration::from_millis(in_ms).min(self.cfg.poll_interval)
            }
            Ok(None) => self.cfg.poll_interval,
            Err(e) => {
                tracing::error!(error = %e, "reading the queue failed");
                self.cfg.poll_interval
            }
        }
    }
}

/// Writes outcomes as they come, batching whatever has queued up meanwhile into one
/// transaction (see [`record_batch`]). If the process dies first, the leases expire and the
/// deliveries are tried again (at least once).
async fn record_loop(
    db: DatabaseConnection,
    gate: WriteGate,
    mut rx: mpsc::UnboundedReceiver<(AttemptOutcome, OwnedSemaphorePermit)>,
    rule: Option<AutoDisable>,
    slot_freed: Arc<Notify>,
    health: StorageHealth,
) {
    let mut batch = Vec::new();
    let mut slots = Vec::new();
    while let Some((first, slot)) = rx.recv().await {
        batch.push(first);
        slots.push(slot);
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok((o, slot)) => {
                    batch.push(o);
                    slots.push(slot);
                }
                Err(_) => break,
            }
        }
        // Storage faults are waited out, with growing pauses; the slots stay taken meanwhile,
        // so the dispatcher sends no more than it can record.
        let mut pause = Duration::from_millis(100);
        let mut recording = Recording::new(&batch);
        while let Err(e) = recording.run(&db, &gate, rule, &health).await {
            tracing::error!(error = %e, n = batch.len(), "recording attempts failed; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        batch.clear();
        slots.clear();
        slot_freed.notify_one();
    }
}

/// Records a batch of outcomes: fails only on a storage fault, and then keeps what is still
/// to be written, so that calling [`Recording::run`] again writes each outcome once.
///
/// A transaction that lost a race with another writer (a deadlock the database broke) is run
/// again as it is. Any other error (a constraint, a value the database refuses) splits the failing part in
/// halves that are recorded separately, so one bad outcome cannot hold up the others; an
/// outcome that fails alone is dropped with an error line (its delivery is sent again when its
/// lease ends).
pub struct Recording<'a> {
    parts: Vec<&'a [AttemptOutcome]>,
}

impl<'a> Recording<'a> {
    pub fn new(outcomes: &'a [AttemptOutcome]) -> Self {
        Recording {
            parts: vec![outcomes],
        }
    }

    pub async fn run(
        &mut self,
        db: &DatabaseConnection,
        gate: &WriteGate,
        rule: Option<AutoDisable>,
        health: &StorageHealth,
    ) -> Result<(), DbErr> {
        while let Some(part) = self.parts.pop() {
            if part.is_empty() {
                continue;
            }
            let recorded = app::storage::retry_conflicts("record attempts", || {
                queue::record_attempts(db, gate, part, rule)
            })
            .await;
            match recorded {
                Ok(recorded) => {
                    let taken = recorded
                        .iter()
                        .filter(|r| **r == Recorded::TakenOver)
                        .count();
                    if taken > 0 {
                        tracing::warn!(
                            n = taken,
                            "attempts finished after their lease was taken over"
                        );
                    }
                    let gone = recorded.iter().filter(|r| **r == Recorded::Gone).count();
                    if gone > 0 {
                        tracing::info!(
                            n = gone,
                            "attempts finished after their delivery was deleted; not recorded"
                        );
                    }
                }
                Err(e) if is_unavailable(&e) => {
                    health.failed(&e);
                    self.parts.push(part);
                    return Err(e);
                }
                Err(e) if part.len() > 1 => {
                    tracing::warn!(error = %e, n = part.len(), "recording a batch failed; splitting it");
                    let (a, b) = part.split_at(part.len() / 2);
                    self.parts.push(b);
                    self.parts.push(a);
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        delivery = %part[0].lease.delivery_id(),
                        "could not record an attempt; dropped (the delivery is sent again when its lease ends)"
                    );
                }
            }
        }
        Ok(())
    }
}
