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
use app::queue::{
    self, AttemptOutcome, AutoDisable, Handoff, Job, Lease, Recorded, Reservation, Wakeup,
    WriteGate,
};
use app::storage::{is_unavailable, StorageHealth};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Requests in flight per webhook (claimed, or reserved for a hand-off).
    in_flight: Arc<Mutex<InFlight>>,
    /// The deliveries in flight and the claim tokens they are held under.
    held: Arc<Mutex<HashSet<Lease>>>,
    slot_freed: Arc<Notify>,
    /// Jobs handed off by this process's publisher ([`Dispatcher::handoff`]), for the loop.
    handed: Arc<Handed>,
}

/// The requests in flight (or reserved) per webhook. A claim reads them for its room; a job it
/// claimed starts only if its webhook is still under the cap when it is launched (a hand-off
/// may have taken the room meanwhile), else it is given back to the queue.
type InFlight = HashMap<WebhookId, usize>;

/// The hand-off's side of the loop: whether the publisher may hand jobs over now, and the
/// channel they come through.
struct Handed {
    /// The last claim pass left nothing due behind, and the loop runs.
    open: AtomicBool,
    /// How many handed-off jobs this dispatcher has started.
    started: Arc<AtomicU64>,
    tx: mpsc::UnboundedSender<(Job, Reserved)>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<(Job, Reserved)>>>,
}

/// A worker slot and a place in the webhook's count, kept for a job not started yet.
struct Reserved {
    permit: OwnedSemaphorePermit,
    slot: WebhookSlot,
}

/// One request's place in its webhook's count of requests in flight: taken when its job is
/// claimed or reserved, given back when its attempt ends (or when it never starts).
struct WebhookSlot {
    id: WebhookId,
    in_flight: Arc<Mutex<InFlight>>,
    freed: Arc<Notify>,
}

impl WebhookSlot {
    /// A place if the webhook is under its cap.
    fn try_take(d: &Dispatcher, id: WebhookId) -> Option<WebhookSlot> {
        let mut map = d.in_flight.lock().expect("in-flight map poisoned");
        let n = map.entry(id).or_default();
        if *n >= d.cfg.per_webhook {
            return None;
        }
        *n += 1;
        Some(WebhookSlot {
            id,
            in_flight: d.in_flight.clone(),
            freed: d.slot_freed.clone(),
        })
    }
}

impl Drop for WebhookSlot {
    fn drop(&mut self) {
        {
            let mut map = self.in_flight.lock().expect("in-flight map poisoned");
            if let Some(n) = map.get_mut(&self.id) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.id);
                }
            }
        }
        // Its webhook has room again (the worker slot itself frees once recorded).
        self.freed.notify_one();
    }
}

/// The dispatcher as its process's publisher sees it (`app::queue::Dispatch`).
struct Port(Dispatcher);

impl Reserved {
    /// A worker slot and a place for a job of `webhook`, if both are free now.
    fn try_take(d: &Dispatcher, webhook: WebhookId) -> Option<Reserved> {
        let permit = d.permits.clone().try_acquire_owned().ok()?;
        let slot = WebhookSlot::try_take(d, webhook)?;
        Some(Reserved { permit, slot })
    }
}

impl queue::Dispatch for Port {
    fn reserve(&self, webhook: WebhookId) -> Option<Reservation> {
        let d = &self.0;
        if !d.handed.open.load(Ordering::Acquire) {
            return None;
        }
        Reserved::try_take(d, webhook).map(Reservation::new)
    }

    fn lease_grace_ms(&self) -> i64 {
        self.0.cfg.lease_grace.as_millis() as i64
    }

    fn start(&self, jobs: Vec<(Job, Reservation)>) {
        for (job, reservation) in jobs {
            let Ok(reserved) = reservation.into_inner().downcast::<Reserved>() else {
                continue;
            };
            // The loop has ended (a stop): the slot is given back, the lease runs out, and the
            // delivery is claimed again (by the next start or another process).
            let _ = self.0.handed.tx.send((job, *reserved));
        }
    }
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
        let (tx, rx) = mpsc::unbounded_channel();
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
            handed: Arc::new(Handed {
                open: AtomicBool::new(false),
                started: Arc::default(),
                tx,
                rx: Mutex::new(Some(rx)),
            }),
        }
    }

    /// What this process's publisher hands due deliveries to, while [`Dispatcher::run`] runs
    /// (`app::queue::lifecycle::handoff`).
    pub fn handoff(&self) -> Handoff {
        Handoff::new(Arc::new(Port(self.clone())))
    }

    /// How many handed-off jobs this dispatcher has started (also `skw_deliveries_handed_off_total`).
    pub fn handed_off(&self) -> Arc<AtomicU64> {
        self.handed.started.clone()
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

    /// Claims up to `limit` due deliveries, within each webhook's room as it is now.
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
    /// delivery is due (at most `poll_interval`); meanwhile start what this process's
    /// publisher hands over. A claim (a write) is made only when a read finds something due.
    /// Stops claiming when `shutdown` turns true, waits up to `drain` for the requests in
    /// flight, and gives what is still in flight back to the queue.
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
        let mut handed = self
            .handed
            .rx
            .lock()
            .expect("hand-off poisoned")
            .take()
            .expect("a dispatcher runs once");
        let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
        crate::metrics::metrics()
            .workers
            .set(self.cfg.workers as i64);
        loop {
            while tasks.try_join_next().is_some() {}
            while let Ok((job, r)) = handed.try_recv() {
                self.launch_handed(job, r, &mut tasks, &record_tx);
            }
            if *shutdown.borrow() {
                break;
            }
            // While storage is failing nothing is claimed: what would be sent could not be
            // recorded. The storage probe (or the recorder) notices when it is back.
            if self.health.failing().is_some() {
                self.handed.open.store(false, Ordering::Release);
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
            let (jobs, wait) = match self.pass(free).await {
                Ok(pass) => pass,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    self.handed.open.store(false, Ordering::Release);
                    tokio::select! {
                        _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            self.health.claim_pass();
            crate::metrics::metrics()
                .last_claim_pass
                .set(now_ms() / 1000);
            // Nothing due was left behind: the publisher may hand over what can start at once.
            self.handed
                .open
                .store(free > 0 && jobs.len() < free as usize, Ordering::Release);
            if jobs.is_empty() {
                let until = tokio::time::Instant::now() + wait;
                loop {
                    tokio::select! {
                        Some((job, r)) = handed.recv() => {
                            // Started, and the wait goes on: nothing new to claim.
                            self.launch_handed(job, r, &mut tasks, &record_tx);
                            continue;
                        }
                        _ = self.wakeup.wait() => {}
                        _ = self.slot_freed.notified() => {}
                        _ = tokio::time::sleep_until(until) => {}
                        _ = shutdown.changed() => {}
                    }
                    break;
                }
                continue;
            }
            // A hand-off may have taken a worker slot or a webhook's room since the claim read
            // them: what no longer fits goes back to the queue, due now.
            let mut no_room = Vec::new();
            for job in jobs {
                match Reserved::try_take(&self, job.webhook_id) {
                    Some(r) => self.launch(job, r.permit, r.slot, &mut tasks, &record_tx),
                    None => no_room.push(job.lease()),
                }
            }
            if !no_room.is_empty() {
                if let Err(e) = queue::release(&self.db, &no_room).await {
                    tracing::error!(error = %e, "could not give claimed deliveries back; their leases will expire");
                }
            }
        }
        // No more hand-offs; what was handed over but not started is given back below.
        self.handed.open.store(false, Ordering::Release);
        handed.close();
        let mut unstarted = Vec::new();
        while let Ok((job, _reserved)) = handed.try_recv() {
            unstarted.push(job.lease());
        }
        // Graceful stop: let the requests in flight finish, within `drain`…
        let deadline = tokio::time::Instant::now() + drain;
        let finished = tokio::time::timeout_at(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        let mut give_back = unstarted;
        if finished.is_err() {
            // …and give the rest back to the queue for another worker (or the next start).
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            give_back.extend(self.held.lock().expect("held map poisoned").drain());
        }
        if !give_back.is_empty() {
            match queue::release(&self.db, &give_back).await {
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

    /// One pass of the loop: a read of when the next delivery is due, and a claim of up to
    /// `free` when one is due now. Returns the claimed jobs, and how long to wait when there
    /// are none (until the next is due, at most `poll_interval`).
    async fn pass(&self, free: u32) -> Result<(Vec<Job>, Duration), DbErr> {
        let poll = self.cfg.poll_interval;
        if free == 0 {
            // The pool is full: a slot freeing wakes the loop.
            return Ok((Vec::new(), poll));
        }
        let (due, now) = queue::next_due(&self.db)
            .await
            .inspect_err(|e| self.health.observe_err(e))?;
        match due {
            None => return Ok((Vec::new(), poll)),
            Some(at) if at > now => {
                return Ok((
                    Vec::new(),
                    Duration::from_millis((at - now) as u64).min(poll),
                ))
            }
            Some(_) => {}
        }
        let jobs = self.claim(free).await?;
        // Due now but nothing claimable (its webhook at its cap, or an ordered delivery
        // waiting for the one before it): a slot freeing or a recorded outcome wakes the loop.
        Ok((jobs, poll))
    }

    fn launch_handed(
        &self,
        job: Job,
        r: Reserved,
        tasks: &mut tokio::task::JoinSet<()>,
        record_tx: &mpsc::UnboundedSender<(AttemptOutcome, OwnedSemaphorePermit)>,
    ) {
        self.handed.started.fetch_add(1, Ordering::Relaxed);
        crate::metrics::metrics().handed_off.inc();
        self.launch(job, r.permit, r.slot, tasks, record_tx);
    }

    /// Starts one attempt (a claimed job or a handed-off one), holding its worker slot until
    /// its outcome is recorded and its place in its webhook's count until it ends.
    fn launch(
        &self,
        job: Job,
        permit: OwnedSemaphorePermit,
        slot: WebhookSlot,
        tasks: &mut tokio::task::JoinSet<()>,
        record_tx: &mpsc::UnboundedSender<(AttemptOutcome, OwnedSemaphorePermit)>,
    ) {
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
            // The slot stays taken until the outcome is written, so a process never holds more
            // unrecorded deliveries than it has workers (the most a crash can make arrive
            // twice).
            let _ = tx.send((outcome, permit));
            this.held
                .lock()
                .expect("held map poisoned")
                .remove(&job.lease());
            drop(slot);
        });
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
