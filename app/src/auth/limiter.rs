//! Rate limits of the log-in and sign-up forms (server only).
//!
//! Keyed GCRA limiters from `governor`: one call both checks and counts an attempt, atomically,
//! *before* the password is hashed. So concurrent requests cannot all pass a check made before
//! any of them was counted (48 simultaneous guesses at an account get 10 password checks, not
//! 48), and a refused attempt costs no hashing at all.
//!
//! Each limit is a burst of `N` attempts, then one more every `window / N`: at most `N` in any
//! window on average, and a locked key opens again gradually instead of all at once.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// The window the log-in limits are stated in.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Log-in attempts per e-mail address in [`LOGIN_WINDOW`], whatever the client's address.
pub const LOGIN_PER_ACCOUNT: u32 = 10;
/// Log-in attempts per client address in [`LOGIN_WINDOW`], whatever the e-mail.
pub const LOGIN_PER_ADDRESS: u32 = 50;
/// The window the sign-up limit is stated in.
pub const SIGNUP_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Sign-ups per client address in [`SIGNUP_WINDOW`].
pub const SIGNUP_PER_ADDRESS: u32 = 10;

/// How often (in calls) keys that are back at full capacity are forgotten, so memory stays
/// bounded by the attempts of the last window.
const SWEEP_EVERY: u64 = 4096;

type Keyed<K, C> =
    RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Which bucket a client address counts in: an IPv4 address, or an IPv6 /64 (one customer's
/// network, which holds 2^64 addresses). `None` (no peer address known) is one shared bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressKey(Option<IpAddr>);

impl AddressKey {
    pub fn of(ip: Option<IpAddr>) -> AddressKey {
        AddressKey(ip.map(|ip| match ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & (!0u128 << 64);
                    IpAddr::V6(prefix.into())
                }
            },
        }))
    }
}

fn quota(per_window: u32, window: Duration) -> Quota {
    let n = NonZeroU32::new(per_window).expect("a limit is at least 1");
    Quota::with_period(window / per_window)
        .expect("a limit's period is not zero")
        .allow_burst(n)
}

/// The limits of the log-in and sign-up forms, shared by every request of this process.
pub struct AuthLimiter<C: Clock + Clone = DefaultClock> {
    login_account: Keyed<String, C>,
    login_address: Keyed<AddressKey, C>,
    signup_address: Keyed<AddressKey, C>,
    clock: C,
    calls: AtomicU64,
}

impl<C: Clock + Clone> std::fmt::Debug for AuthLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLimiter").finish_non_exhaustive()
    }
}

impl Default for AuthLimiter {
    fn default() -> Self {
        AuthLimiter::with_clock(DefaultClock::default())
    }
}

impl<C: Clock + Clone> AuthLimiter<C> {
    pub fn with_clock(clock: C) -> Self {
        AuthLimiter {
            login_account: RateLimiter::dashmap_with_clock(
                quota(LOGIN_PER_ACCOUNT, LOGIN_WINDOW),
                clock.clone(),
            ),
            login_address: RateLimiter::dashmap_with_clock(
                quota(LOGIN_PER_ADDRESS, LOGIN_WINDOW),
                clock.clone(),
            ),
            signup_address: RateLimiter::dashmap_with_clock(
                quota(SIGNUP_PER_ADDRESS, SIGNUP_WINDOW),
                clock.clone(),
            ),
            clock,
            calls: AtomicU64::new(0),
        }
    }

    /// Counts one log-in attempt for this e-mail from this address, or refuses it with how long
    /// to wait. Call it before checking the password: every attempt counts, a refused one does
    /// not.
    pub fn login_attempt(&self, email: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.sweep();
        let now = self.clock.now();
        self.login_address
            .check_key(&AddressKey::of(ip))
            .map_err(|until| until.wait_time_from(now))?;
        self.login_account
            .check_key(&email.trim().to_lowercase())
            .map_err(|until| until.wait_time_from(now))?;
        Ok(())
    }

    /// Counts one sign-up from this address, or refuses it with how long to wait.
    pub fn signup_attempt(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        self.sweep();
        let now = self.clock.now();
        self.signup_address
            .check_key(&AddressKey::of(ip))
            .map_err(|until| until.wait_time_from(now))
    }

    fn sweep(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.login_account.retain_recent();
            self.login_address.retain_recent();
            self.signup_address.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_account_is_limited_whatever_the_address() {
        let clock = FakeRelativeClock::default();
        let l = AuthLimiter::with_clock(clock.clone());
        for i in 0..LOGIN_PER_ACCOUNT {
            assert!(l
                .login_attempt("a@x.com", ip(&format!("10.0.0.{i}")))
                .is_ok());
        }
        let wait = l.login_attempt(" A@X.com", ip("10.0.1.1")).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= LOGIN_WINDOW / LOGIN_PER_ACCOUNT);
        assert!(
            l.login_attempt("b@x.com", ip("10.0.1.1")).is_ok(),
            "other accounts are not"
        );
        // One more attempt every window / N.
        clock.advance(LOGIN_WINDOW / LOGIN_PER_ACCOUNT);
        assert!(l.login_attempt("a@x.com", ip("10.0.1.1")).is_ok());
        assert!(l.login_attempt("a@x.com", ip("10.0.1.1")).is_err());
        clock.advance(LOGIN_WINDOW);
        for _ in 0..LOGIN_PER_ACCOUNT {
            assert!(l.login_attempt("a@x.com", ip("10.0.1.1")).is_ok());
        }
    }

    #[test]
    fn an_address_is_limited_across_accounts_and_only_itself() {
        let l = AuthLimiter::with_clock(FakeRelativeClock::default());
        for i in 0..LOGIN_PER_ADDRESS {
            assert!(l
                .login_attempt(&format!("u{i}@x.com"), ip("10.0.0.9"))
                .is_ok());
        }
        assert!(l.login_attempt("fresh@x.com", ip("10.0.0.9")).is_err());
        assert!(l.login_attempt("fresh@x.com", ip("10.0.0.8")).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2:aaaa::1")),
            AddressKey::of(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            AddressKey::of(ip("2001:db8:1:2::1")),
            AddressKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            AddressKey::of(ip("::ffff:192.0.2.7")),
            AddressKey::of(ip("192.0.2.7"))
        );
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_limit() {
        let l = std::sync::Arc::new(AuthLimiter::with_clock(FakeRelativeClock::default()));
        let threads: Vec<_> = (0..48)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    l.login_attempt("target@x.com", ip(&format!("10.1.0.{i}")))
                        .is_ok()
                })
            })
            .collect();
        let allowed = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(allowed, LOGIN_PER_ACCOUNT as usize);
    }

    #[test]
    fn sign_ups_are_limited_per_address() {
        let l = AuthLimiter::with_clock(FakeRelativeClock::default());
        for _ in 0..SIGNUP_PER_ADDRESS {
            assert!(l.signup_attempt(ip("10.0.0.1")).is_ok());
        }
        let wait = l.signup_attempt(ip("10.0.0.1")).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= SIGNUP_WINDOW / SIGNUP_PER_ADDRESS);
        assert!(l.signup_attempt(ip("10.0.0.2")).is_ok());
    }
}
