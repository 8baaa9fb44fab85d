//! The alert loop of a dispatching process: sends what the outbox of `alert_incidents` holds
//! (`app::alerts::outbox`) — the alert webhook's deliveries are queued into the ordinary
//! delivery queue (the dispatcher signs and sends them), the e-mails go over SMTP.
//!
//! It runs apart from the dispatcher, so a slow or failing SMTP server never holds up a
//! delivery; e-mails are sent a few at a time, each bounded by [`mail::SMTP_TIMEOUT`], so one
//! account's failing e-mail (a refused recipient) holds up no other; a failed e-mail is tried
//! again after a growing pause (`backoff`, doubling, at most an hour) and given up after
//! [`outbox::MAIL_MAX_ATTEMPTS`]; database errors (a full disk, a database gone) are logged
//! and the pass is tried again later — what is due stays due.

pub mod mail;

use app::alerts::outbox::{self, AlertText, MailJob};
use app::entities::now_ms;
use app::queue::Wakeup;
use futures::StreamExt;
use lettre::message::Mailbox;
use sea_orm::{DatabaseConnection, DbErr};
use std::time::Duration;
use tokio::sync::watch;

use crate::config::ServeArgs;

/// E-mails in flight at once.
const MAIL_CONCURRENCY: usize = 4;
/// Rows taken per pass.
const BATCH: u64 = 32;

/// Where alert e-mails go out.
#[derive(Clone)]
pub struct MailSettings {
    pub transport: mail::Transport,
    pub from: Mailbox,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct AlertsConfig {
    /// `None`: no SMTP server configured, no e-mail (the pages and alert webhooks only).
    pub mail: Option<MailSettings>,
    /// Where the e-mail's link points.
    pub public_url: String,
    /// How often the outbox is looked at.
    pub poll_interval: Duration,
    /// The pause after an e-mail's first failure; it doubles with each failure (at most an
    /// hour).
    pub backoff: Duration,
}

impl AlertsConfig {
    /// From the settings: an SMTP URL needs a sender.
    pub fn from_args(args: &ServeArgs) -> Result<AlertsConfig, String> {
        let mail = match (&args.smtp_url, &args.mail_from) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(
                    "the setting `smtp_url` (--smtp-url, SKW_SMTP_URL) needs `mail_from` (--mail-from, SKW_MAIL_FROM)".into(),
                )
            }
            (Some(url), Some(from)) => Some(MailSettings {
                transport: mail::transport(url.expose())
                    .map_err(|e| format!("invalid value for the setting `smtp_url`: {e}"))?
                    .build(),
                from: mail::mailbox(from)?,
            }),
        };
        Ok(AlertsConfig {
            mail,
            public_url: args.public_url.clone(),
            poll_interval: Duration::from_secs(1),
            backoff: Duration::from_secs(30),
        })
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub hooks_queued: usize,
    pub mails_sent: usize,
    pub mails_failed: usize,
}

#[derive(Clone)]
pub struct Alerts {
    db: DatabaseConnection,
    wakeup: Wakeup,
    cfg: AlertsConfig,
}

const MAX_BACKOFF: Duration = Duration::from_secs(3600);

impl Alerts {
    pub fn new(db: DatabaseConnection, wakeup: Wakeup, cfg: AlertsConfig) -> Alerts {
        Alerts { db, wakeup, cfg }
    }

    /// One pass over what is due: queue the alert webhooks' deliveries, send the e-mails.
    /// Tests drive the loop with this.
    pub async fn run_once(&self) -> Result<Pass, DbErr> {
        let now = now_ms();
        let mut pass = Pass {
            hooks_queued: outbox::queue_hooks(&self.db, now, BATCH).await?,
            ..Pass::default()
        };
        if pass.hooks_queued > 0 {
            self.wakeup.notify();
        }
        let Some(mail) = &self.cfg.mail else {
            outbox::skip_mails(&self.db, now, "no SMTP server is configured").await?;
            return Ok(pass);
        };
        let jobs = outbox::claim_mails(&self.db, now, BATCH).await?;
        let results: Vec<(MailJob, Result<(), mail::MailError>)> =
            futures::stream::iter(jobs.into_iter().map(|job| async move {
                let text = AlertText::of(&job.incident, &self.cfg.public_url);
                let sent = mail::send(&mail.transport, &mail.from, &job.recipients, &text).await;
                (job, sent)
            }))
            .buffer_unordered(MAIL_CONCURRENCY)
            .collect()
            .await;
        for (job, sent) in results {
            let id = job.incident.id;
            match sent {
                Ok(()) => {
                    pass.mails_sent += 1;
                    outbox::mail_sent(&self.db, id, now_ms()).await?;
                }
                Err(e) => {
                    pass.mails_failed += 1;
                    let attempts = job.incident.mail_attempts + 1;
                    let retry_at = (attempts < outbox::MAIL_MAX_ATTEMPTS).then(|| {
                        let pause = self
                            .cfg
                            .backoff
                            .saturating_mul(1 << (attempts - 1).min(16))
                            .min(MAX_BACKOFF);
                        now_ms() + pause.as_millis() as i64
                    });
                    tracing::warn!(
                        incident = %id,
                        account_id = %job.incident.account_id,
                        attempts,
                        error = %e,
                        given_up = retry_at.is_none(),
                        "an alert e-mail could not be sent"
                    );
                    outbox::mail_failed(&self.db, id, attempts, &e.to_string(), retry_at).await?;
                }
            }
        }
        Ok(pass)
    }

    /// Runs passes every `poll_interval` until `stopping` turns true; a pass that fails on the
    /// database is logged and followed by growing pauses (at most 30 s).
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let mut pause = self.cfg.poll_interval;
        while !*stopping.borrow() {
            match self.run_once().await {
                Ok(_) => pause = self.cfg.poll_interval,
                Err(e) => {
                    tracing::error!(error = %e, "the alert outbox could not be read or written; trying again");
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
        }
    }
}
