//! When to try again: the configured backoff schedule with jitter, and `Retry-After`.

use std::time::Duration;

/// Delays before retry 1, 2, … (the last repeats), each with ±`jitter` randomisation so that
/// many deliveries failing together do not retry together.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
    /// Fraction of each delay to randomise by, both ways (0.2 = ±20%).
    pub jitter: f64,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl RetrySchedule {
    /// Parses `5s,30s,2m,1h`: numbers with a unit of `ms`, `s`, `m`, `h` or `d`.
    pub fn parse(s: &str) -> Result<RetrySchedule, String> {
        let delays = s
            .split(',')
            .map(|part| parse_duration(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("the retry schedule needs at least one delay".into());
        }
        if let Some(long) = delays.iter().find(|d| **d > MAX_RETRY_DELAY) {
            return Err(format!(
                "a retry delay of {} s is longer than the longest allowed, 30 days",
                long.as_secs()
            ));
        }
        Ok(RetrySchedule {
            delays,
            jitter: 0.2,
            max_retry_after: Duration::from_secs(3600),
        })
    }

    /// The delay before retry number `retry` (1 for the first retry), jittered.
    pub fn delay(&self, retry: u32) -> Duration {
        let idx = (retry.max(1) as usize - 1).min(self.delays.len() - 1);
        let base = self.delays[idx].as_secs_f64();
        let factor = 1.0 + self.jitter * (2.0 * unit_random() - 1.0);
        Duration::from_secs_f64((base * factor).max(0.0))
    }

    /// The delay a `Retry-After` value asks for, within bounds.
    pub fn honour_retry_after(&self, asked: Duration) -> Duration {
        asked.min(self.max_retry_after)
    }
}

/// The longest delay a retry schedule may have (a due time must stay far from overflow).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30 * 86400);

/// Parses `500ms`, `30s`, `5m`, `2h` or `3d` (at most about 290 million years, so that it
/// always fits in milliseconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` needs a unit (ms, s, m, h or d)"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s or 5m"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{s}`: the unit must be ms, s, m, h or d")),
    };
    n.checked_mul(ms_per_unit)
        .filter(|ms| *ms <= i64::MAX as u64)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too long a duration"))
}

/// Reads `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// A uniform number in [0, 1) from the OS RNG (cheap enough per retry).
fn unit_random() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_repeat_their_last_delay() {
        let mut s = RetrySchedule::parse("5s, 2m,1h").unwrap();
        s.jitter = 0.0;
        assert_eq!(s.delay(1), Duration::from_secs(5));
        assert_eq!(s.delay(2), Duration::from_secs(120));
        assert_eq!(s.delay(3), Duration::from_secs(3600));
        assert_eq!(s.delay(9), Duration::from_secs(3600));
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("5").is_err());
        assert!(RetrySchedule::parse("5y").is_err());
    }

    #[test]
    fn huge_delays_are_refused_not_wrapped() {
        assert!(parse_duration("18446744073709551615d").is_err());
        assert!(parse_duration("999999999999999999s").is_err());
        let err = RetrySchedule::parse("5s,31d").unwrap_err();
        assert!(err.contains("30 days"), "{err}");
        assert!(RetrySchedule::parse("5s,30d").is_ok());
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let s = RetrySchedule::parse("100s").unwrap();
        for _ in 0..200 {
            let d = s.delay(1).as_secs_f64();
            assert!((80.0..=120.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        let s = RetrySchedule::parse("1s").unwrap();
        assert_eq!(
            s.honour_retry_after(Duration::from_secs(86400)),
            Duration::from_secs(3600)
        );
    }
}
