//! Starting and talking to the real processes: the server binary, the receiver, the CLI.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server binary: this build's, or `SKW_BENCH_SERVER_BIN` (to measure another build with
/// the same harness, e.g. the code before a change, alternating the two).
pub fn server_bin() -> String {
    std::env::var("SKW_BENCH_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_schedulingkit-webhooks").to_string())
}

pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far, in MB (VmHWM).
    pub fn peak_rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    pub fn stop(mut self) {
        unsafe_kill(self.child.id(), 15);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Starts the receiver (this same executable in receiver mode).
pub fn receiver() -> Proc {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SKW_BENCH_ROLE", "receiver")
        .stdout(Stdio::piped())
        .spawn()
        .expect("receiver starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .expect("receiver prints its port")
        .to_string();
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Starts `schedulingkit-webhooks serve` on a free port.
pub fn server(db_url: &str, role: &str, extra_env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(server_bin());
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--role", role])
        .env("DATABASE_URL", db_url)
        .env("SKW_ALLOW_INSECURE_TARGETS", "1")
        .env("SKW_RESOLVE_ON_SAVE", "false")
        .env(
            "SKW_SECRET_KEY",
            "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMzI=",
        )
        .env("SKW_LOG", "error")
        .env("SKW_METRICS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(
        base.starts_with("http://"),
        "unexpected server output: {line:?}"
    );
    Proc { child, base }
}

/// `n` servers on one database (several instances sharing the queue).
pub fn servers(db_url: &str, role: &str, n: usize) -> Vec<Proc> {
    (0..n).map(|_| server(db_url, role, &[])).collect()
}

pub fn cli(db_url: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(server_bin())
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SKW_LOG", "error")
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
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An account and an API key for it, through the CLI.
pub fn account_and_key(db_url: &str) -> String {
    cli(db_url, &["migrate"], "");
    cli(
        db_url,
        &["account", "create", "--email", "bench@example.com"],
        "bench password\n",
    );
    cli(
        db_url,
        &["api-key", "create", "--account", "bench@example.com"],
        "",
    )
}
