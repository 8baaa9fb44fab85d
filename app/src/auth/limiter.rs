//! Failed log-ins are limited per account and per client address (server only).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed log-ins allowed per e-mail address in the window.
pub const PER_ACCOUNT: usize = 10;
/// Failed log-ins allowed per client address in the window.
pub const PER_ADDRESS: usize = 50;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    fn keys(email: &str, ip: Option<IpAddr>) -> [(String, usize); 2] {
        [
            (
                format!("account:{}", email.trim().to_lowercase()),
                PER_ACCOUNT,
            ),
            (
                format!("address:{}", ip.map(|i| i.to_string()).unwrap_or_default()),
                PER_ADDRESS,
            ),
        ]
    }

    /// `Err(wait)` when this e-mail or this address has failed too often lately.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let mut map = self.failures.lock().expect("limiter poisoned");
        let now = Instant::now();
        for (key, limit) in Self::keys(email, ip) {
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                if times.len() >= limit {
                    return Err(WINDOW.saturating_sub(now.duration_since(times[0])));
                }
            }
        }
        Ok(())
    }

    pub fn failed(&self, email: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().expect("limiter poisoned");
        if map.len() > 100_000 {
            let now = Instant::now();
            map.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, _) in Self::keys(email, ip) {
            map.entry(key).or_default().push(Instant::now());
        }
    }

    /// A successful log-in clears the account's failures (not the address's).
    pub fn succeeded(&self, email: &str) {
        let [(account, _), _] = Self::keys(email, None);
        self.failures
            .lock()
            .expect("limiter poisoned")
            .remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_repeated_failures() {
        let l = LoginLimiter::default();
        let ip: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        for _ in 0..PER_ACCOUNT {
            assert!(l.check("a@x.com", ip).is_ok());
            l.failed("A@x.com", ip);
        }
        assert!(l.check("a@x.com", ip).is_err());
        assert!(
            l.check("a@x.com", Some("10.0.0.2".parse().unwrap()))
                .is_err(),
            "per account, whatever the address"
        );
        assert!(l
            .check("b@x.com", Some("10.0.0.2".parse().unwrap()))
            .is_ok());
        l.succeeded("a@x.com");
        assert!(l
            .check("a@x.com", Some("10.0.0.2".parse().unwrap()))
            .is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let l = LoginLimiter::default();
        let ip: Option<IpAddr> = Some("10.0.0.9".parse().unwrap());
        for i in 0..PER_ADDRESS {
            l.failed(&format!("u{i}@x.com"), ip);
        }
        assert!(l.check("fresh@x.com", ip).is_err());
        assert!(l
            .check("fresh@x.com", Some("10.0.0.8".parse().unwrap()))
            .is_ok());
    }
}
