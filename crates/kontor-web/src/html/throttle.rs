//! Login throttling: after too many failed sign-ins for one e-mail address or from one client address
//! within a window, further attempts are refused until the oldest failure leaves the window.
//!
//! Counts are kept per process. Behind a load balancer each node counts on its own, so the effective
//! limit is at most the limit times the number of nodes; still a hard brake on password guessing,
//! without a KV write on every login attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts per key in a sliding window.
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// At most `max_failures` failed attempts per key in any `window`.
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when one of `keys` has used up its failures; `wait` is when the next attempt may come.
    pub fn check(&self, keys: &[&str]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = failures.get_mut(*key) {
                prune(times, now, self.window);
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max(self.window.saturating_sub(now.duration_since(*oldest)));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed attempt against every one of `keys`.
    pub fn failed(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Keys of attackers are bounded by pruning stale ones once the map grows.
        if failures.len() > 100_000 {
            failures.retain(|_, times| {
                prune(times, now, self.window);
                !times.is_empty()
            });
        }
        for key in keys {
            failures.entry((*key).to_owned()).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `keys` after a successful sign-in.
    pub fn succeeded(&self, keys: &[&str]) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in keys {
            failures.remove(*key);
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|time| now.duration_since(*time) >= window) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_key_and_a_success_resets_it() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check(&["email:a", "ip:1"]).is_ok());
            throttle.failed(&["email:a", "ip:1"]);
        }
        let wait = throttle.check(&["email:a"]).expect_err("blocked");
        assert!(wait > Duration::from_secs(50));
        assert!(throttle.check(&["email:b"]).is_ok(), "other addresses are not blocked");
        throttle.succeeded(&["email:a"]);
        assert!(throttle.check(&["email:a"]).is_ok());
        assert!(throttle.check(&["ip:1"]).is_err(), "the client address still counts");
    }

    #[test]
    fn failures_leave_the_window() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(20));
        throttle.failed(&["k"]);
        assert!(throttle.check(&["k"]).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(throttle.check(&["k"]).is_ok());
    }
}

/// The client's IP address as the server saw the connection (`"unknown"` when the server was not
/// started with connect info), for throttling keys. Forwarded headers are not trusted here: anyone
/// could send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
        Ok(Self(address))
    }
}
