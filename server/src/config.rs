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

    /// A TOML file of settings (`workers = 64`, `retry_schedule = "5s,1m"`, …: the long flag
    /// names). Precedence: defaults < this file < environment < flags.
    #[arg(long, env = "SKW_CONFIG", global = true)]
    pub config: Option<PathBuf>,

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

    /// Where `/metrics` is served: its own listener, loopback by default, so that the figures
    /// are not public on the main address. `off` switches it off; port 0 picks a free port.
    #[arg(long, env = "SKW_METRICS_ADDR", default_value = "127.0.0.1:9464", value_parser = parse_optional_addr)]
    pub metrics_addr: OptionalAddr,

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

    /// Keep events, deliveries and attempts this many days (0 keeps them forever).
    #[arg(long, env = "SKW_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,

    /// A claimed delivery's lease: the webhook's timeout plus this. When a process dies, what it
    /// held is taken up by another after the lease.
    #[arg(long, env = "SKW_LEASE_GRACE_MS", default_value_t = 30_000)]
    pub lease_grace_ms: u64,

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

    /// Behind a reverse proxy: the request header it writes the client's address into
    /// (`x-forwarded-for`: the right-most address; `x-real-ip`; `forwarded`: the last `for=`),
    /// used by the per-address log-in and sign-up limits. Off by default: the TCP peer's
    /// address. Only set it when clients cannot reach this server except through the proxy,
    /// since any client can send the header.
    #[arg(long, env = "SKW_TRUSTED_PROXY_HEADER", value_parser = parse_proxy_header)]
    pub trusted_proxy_header: Option<String>,
}

fn parse_proxy_header(s: &str) -> Result<String, String> {
    app::auth::client_addr::ClientAddrPolicy::new(Some(s))?;
    Ok(s.trim().to_ascii_lowercase())
}

/// A listen address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

fn parse_optional_addr(s: &str) -> Result<OptionalAddr, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(OptionalAddr(None));
    }
    s.parse()
        .map(|a| OptionalAddr(Some(a)))
        .map_err(|_| format!("`{s}` is not an address like 127.0.0.1:9464 (or `off`)"))
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

/// The settings a configuration file may hold: each long flag name (with `_` or `-`) and the
/// environment variable it stands for.
fn settings() -> std::collections::BTreeMap<String, String> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeMap<String, String>) {
        for arg in cmd.get_arguments() {
            if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
                if long != "config" {
                    out.insert(long.replace('-', "_"), env.to_string_lossy().into_owned());
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(&Cli::command(), &mut out);
    out
}

/// The environment variables a configuration file sets: one per setting in it that the
/// environment does not set already (the environment wins). Unknown settings are errors.
pub fn file_env(
    text: &str,
    is_set: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let known = settings();
    let mut out = Vec::new();
    for (key, value) in table {
        let env = known.get(&key.replace('-', "_")).ok_or_else(|| {
            format!(
                "unknown setting `{key}` (known: {})",
                known.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => return Err(format!("setting `{key}` has an unsupported value: {other}")),
        };
        if !is_set(env) {
            out.push((env.clone(), value));
        }
    }
    Ok(out)
}

/// Reads the configuration file named by `--config` or `SKW_CONFIG`, if any, and sets the
/// environment variables for the settings the environment does not set. Call before anything
/// else reads the environment (and before any thread starts).
pub fn load_file(args: &[String]) -> Result<(), String> {
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_string).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = from_args.or_else(|| std::env::var("SKW_CONFIG").ok()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the configuration file {path}: {e}"))?;
    for (k, v) in file_env(&text, |env| std::env::var_os(env).is_some())
        .map_err(|e| format!("{path}: {e}"))?
    {
        std::env::set_var(k, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_what_the_environment_does_not() {
        let text = "workers = 64\nretry-schedule = [\"1s\", \"1m\"]\nallow_insecure_targets = true\ndatabase_url = \"sqlite://x.db\"\n";
        let set = file_env(text, |env| env == "SKW_WORKERS").unwrap();
        assert!(
            !set.iter().any(|(k, _)| k == "SKW_WORKERS"),
            "the environment wins"
        );
        assert!(set.contains(&("SKW_RETRY_SCHEDULE".into(), "1s,1m".into())));
        assert!(set.contains(&("SKW_ALLOW_INSECURE_TARGETS".into(), "true".into())));
        assert!(set.contains(&("DATABASE_URL".into(), "sqlite://x.db".into())));
    }

    #[test]
    fn unknown_settings_and_bad_files_are_refused() {
        assert!(file_env("wrokers = 3", |_| false)
            .unwrap_err()
            .contains("unknown setting `wrokers`"));
        assert!(file_env("workers = ", |_| false).is_err());
    }

    #[test]
    fn every_setting_has_a_flag_and_a_variable() {
        let known = settings();
        for key in [
            "database_url",
            "addr",
            "workers",
            "per_webhook_concurrency",
            "retry_schedule",
            "role",
            "secret_key_file",
            "retention_days",
            "trusted_proxy_header",
        ] {
            assert!(known.contains_key(key), "{key}");
        }
    }

    #[test]
    fn the_trusted_proxy_header_is_off_unless_named() {
        assert_eq!(ServeArgs::default().trusted_proxy_header, None);
        let cli = Cli::try_parse_from([
            "schedulingkit-webhooks",
            "serve",
            "--trusted-proxy-header",
            "X-Forwarded-For",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        assert_eq!(
            args.trusted_proxy_header.as_deref(),
            Some("x-forwarded-for")
        );
        assert!(Cli::try_parse_from([
            "schedulingkit-webhooks",
            "serve",
            "--trusted-proxy-header",
            "not a header",
        ])
        .is_err());
    }
}
