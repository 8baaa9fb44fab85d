//! Command line and environment: every setting has a flag, an `SKW_*` (or conventional)
//! environment variable, and a default. Flags win over the environment.
//!
//! A value outside what a setting allows is refused when it is parsed, with a message naming
//! the setting (its flag, variable and file key, see [`refusal`]); nothing is clamped into
//! range later. A setting that can be switched off is an `Option` ([`OrOff`], [`OptionalAddr`]);
//! each default is one constant in [`defaults`]; secret settings ([`Secret`], [`DatabaseUrl`])
//! print as `***`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use crate::dispatcher::{parse_duration, RetrySchedule};

/// The defaults of the settings: the CLI's, the dispatcher's and the tests' (through
/// `ServeArgs::default()`).
pub mod defaults {
    use super::{OrOff, Span};
    use std::num::{NonZeroU32, NonZeroUsize};
    use std::time::Duration;

    pub const DATABASE_URL: &str = "sqlite://data/schedulingkit-webhooks.db";
    pub const ADDR: &str = "127.0.0.1:3000";
    pub const METRICS_ADDR: &str = "127.0.0.1:9464";
    pub const SITE_ROOT: &str = "target/site";
    pub const PUBLIC_URL: &str = "http://127.0.0.1:3000";
    pub const SECRET_KEY_FILE: &str = "data/secret.key";
    pub const WORKERS: NonZeroUsize = NonZeroUsize::new(512).unwrap();
    pub const PER_WEBHOOK_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(32).unwrap();
    pub const RETRY_SCHEDULE: &str = "5s,30s,2m,10m,30m,1h,2h,4h,8h,16h";
    pub const POLL_INTERVAL_MS: u64 = 1000;
    pub const RETENTION_DAYS: OrOff<NonZeroU32> = OrOff(NonZeroU32::new(30));
    pub const LEASE_GRACE_MS: u64 = 30_000;
    pub const SHUTDOWN_GRACE_MS: u64 = 10_000;
    pub const AUTO_DISABLE_AFTER: Span = Span(Duration::from_secs(3 * 86_400));
    pub const AUTO_DISABLE_MIN_FAILURES: OrOff<NonZeroU32> = OrOff(NonZeroU32::new(10));
    /// Database connections when `SKW_DB_POOL_SIZE` is not set: SQLite batches its writes and
    /// has one writer at a time (more connections only contend in its busy handler).
    pub const SQLITE_POOL_SIZE: NonZeroU32 = NonZeroU32::new(4).unwrap();
    pub const POSTGRES_POOL_SIZE: NonZeroU32 = NonZeroU32::new(32).unwrap();
    /// `SKW_LOG`'s default.
    pub const LOG: &str = "info,sqlx=warn,sea_orm=warn";

    /// The auto-disable rule of the defaults above.
    pub fn auto_disable() -> Option<app::queue::AutoDisable> {
        super::auto_disable_rule(AUTO_DISABLE_AFTER, AUTO_DISABLE_MIN_FAILURES)
    }
}

/// The auto-disable rule of these settings; `None` when the failure count is off.
pub fn auto_disable_rule(
    after: Span,
    min_failures: OrOff<NonZeroU32>,
) -> Option<app::queue::AutoDisable> {
    let min_failures = min_failures.0?;
    Some(app::queue::AutoDisable {
        // Both fit: a duration setting is at most i64::MAX ms, the count at most i32::MAX.
        after_ms: after.0.as_millis() as i64,
        min_failures: min_failures.get() as i32,
    })
}

/// The shortest poll interval: below it an idle dispatcher would only burn the database.
pub const MIN_POLL_INTERVAL_MS: u64 = 10;
/// The longest duration a `*_ms` setting may have (a deadline must stay far from overflow).
pub const MAX_MS: u64 = crate::dispatcher::MAX_RETRY_DELAY.as_millis() as u64;

#[derive(Debug, Parser)]
#[command(
    name = "schedulingkit-webhooks",
    version,
    about = "SchedulingKit webhooks: the settings pages, the ingest API and the dispatcher.",
    after_help = "Only `migrate` changes the database's schema: the other commands refuse a \
                  database that is not migrated to this version."
)]
pub struct Cli {
    /// Database: `sqlite://path/to/file.db` (created by `migrate` if missing) or
    /// `postgres://user:password@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = defaults::DATABASE_URL, value_parser = DatabaseUrl::parse, hide_env_values = true, global = true)]
    pub database_url: DatabaseUrl,

    /// A TOML file of settings (`workers = 64`, `retry_schedule = "5s,1m"`, …: the long flag
    /// names). Precedence: defaults < this file < environment < flags.
    #[arg(long, env = "SKW_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Database connections in the pool, at least 1 (default: 4 for SQLite, 32 for
    /// PostgreSQL).
    #[arg(long, env = "SKW_DB_POOL_SIZE", value_parser = parse_pool_size, global = true)]
    pub db_pool_size: Option<NonZeroU32>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API, and run the dispatcher (the default). The database must
    /// be migrated (`migrate`) first.
    Serve(Box<ServeArgs>),
    /// Bring the database's schema up to date and exit: the only command that changes it.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage operator keys (the scheduling product's back end's credentials).
    #[command(subcommand, name = "operator-key")]
    OperatorKey(OperatorKeyCommand),
    /// Write brotli and gzip copies (`.br`, `.gz`) of the built bundle's WASM, JS and CSS
    /// beside them, at the best compression, for the pages to serve; run after each build.
    /// Needs no database.
    Precompress {
        /// The bundle's directory.
        #[arg(default_value = "target/site/pkg")]
        dir: PathBuf,
    },
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
        /// A scope of the key (repeat for several): events:publish, webhooks:read,
        /// webhooks:write, deliveries:read, deliveries:write. None given: every scope.
        #[arg(long = "scope", value_name = "SCOPE", value_parser = parse_scope)]
        scopes: Vec<app::domain::ApiScope>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorKeyCommand {
    /// Create an operator key and print it (the only time it is shown).
    Create {
        #[arg(long)]
        name: String,
    },
    /// Revoke the operator keys of this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

fn parse_scope(name: &str) -> Result<app::domain::ApiScope, String> {
    app::domain::ApiScope::parse(name)
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
    #[arg(long, env = "SKW_ADDR", default_value = defaults::ADDR)]
    pub addr: SocketAddr,

    /// Where `/metrics` is served: its own listener, loopback by default, so that the figures
    /// are not public on the main address. `off` switches it off; port 0 picks a free port.
    #[arg(long, env = "SKW_METRICS_ADDR", default_value = defaults::METRICS_ADDR, value_parser = parse_optional_addr)]
    pub metrics_addr: OptionalAddr,

    /// Where the built site (the `pkg/` bundle) is.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = defaults::SITE_ROOT)]
    pub site_root: PathBuf,

    /// The URL users reach this server at (`http://` or `https://`, with a host);
    /// `https://…` makes the session cookie `Secure`.
    #[arg(long, env = "SKW_PUBLIC_URL", default_value = defaults::PUBLIC_URL, value_parser = parse_public_url)]
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
    #[arg(long, env = "SKW_SECRET_KEY", value_parser = parse_secret_key, hide_env_values = true)]
    pub secret_key: Option<Secret>,

    /// Where the generated encryption key lives when `SKW_SECRET_KEY` is not set. Back it up:
    /// without it the stored signing secrets cannot be read.
    #[arg(long, env = "SKW_SECRET_KEY_FILE", default_value = defaults::SECRET_KEY_FILE)]
    pub secret_key_file: PathBuf,

    /// What this process runs.
    #[arg(long, env = "SKW_ROLE", value_enum, default_value = "all")]
    pub role: Role,

    /// Most requests in flight at once (the dispatcher's worker pool), at least 1.
    #[arg(long, env = "SKW_WORKERS", default_value_t = defaults::WORKERS, value_parser = parse_workers)]
    pub workers: NonZeroUsize,

    /// Most requests in flight at once to one webhook, so one slow endpoint cannot take the
    /// pool; at least 1.
    #[arg(long, env = "SKW_PER_WEBHOOK_CONCURRENCY", default_value_t = defaults::PER_WEBHOOK_CONCURRENCY, value_parser = parse_per_webhook)]
    pub per_webhook_concurrency: NonZeroUsize,

    /// Delays before retry 1, 2, …: durations like `5s`, `2m`, `1h`; the last one repeats.
    /// Each delay gets ±20% jitter.
    #[arg(long, env = "SKW_RETRY_SCHEDULE", default_value = defaults::RETRY_SCHEDULE, value_parser = RetrySchedule::parse)]
    pub retry_schedule: RetrySchedule,

    /// How long the dispatcher sleeps when idle before looking again (it is woken at once
    /// by new events of this process); at least 10 ms.
    #[arg(long, env = "SKW_POLL_INTERVAL_MS", default_value_t = defaults::POLL_INTERVAL_MS, value_parser = parse_poll_interval)]
    pub poll_interval_ms: u64,

    /// Keep events, deliveries and attempts this many days (0 or `off` keeps them forever).
    #[arg(long, env = "SKW_RETENTION_DAYS", default_value_t = defaults::RETENTION_DAYS, value_parser = parse_retention_days)]
    pub retention_days: OrOff<NonZeroU32>,

    /// A claimed delivery's lease: the webhook's timeout plus this (at least 1 ms). When a
    /// process dies, what it held is taken up by another after the lease.
    #[arg(long, env = "SKW_LEASE_GRACE_MS", default_value_t = defaults::LEASE_GRACE_MS, value_parser = parse_lease_grace)]
    pub lease_grace_ms: u64,

    /// On SIGTERM or Ctrl-C: how long requests and deliveries in flight may take to finish
    /// (0: none; what is in flight is given back at once). Deliveries still in flight after
    /// that are taken up again when their lease ends.
    #[arg(long, env = "SKW_SHUTDOWN_GRACE_MS", default_value_t = defaults::SHUTDOWN_GRACE_MS, value_parser = parse_shutdown_grace)]
    pub shutdown_grace_ms: u64,

    /// Pause a webhook automatically when every delivery has failed for this long…
    #[arg(long, env = "SKW_AUTO_DISABLE_AFTER", default_value_t = defaults::AUTO_DISABLE_AFTER, value_parser = Span::parse)]
    pub auto_disable_after: Span,

    /// …and at least this many deliveries failed (0 or `off` turns auto-disable off).
    #[arg(long, env = "SKW_AUTO_DISABLE_MIN_FAILURES", default_value_t = defaults::AUTO_DISABLE_MIN_FAILURES, value_parser = parse_min_failures)]
    pub auto_disable_min_failures: OrOff<NonZeroU32>,

    /// Alert e-mails go through this SMTP server: `smtp://host:port` (plain; add
    /// `?tls=required` for STARTTLS), or `smtps://user:password@host:465`. Not set: alerts
    /// are shown on the pages (and sent to alert webhooks) only.
    #[arg(long, env = "SKW_SMTP_URL", value_parser = parse_smtp_url, hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// The sender of alert e-mails, e.g. `SchedulingKit <alerts@example.com>` (needed with
    /// `--smtp-url`).
    #[arg(long, env = "SKW_MAIL_FROM", value_parser = parse_mail_from)]
    pub mail_from: Option<String>,

    /// Behind a reverse proxy: the request header it writes the client's address into
    /// (`x-forwarded-for`: the right-most address; `x-real-ip`; `forwarded`: the last `for=`),
    /// used by the per-address log-in and sign-up limits. Off by default: the TCP peer's
    /// address. Only set it when clients cannot reach this server except through the proxy,
    /// since any client can send the header.
    #[arg(long, env = "SKW_TRUSTED_PROXY_HEADER", value_parser = parse_proxy_header)]
    pub trusted_proxy_header: Option<String>,

    /// Sign-up and password log-in (`on`, the default, or `off` where the product provisions
    /// every account through the operator API and its owners come in by one-time links).
    #[arg(long, env = "SKW_PASSWORD_LOGIN", value_parser = clap::builder::BoolishValueParser::new(), default_value = "on", action = clap::ArgAction::Set)]
    pub password_login: bool,

    /// The scheduling product's name, shown as "Back to <name>" and where log-in is off.
    #[arg(long, env = "SKW_PRODUCT_NAME", default_value = "your scheduling app", value_parser = parse_product_name)]
    pub product_name: String,

    /// A logo shown in the pages' header instead of the ◆ (an https URL).
    #[arg(long, env = "SKW_LOGO_URL", value_parser = parse_logo_url)]
    pub logo_url: Option<String>,

    /// The accent colour of links and buttons, `#rrggbb`.
    #[arg(long, env = "SKW_ACCENT_COLOR", value_parser = parse_accent)]
    pub accent_color: Option<String>,

    /// Origins allowed to show the pages in a frame (comma-separated, e.g.
    /// `https://app.example.com`); none by default. When set, the session cookie is
    /// `SameSite=None; Secure` so that it works inside the frame (which needs HTTPS).
    #[arg(long, env = "SKW_FRAME_ANCESTORS", value_parser = parse_origins, default_value = "")]
    pub frame_ancestors: Origins,

    /// Origins a one-time link's `return_url` may lead to (comma-separated); none by default.
    #[arg(long, env = "SKW_RETURN_ORIGINS", value_parser = parse_origins, default_value = "")]
    pub return_origins: Origins,

    /// How long a new one-time log-in link stays valid (`5m`; 10 s to 1 h).
    #[arg(long, env = "SKW_LOGIN_LINK_TTL", default_value = "5m", value_parser = parse_link_ttl)]
    pub login_link_ttl: Span,

    /// How long a session opened by a one-time link lasts (`8h`; 1 minute to 30 days).
    #[arg(long, env = "SKW_LINK_SESSION_TTL", default_value = "8h", value_parser = parse_link_session_ttl)]
    pub link_session_ttl: Span,
}

/// A list of web origins (`scheme://host[:port]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins(pub Vec<String>);

impl std::fmt::Display for Origins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

fn parse_origins(s: &str) -> Result<Origins, String> {
    let mut out = Vec::new();
    for item in s.split([',', ' ']).map(str::trim).filter(|i| !i.is_empty()) {
        let url = url::Url::parse(item)
            .map_err(|_| format!("`{item}` is not an origin like https://app.example.com"))?;
        let origin = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https")
            || origin.trim_end_matches('/') != item.trim_end_matches('/')
        {
            return Err(format!(
                "`{item}` is not an origin like https://app.example.com (scheme, host and port only)"
            ));
        }
        out.push(origin);
    }
    Ok(Origins(out))
}

fn parse_product_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 60 {
        return Err("must be 1 to 60 characters".into());
    }
    app::domain::check_visible(s, "product name")?;
    Ok(s.to_string())
}

fn parse_logo_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s.trim()).map_err(|_| format!("`{s}` is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(format!("`{s}` is not an http(s) URL"));
    }
    // It goes into a CSS `url("…")`: nothing that could end the string.
    let text = url.to_string();
    if text.contains(['"', '\\', '\'', '(', ')']) {
        return Err(format!("`{s}` holds quotes or brackets; use a plain URL"));
    }
    Ok(text)
}

fn parse_accent(s: &str) -> Result<String, String> {
    let s = s.trim();
    let hex = s.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a colour like #0b6bcb"));
    }
    Ok(s.to_ascii_lowercase())
}

fn parse_link_ttl(s: &str) -> Result<Span, String> {
    let span = Span::parse(s)?;
    if span.0 < Duration::from_secs(10) || span.0 > Duration::from_secs(3600) {
        return Err("must be from 10s to 1h".into());
    }
    Ok(span)
}

fn parse_link_session_ttl(s: &str) -> Result<Span, String> {
    let span = Span::parse(s)?;
    if span.0 < Duration::from_secs(60) || span.0 > Duration::from_secs(30 * 86_400) {
        return Err("must be from 1m to 30d".into());
    }
    Ok(span)
}

fn parse_proxy_header(s: &str) -> Result<String, String> {
    app::auth::client_addr::ClientAddrPolicy::new(Some(s))?;
    Ok(s.trim().to_ascii_lowercase())
}

/// A whole number in `min..=max`.
fn number_in<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    if n > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(n)
}

fn parse_workers(s: &str) -> Result<NonZeroUsize, String> {
    // A tokio semaphore holds at most this many permits.
    let n = number_in(s, 1, tokio::sync::Semaphore::MAX_PERMITS)?;
    Ok(NonZeroUsize::new(n).expect("at least 1"))
}

fn parse_per_webhook(s: &str) -> Result<NonZeroUsize, String> {
    let n = number_in(s, 1, u32::MAX as usize)?;
    Ok(NonZeroUsize::new(n).expect("at least 1"))
}

fn parse_pool_size(s: &str) -> Result<NonZeroU32, String> {
    Ok(NonZeroU32::new(number_in(s, 1, u32::MAX)?).expect("at least 1"))
}

fn parse_poll_interval(s: &str) -> Result<u64, String> {
    number_in(s, MIN_POLL_INTERVAL_MS, MAX_MS)
}

fn parse_lease_grace(s: &str) -> Result<u64, String> {
    number_in(s, 1, MAX_MS)
}

fn parse_shutdown_grace(s: &str) -> Result<u64, String> {
    number_in(s, 0, MAX_MS)
}

/// `0` or `off`: off; otherwise a whole number in `1..=max`.
fn count_or_off(s: &str, max: u32) -> Result<OrOff<NonZeroU32>, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(OrOff(None));
    }
    Ok(OrOff(NonZeroU32::new(number_in(s, 0, max)?)))
}

fn parse_retention_days(s: &str) -> Result<OrOff<NonZeroU32>, String> {
    count_or_off(s, u32::MAX)
}

fn parse_min_failures(s: &str) -> Result<OrOff<NonZeroU32>, String> {
    // The database counts a webhook's failures in a 32-bit signed integer.
    count_or_off(s, i32::MAX as u32)
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "`{s}` is not an http:// or https:// URL with a host"
        ));
    }
    Ok(s.to_string())
}

fn parse_smtp_url(s: &str) -> Result<SmtpUrl, String> {
    let s = s.trim();
    // The transport's own reading of the URL is the rule (scheme, port, TLS mode).
    crate::alerts::mail::transport(s).map_err(|e| e.to_string())?;
    Ok(SmtpUrl(Secret::new(s)))
}

fn parse_mail_from(s: &str) -> Result<String, String> {
    crate::alerts::mail::mailbox(s)?;
    Ok(s.trim().to_string())
}

/// The SMTP server's URL: it may hold a password, so `Debug` and `Display` print `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpUrl(pub Secret);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

fn parse_secret_key(s: &str) -> Result<Secret, String> {
    // The one rule for the key is the secret box's; with a key given no file is read.
    app::secrets::SecretBox::load(Some(s), std::path::Path::new(""))?;
    Ok(Secret(s.trim().to_string()))
}

/// A setting that can be switched off (`None`): `off` or `0` on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrOff<T>(pub Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrOff<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("off"),
        }
    }
}

impl From<u32> for OrOff<NonZeroU32> {
    /// `0` is off.
    fn from(n: u32) -> Self {
        OrOff(NonZeroU32::new(n))
    }
}

/// A duration written `500ms`, `30s`, `5m`, `2h` or `3d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(s: &str) -> Result<Span, String> {
        parse_duration(s.trim()).map(Span)
    }
}

impl From<Duration> for Span {
    fn from(d: Duration) -> Self {
        Span(d)
    }
}

impl std::fmt::Display for Span {
    /// In the largest unit that holds it exactly (`3d`, `90m`, `1500ms`), so that it parses
    /// back to the same duration.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        let unit = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ]
        .into_iter()
        .find(|(n, _)| ms != 0 && ms.is_multiple_of(*n));
        match unit {
            Some((n, u)) => write!(f, "{}{u}", ms / n),
            None => write!(f, "{ms}ms"),
        }
    }
}

/// A secret setting: its `Debug` and `Display` print `***`, so it cannot end up in a log line
/// or a message by accident; [`Secret::expose`] gives the value to what needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The database URL: `sqlite:…`, `postgres://…` or `postgresql://…`. It may hold a password,
/// so `Debug` and `Display` show it with the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Secret);

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<DatabaseUrl, String> {
        let s = s.trim();
        let known = s.starts_with("sqlite:")
            || s.starts_with("postgres://")
            || s.starts_with("postgresql://");
        if !known {
            return Err("a database URL starts with sqlite:, postgres:// or postgresql://".into());
        }
        Ok(DatabaseUrl(Secret::new(s)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(self.expose()) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                f.write_str(u.as_str())
            }
            Ok(_) => f.write_str(self.expose()),
            Err(_) if !self.expose().contains('@') => f.write_str(self.expose()),
            // Not a URL the parser reads, with user information: only its scheme is shown.
            Err(_) => write!(
                f,
                "{}:***",
                self.expose().split(':').next().unwrap_or_default()
            ),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
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

/// Parses the command line (and the environment): no command is `serve`, with the
/// environment's settings checked as for `serve`.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = Cli::try_parse_from(&args)?;
    if cli.command.is_some() {
        return Ok(cli);
    }
    Cli::try_parse_from(args.into_iter().chain(["serve".into()]))
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

/// How the process logs: `SKW_LOG`, a tracing filter (default [`defaults::LOG`]), and
/// `SKW_LOG_FORMAT`, `text` (the default) or `json`. Environment only (no flags).
pub struct LogSettings {
    pub filter: tracing_subscriber::EnvFilter,
    pub json: bool,
}

/// Reads the log settings with `var` (the environment); a bad value is refused by name.
pub fn log_settings(var: impl Fn(&str) -> Option<String>) -> Result<LogSettings, String> {
    let filter = match var("SKW_LOG") {
        Some(v) => tracing_subscriber::EnvFilter::try_new(&v)
            .map_err(|e| format!("invalid value `{v}` for the setting SKW_LOG: {e}"))?,
        None => tracing_subscriber::EnvFilter::new(defaults::LOG),
    };
    let json = match var("SKW_LOG_FORMAT").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(format!(
                "invalid value `{other}` for the setting SKW_LOG_FORMAT: must be text or json"
            ))
        }
    };
    Ok(LogSettings { filter, json })
}

/// The message for a command line (or environment, or configuration file) that does not
/// parse: a refused value names its setting — the flag, the environment variable and the
/// configuration file's key — and why it is refused; a secret setting's value is not repeated.
/// Other errors are clap's own message.
pub fn refusal(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        _ => None,
    };
    let setting = context(ContextKind::InvalidArg).and_then(|arg| setting_of(&arg));
    let Some((long, env, secret)) = setting else {
        return e.render().to_string();
    };
    let reason = match e.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "not a valid value".into()),
        ErrorKind::InvalidValue => match context(ContextKind::ValidValue) {
            Some(valid) => format!("must be one of {valid}"),
            None => "not a valid value".into(),
        },
        _ => return e.render().to_string(),
    };
    let value = match context(ContextKind::InvalidValue) {
        Some(v) if !secret => format!(" `{v}`"),
        _ => String::new(),
    };
    let env = env.map(|env| format!(", {env}")).unwrap_or_default();
    format!(
        "error: invalid value{value} for the setting `{key}` (--{long}{env}): {reason}\n",
        key = long.replace('-', "_"),
    )
}

/// The long flag, environment variable and secrecy of the argument clap names `--flag <FLAG>`.
fn setting_of(arg: &str) -> Option<(String, Option<String>, bool)> {
    use clap::CommandFactory;
    let long = arg
        .trim_start_matches('-')
        .split([' ', '='])
        .next()
        .filter(|l| !l.is_empty())?
        .to_string();
    fn find(cmd: &clap::Command, long: &str) -> Option<(Option<String>, bool)> {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .map(|a| {
                (
                    a.get_env().map(|e| e.to_string_lossy().into_owned()),
                    a.is_hide_env_values_set(),
                )
            })
            .or_else(|| cmd.get_subcommands().find_map(|sub| find(sub, long)))
    }
    let (env, secret) = find(&Cli::command(), &long)?;
    Some((long, env, secret))
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

    fn serve(args: &[&str]) -> Result<ServeArgs, String> {
        let mut argv = vec!["schedulingkit-webhooks", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Some(Command::Serve(args)),
                ..
            }) => Ok(*args),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(refusal(&e)),
        }
    }

    /// Every setting with a value it refuses (`--flag=value`: a value may start with `-`).
    const BAD: &[(&str, &str, &str)] = &[
        ("database-url", "mysql://localhost/db", "DATABASE_URL"),
        ("db-pool-size", "0", "SKW_DB_POOL_SIZE"),
        ("db-pool-size", "-4", "SKW_DB_POOL_SIZE"),
        ("addr", "localhost", "SKW_ADDR"),
        ("metrics-addr", "nowhere", "SKW_METRICS_ADDR"),
        ("public-url", "ftp://hooks.example.com", "SKW_PUBLIC_URL"),
        ("public-url", "hooks.example.com", "SKW_PUBLIC_URL"),
        (
            "allow-insecure-targets",
            "maybe",
            "SKW_ALLOW_INSECURE_TARGETS",
        ),
        ("resolve-on-save", "maybe", "SKW_RESOLVE_ON_SAVE"),
        ("secret-key", "c2hvcnQ=", "SKW_SECRET_KEY"),
        ("role", "boss", "SKW_ROLE"),
        ("workers", "0", "SKW_WORKERS"),
        ("workers", "-1", "SKW_WORKERS"),
        ("workers", "many", "SKW_WORKERS"),
        (
            "per-webhook-concurrency",
            "0",
            "SKW_PER_WEBHOOK_CONCURRENCY",
        ),
        ("retry-schedule", "", "SKW_RETRY_SCHEDULE"),
        ("retry-schedule", "5s,31d", "SKW_RETRY_SCHEDULE"),
        ("poll-interval-ms", "0", "SKW_POLL_INTERVAL_MS"),
        ("poll-interval-ms", "5", "SKW_POLL_INTERVAL_MS"),
        ("retention-days", "-1", "SKW_RETENTION_DAYS"),
        ("lease-grace-ms", "0", "SKW_LEASE_GRACE_MS"),
        ("lease-grace-ms", "-30000", "SKW_LEASE_GRACE_MS"),
        ("shutdown-grace-ms", "-1", "SKW_SHUTDOWN_GRACE_MS"),
        (
            "shutdown-grace-ms",
            "18446744073709551615",
            "SKW_SHUTDOWN_GRACE_MS",
        ),
        ("auto-disable-after", "3", "SKW_AUTO_DISABLE_AFTER"),
        ("auto-disable-after", "-3d", "SKW_AUTO_DISABLE_AFTER"),
        (
            "auto-disable-min-failures",
            "-1",
            "SKW_AUTO_DISABLE_MIN_FAILURES",
        ),
        (
            "auto-disable-min-failures",
            "4294967295",
            "SKW_AUTO_DISABLE_MIN_FAILURES",
        ),
        (
            "trusted-proxy-header",
            "not a header",
            "SKW_TRUSTED_PROXY_HEADER",
        ),
        ("smtp-url", "http://mail.example", "SKW_SMTP_URL"),
        ("smtp-url", "smtp://", "SKW_SMTP_URL"),
        ("mail-from", "not an address", "SKW_MAIL_FROM"),
        ("password-login", "maybe", "SKW_PASSWORD_LOGIN"),
        ("product-name", "", "SKW_PRODUCT_NAME"),
        ("product-name", "a\u{202e}b", "SKW_PRODUCT_NAME"),
        ("logo-url", "javascript:alert(1)", "SKW_LOGO_URL"),
        ("logo-url", "https://cdn.example/a\")x.png", "SKW_LOGO_URL"),
        ("accent-color", "red", "SKW_ACCENT_COLOR"),
        ("accent-color", "#12345", "SKW_ACCENT_COLOR"),
        ("frame-ancestors", "*", "SKW_FRAME_ANCESTORS"),
        (
            "frame-ancestors",
            "https://app.example.com/path",
            "SKW_FRAME_ANCESTORS",
        ),
        ("frame-ancestors", "app.example.com", "SKW_FRAME_ANCESTORS"),
        (
            "return-origins",
            "ftp://app.example.com",
            "SKW_RETURN_ORIGINS",
        ),
        ("login-link-ttl", "5s", "SKW_LOGIN_LINK_TTL"),
        ("login-link-ttl", "2h", "SKW_LOGIN_LINK_TTL"),
        ("link-session-ttl", "30s", "SKW_LINK_SESSION_TTL"),
        ("link-session-ttl", "31d", "SKW_LINK_SESSION_TTL"),
    ];

    #[test]
    fn bad_values_are_refused_naming_the_setting() {
        for (flag, value, env) in BAD {
            let err = match serve(&[&format!("--{flag}={value}")]) {
                Ok(args) => panic!("--{flag}={value} was accepted: {args:?}"),
                Err(e) => e,
            };
            let key = flag.replace('-', "_");
            assert!(
                err.contains(&format!("`{key}`"))
                    && err.contains(&format!("--{flag}"))
                    && err.contains(env),
                "--{flag}={value}: {err}"
            );
        }
    }

    #[test]
    fn every_setting_has_a_refused_value_in_the_test() {
        let tested: std::collections::BTreeSet<String> = BAD
            .iter()
            .map(|(flag, _, _)| flag.replace('-', "_"))
            .collect();
        for key in settings().into_keys() {
            let free_form = ["site_root", "secret_key_file"];
            assert!(
                tested.contains(&key) || free_form.contains(&key.as_str()),
                "no bad value tried for `{key}`"
            );
        }
    }

    #[test]
    fn the_smtp_url_is_not_repeated_or_printed() {
        let err = serve(&["--smtp-url=http://alerts:hunter2@mail.example"]).unwrap_err();
        assert!(
            err.contains("SKW_SMTP_URL") && !err.contains("hunter2"),
            "{err}"
        );
        let args = serve(&[
            "--smtp-url=smtps://alerts:hunter2@mail.example",
            "--mail-from=SchedulingKit <alerts@example.com>",
        ])
        .unwrap();
        assert!(!format!("{args:?}").contains("hunter2"));
        assert!(crate::alerts::AlertsConfig::from_args(&args)
            .unwrap()
            .mail
            .is_some());
        let mut no_sender = args.clone();
        no_sender.mail_from = None;
        let err = crate::alerts::AlertsConfig::from_args(&no_sender).unwrap_err();
        assert!(err.contains("SKW_MAIL_FROM"), "{err}");
    }

    #[test]
    fn secret_values_are_not_repeated_or_printed() {
        let err = serve(&["--secret-key=c2VjcmV0LWJ1dC1zaG9ydA=="]).unwrap_err();
        assert!(err.contains("SKW_SECRET_KEY"), "{err}");
        assert!(!err.contains("c2VjcmV0LWJ1dC1zaG9ydA"), "{err}");
        let err = serve(&["--database-url=mysql://ops:hunter2@db/hooks"]).unwrap_err();
        assert!(
            err.contains("DATABASE_URL") && !err.contains("hunter2"),
            "{err}"
        );

        let key = "c2NoZWR1bGluZ2tpdC13ZWJob29rcy10ZXN0LWtleSE=";
        let cli = Cli::try_parse_from([
            "schedulingkit-webhooks",
            "--database-url",
            "postgres://ops:hunter2@db/hooks",
            "serve",
            "--secret-key",
            key,
        ])
        .unwrap();
        let printed = format!("{cli:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains(key), "{printed}");
        assert_eq!(cli.database_url.to_string(), "postgres://ops:***@db/hooks");
        assert_eq!(cli.database_url.expose(), "postgres://ops:hunter2@db/hooks");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.secret_key.as_ref().map(Secret::expose), Some(key));
        assert_eq!(args.secret_key.unwrap().to_string(), "***");
    }

    #[test]
    fn off_is_none_and_defaults_are_the_constants() {
        let d = ServeArgs::default();
        assert_eq!(d.workers, defaults::WORKERS);
        assert_eq!(d.per_webhook_concurrency, defaults::PER_WEBHOOK_CONCURRENCY);
        assert_eq!(d.poll_interval_ms, defaults::POLL_INTERVAL_MS);
        assert_eq!(d.lease_grace_ms, defaults::LEASE_GRACE_MS);
        assert_eq!(d.shutdown_grace_ms, defaults::SHUTDOWN_GRACE_MS);
        assert_eq!(d.retention_days, defaults::RETENTION_DAYS);
        assert_eq!(d.auto_disable_after, defaults::AUTO_DISABLE_AFTER);
        assert_eq!(
            d.auto_disable_min_failures,
            defaults::AUTO_DISABLE_MIN_FAILURES
        );
        assert_eq!(
            d.retry_schedule,
            RetrySchedule::parse(defaults::RETRY_SCHEDULE).unwrap()
        );
        assert_eq!(d.secret_key, None);
        assert_eq!(defaults::AUTO_DISABLE_AFTER.to_string(), "3d");
        assert!(defaults::auto_disable().is_some());

        for off in ["0", "off"] {
            let args = serve(&[
                &format!("--retention-days={off}"),
                &format!("--auto-disable-min-failures={off}"),
            ])
            .unwrap();
            assert_eq!(args.retention_days, OrOff(None));
            assert_eq!(args.auto_disable_min_failures, OrOff(None));
            assert_eq!(
                auto_disable_rule(args.auto_disable_after, args.auto_disable_min_failures),
                None
            );
        }
        // The smallest values allowed are taken as they are.
        let args = serve(&[
            "--workers=1",
            "--poll-interval-ms=10",
            "--shutdown-grace-ms=0",
        ])
        .unwrap();
        assert_eq!(
            (
                args.workers.get(),
                args.poll_interval_ms,
                args.shutdown_grace_ms
            ),
            (1, 10, 0)
        );
    }

    #[test]
    fn spans_print_so_that_they_parse_back() {
        for text in ["3d", "90m", "1500ms", "2h", "45s", "0ms"] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.to_string(), text);
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
    }

    #[test]
    fn bad_log_settings_are_refused_by_name() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(log_settings(env(&[])).is_ok());
        assert!(
            log_settings(env(&[("SKW_LOG", "debug"), ("SKW_LOG_FORMAT", "json")]))
                .unwrap()
                .json
        );
        let err = log_settings(env(&[("SKW_LOG", "info,[[[")])).err().unwrap();
        assert!(err.contains("SKW_LOG"), "{err}");
        let err = log_settings(env(&[("SKW_LOG_FORMAT", "xml")]))
            .err()
            .unwrap();
        assert!(err.contains("SKW_LOG_FORMAT"), "{err}");
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
