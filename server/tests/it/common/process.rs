//! The real binary as a separate process: `serve` on a free port, and the CLI.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_schedulingkit-webhooks");

/// The encryption key both runs of the server share (as a deployment would).
pub const KEY: &str = "c2NoZWR1bGluZ2tpdC13ZWJob29rcy10ZXN0LWtleSE=";

/// Starts `serve` on a free port; returns the child and its base URL (read from its stdout).
pub fn serve(db_url: &str, role: &str) -> (Child, String) {
    serve_with(db_url, role, &[], Stdio::inherit())
}

/// As [`serve`], with more environment and somewhere for standard error to go.
pub fn serve_with(
    db_url: &str,
    role: &str,
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--role", role])
        .env("DATABASE_URL", db_url)
        .env("SKW_SECRET_KEY", KEY)
        .env("SKW_ALLOW_INSECURE_TARGETS", "1")
        .env("SKW_RESOLVE_ON_SAVE", "false")
        .env("SKW_RETRY_SCHEDULE", "100ms")
        .env("SKW_POLL_INTERVAL_MS", "100")
        .env("SKW_LOG", "warn")
        .env("SKW_METRICS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the server binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (child, base)
}

/// Migrates, creates an account (password `a long password`) and an API key of it through the
/// CLI, as an operator would; returns the key.
pub fn account_with_key(db_url: &str, email: &str) -> String {
    cli(db_url, &["migrate"], "");
    cli(
        db_url,
        &["account", "create", "--email", email],
        "a long password\n",
    );
    let key = cli(db_url, &["api-key", "create", "--account", email], "")
        .trim()
        .to_string();
    assert!(key.starts_with("skw_"), "{key}");
    key
}

pub fn cli(db_url: &str, args: &[&str], stdin: &str) -> String {
    cli_logging(db_url, args, stdin, "warn").0
}

/// Runs a CLI command with this log filter; returns its standard output and standard error.
pub fn cli_logging(db_url: &str, args: &[&str], stdin: &str, log: &str) -> (String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SKW_LOG", log)
        .stderr(Stdio::piped())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?} failed");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with these arguments and environment (on a throw-away SQLite database),
/// expects it to refuse to start — exit code 2 within a few seconds, not serve — and returns
/// its standard error.
pub fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let (code, stderr) = run_to_exit(args, env);
    assert_eq!(code, Some(2), "{args:?} with {env:?}: {stderr}");
    stderr
}

/// Runs the binary as [`refused`] does and returns its exit code and standard error; panics
/// if it is still running after 20 s.
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/refused.db", dir.path().display()),
        )
        .env("SKW_ADDR", "127.0.0.1:0")
        .env("SKW_METRICS_ADDR", "off")
        .env("SKW_SECRET_KEY", KEY)
        .env("SKW_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the server binary starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{args:?} with {env:?} was not refused: it kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}
