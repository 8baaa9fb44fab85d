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
    /// How many claim passes the loop has made (each reads or writes the queue).
    passes: Arc<AtomicU64>,
    /// Jobs handed off by this process's publisher ([`Dispatcher::handoff`]), for the loop.
    handed: Arc<Handed>,
}

/// The requests in flight (or reserved) per webhook, and whether a claim is under way: from
/// the moment it reads them for its room (inside the write gate on SQLite) until its jobs are
/// launched, no hand-off is reserved, so the claim's room and the reservations never add up
/// past a webhook's cap.
#[derive(Debug, Default)]
struct InFlight {
    per_webhook: HashMap<WebhookId, usize>,
    claiming: bool,
}

/// What one claim pass found: the jobs it claimed, how long the loop may sleep when there are
/// none, and whether something due now waits for room (a worker slot, its webhook's cap, the
/// delivery before it in order) — only then does a slot freeing wake the loop.
struct Pass {
    jobs: Vec<Job>,
    wait: Duration,
    blocked: bool,
}

impl Pass {
    /// Nothing due before `wait`.
    fn idle(wait: Duration) -> Pass {
        Pass {
            jobs: Vec::new(),
            wait,
            blocked: false,
        }
    }

    /// What a claim took of what is due now; none (or a full pool, where no claim is made):
    /// what is due waits for room.
    fn claimed(jobs: Vec<Job>, poll: Duration) -> Pass {
        Pass {
            blocked: jobs.is_empty(),
            jobs,
            wait: poll,
        }
    }
}

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
    /// A place for a claimed job (its room was counted by the claim).
    fn take(d: &Dispatcher, id: WebhookId) -> WebhookSlot {
        *d.in_flight
            .lock()
            .expect("in-flight map poisoned")
            .per_webhook
            .entry(id)
            .or_default() += 1;
        WebhookSlot {
            id,
            in_flight: d.in_flight.clone(),
            freed: d.slot_freed.clone(),
        }
    }

    /// A place for a hand-off, if the webhook is under its cap and no claim is under way.
    fn try_take(d: &Dispatcher, id: WebhookId) -> Option<WebhookSlot> {
        let mut map = d.in_flight.lock().expect("in-flight map poisoned");
        if map.claiming {
            return None;
        }
        let n = map.per_webhook.entry(id).or_default();
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
            if let Some(n) = map.per_webhook.get_mut(&self.id) {
                *n -= 1;
                if *n == 0 {
                    map.per_webhook.remove(&self.id);
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
    /// A place for a job of `webhook` and a worker slot, if both are free now.
    fn try_take(d: &Dispatcher, webhook: WebhookId) -> Option<Reserved> {
        let slot = WebhookSlot::try_take(d, webhook)?;
        let permit = d.permits.clone().try_acquire_owned().ok()?;
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
            passes: Arc::default(),
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

    /// How many claim passes the loop has made (also `skw_dispatcher_claim_passes_total`).
    pub fn passes(&self) -> Arc<AtomicU64> {
        self.passes.clone()
    }

    /// Claims one batch of due deliveries, makes one attempt of each, records the outcomes,
    /// and returns how many it handled. Tests drive the dispatcher with this, step by step.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let jobs = self.claim(self.cfg.batch_size).await?;
        self.claimed();
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

    /// Claims up to `limit` due deliveries, within each webhook's room. From the moment the
    /// room is read until the claimed jobs are launched ([`Dispatcher::claimed`]), no hand-off
    /// is reserved.
    async fn claim(&self, limit: u32) -> Result<Vec<Job>, DbErr> {
        let room = || {
            let mut map = self.in_flight.lock().expect("in-flight map poisoned");
            map.claiming = true;
            queue::Room {
                per_webhook: self.cfg.per_webhook as u32,
                busy: map
                    .per_webhook
                    .iter()
                    .map(|(&id, &n)| (id, self.cfg.per_webhook.saturating_sub(n) as u32))
                    .collect(),
            }
        };
        let jobs = self.claim_within(limit, room).await;
        // Nothing to launch: hand-offs may be reserved again at once.
        if jobs.as_ref().map_or(true, Vec::is_empty) {
            self.claimed();
        }
        jobs
    }

    /// The claimed jobs have their places in the counts: hand-offs may be reserved again.
    fn claimed(&self) {
        self.in_flight
            .lock()
            .expect("in-flight map poisoned")
            .claiming = false;
    }

    async fn claim_within(
        &self,
        limit: u32,
        room: impl FnOnce() -> queue::Room,
    ) -> Result<Vec<Job>, DbErr> {
        let claimed = queue::claim_due_within(
            &self.db,
            &self.gate,
            now_ms(),
            limit,
            self.cfg.lease_grace.as_millis() as i64,
            room,
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
            self.wakeup.clone(),
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
        // The last pass claimed something (more is likely due).
        let mut busy = true;
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
            let pass = self.pass(free, busy);
            let Pass {
                jobs,
                wait,
                blocked,
            } = match self
                .launching(pass, &mut handed, &mut tasks, &record_tx)
                .await
            {
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
            busy = !jobs.is_empty();
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
                        // Only what waits for room is helped by a slot freeing; otherwise a
                        // finished delivery would cost a pass (a query) each.
                        _ = self.slot_freed.notified(), if blocked => {}
                        _ = tokio::time::sleep_until(until) => {}
                        _ = shutdown.changed() => {}
                    }
                    break;
                }
                continue;
            }
            for job in jobs {
                // Slots reserved for hand-offs after `free` was read may be all there are: they
                // come back only once those jobs have started and ended, so they start meanwhile.
                let acquire = self.permits.clone().acquire_owned();
                let Ok(permit) = self
                    .launching(acquire, &mut handed, &mut tasks, &record_tx)
                    .await
                else {
                    break;
                };
                let slot = WebhookSlot::take(&self, job.webhook_id);
                self.launch(job, permit, slot, &mut tasks, &record_tx);
            }
            self.claimed();
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

    /// One pass of the loop: a claim of up to `free` due deliveries. After a pass that claimed
    /// some (`busy`), more are likely due and the claim comes at once; otherwise a read first
    /// finds whether anything is due, since a claim is a write and an idle queue — or one whose
    /// new work was handed off — needs none. Returns the claimed jobs, and how long to wait
    /// when there are none (until the next is due, at most `poll_interval`).
    async fn pass(&self, free: u32, busy: bool) -> Result<Pass, DbErr> {
        self.passes.fetch_add(1, Ordering::Relaxed);
        crate::metrics::metrics().claim_passes.inc();
        let poll = self.cfg.poll_interval;
        if free == 0 {
            // The pool is full: a slot freeing wakes the loop.
            return Ok(Pass::claimed(Vec::new(), poll));
        }
        if !busy {
            if let Some(wait) = self.not_due_for().await? {
                return Ok(Pass::idle(wait));
            }
        }
        let jobs = self.claim(free).await?;
        if jobs.is_empty() && busy {
            if let Some(wait) = self.not_due_for().await? {
                return Ok(Pass::idle(wait));
            }
        }
        // Due now but nothing claimable (its webhook at its cap, or an ordered delivery
        // waiting for the one before it): a slot freeing or a recorded outcome wakes the loop.
        Ok(Pass::claimed(jobs, poll))
    }

    /// Awaits `work` (the loop's own query, or a worker slot) while starting the jobs the
    /// publisher hands over meanwhile: a hand-off never waits for the loop's round trips, and
    /// its reserved slot is never what the loop itself is waiting for.
    async fn launching<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        handed: &mut mpsc::UnboundedReceiver<(Job, Reserved)>,
        tasks: &mut tokio::task::JoinSet<()>,
        record_tx: &mpsc::UnboundedSender<(AttemptOutcome, OwnedSemaphorePermit)>,
    ) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                Some((job, r)) = handed.recv() => self.launch_handed(job, r, tasks, record_tx),
            }
        }
    }

    /// How long until the next pending delivery is due (at most `poll_interval`; that long
    /// when none is pending), or `None` when one is due now.
    async fn not_due_for(&self) -> Result<Option<Duration>, DbErr> {
        let (due, now) = queue::next_due(&self.db)
            .await
            .inspect_err(|e| self.health.observe_err(e))?;
        Ok(match due {
            None => Some(self.cfg.poll_interval),
            Some(at) if at > now => {
                Some(Duration::from_millis((at - now) as u64).min(self.cfg.poll_interval))
            }
            Some(_) => None,
        })
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
        // Finished tasks are let go here, not only at the top of the loop, which a steady
        // stream of hand-offs may not reach for a whole poll interval: what the set keeps is
        // bounded by the workers, not by the traffic.
        while tasks.try_join_next().is_some() {}
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
    wakeup: Wakeup,
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
        // A retry due before the loop's next look: the loop looks again (it no longer looks
        // after every finished delivery).
        if batch
            .iter()
            .any(|o| matches!(o.next, queue::Next::RetryAt(_)))
        {
            wakeup.notify();
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
