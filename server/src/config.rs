//! Command line and environment: every setting has a flag, an `SKW_*` (or conventional)
//! environment variable, and a default. Flags win over the environment.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::dispatcher::RetrySchedule;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/schedulingkit-webhooks.db";

#[derive(Debug, Parser)]
#[command(
    name = "schedulingkit-webhooks",
    version,
    about = "SchedulingKit webhooks: the settings pages, the ingest API and the dispatcher."
)]
pub struct Cli {
    /// Database: `sqlite://path/to/file.db` (created if missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Database connections in the pool (default: 4 for SQLite, 32 for PostgreSQL).
    #[arg(long, env = "SKW_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<u32>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API, and run the dispatcher (the default).
    Serve(Box<ServeArgs>),
    /// Run the database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; the password is read from standard input (one line).
    Create {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for the account of this e-mail and print it.
    Create {
        /// The e-mail of a user of the account.
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "CLI")]
        name: String,
    },
}

/// What a `serve` process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Pages, API and dispatcher.
    All,
    /// Pages and API only.
    Web,
    /// Dispatcher only.
    Worker,
}

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SKW_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where the built site (the `pkg/` bundle) is.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// The URL users reach this server at; `https://…` makes the session cookie `Secure`.
    #[arg(long, env = "SKW_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,

    /// Allow `http://` webhook URLs and loopback targets (development and tests only).
    #[arg(long, env = "SKW_ALLOW_INSECURE_TARGETS", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub allow_insecure_targets: bool,

    /// Resolve a webhook's host when it is saved and refuse names of private addresses at once
    /// (sends are checked in any case).
    #[arg(long, env = "SKW_RESOLVE_ON_SAVE", value_parser = clap::builder::BoolishValueParser::new(), default_value = "true", action = clap::ArgAction::Set)]
    pub resolve_on_save: bool,

    /// The key that seals signing secrets at rest: base64 of 32 random bytes. Without it the
    /// key is read from `--secret-key-file`, which is created on first run.
    #[arg(long, env = "SKW_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Where the generated encryption key lives when `SKW_SECRET_KEY` is not set. Back it up:
    /// without it the stored signing secrets cannot be read.
    #[arg(long, env = "SKW_SECRET_KEY_FILE", default_value = "data/secret.key")]
    pub secret_key_file: PathBuf,

    /// What this process runs.
    #[arg(long, env = "SKW_ROLE", value_enum, default_value = "all")]
    pub role: Role,

    /// Most requests in flight at once (the dispatcher's worker pool).
    #[arg(long, env = "SKW_WORKERS", default_value_t = 512)]
    pub workers: usize,

    /// Most requests in flight at once to one webhook, so one slow endpoint cannot take the pool.
    #[arg(long, env = "SKW_PER_WEBHOOK_CONCURRENCY", default_value_t = 32)]
    pub per_webhook_concurrency: usize,

    /// Delays before retry 1, 2, …: durations like `5s`, `2m`, `1h`; the last one repeats.
    /// Each delay gets ±20% jitter.
    #[arg(long, env = "SKW_RETRY_SCHEDULE", default_value = "5s,30s,2m,10m,30m,1h,2h,4h,8h,16h", value_parser = RetrySchedule::parse)]
    pub retry_schedule: RetrySchedule,

    /// How long the dispatcher sleeps when idle before looking again (it is woken at once
    /// by new events of this process).
    #[arg(long, env = "SKW_POLL_INTERVAL_MS", default_value_t = 1000)]
    pub poll_interval_ms: u64,

    /// On SIGTERM or Ctrl-C: how long requests and deliveries in flight may take to finish.
    /// Deliveries still in flight after that are taken up again when their lease ends.
    #[arg(long, env = "SKW_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// Pause a webhook automatically when every delivery has failed for this long…
    #[arg(long, env = "SKW_AUTO_DISABLE_AFTER", default_value = "3d", value_parser = crate::dispatcher::parse_duration)]
    pub auto_disable_after: std::time::Duration,

    /// …and at least this many deliveries failed (0 turns auto-disable off).
    #[arg(long, env = "SKW_AUTO_DISABLE_MIN_FAILURES", default_value_t = 10)]
    pub auto_disable_min_failures: u32,
}

impl Default for ServeArgs {
    fn default() -> Self {
        // The defaults of the flags above, for tests and embedders.
        match Cli::try_parse_from(["schedulingkit-webhooks", "serve"]) {
            Ok(Cli {
                command: Some(Command::Serve(args)),
                ..
            }) => *args,
            _ => unreachable!("the serve defaults always parse"),
        }
    }
}
