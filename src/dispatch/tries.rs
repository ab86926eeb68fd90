//! The in-attempt retry policy: up to `tries` tries with doubling, jittered backoff inside a time budget.
//!
//! A 2xx ends the attempt as a success; 3xx and 4xx other than 429 end it at once; 5xx, 429 and
//! transport errors (refused, reset, per-try timeout) are retried after `initial_backoff * 2^(n-1)`
//! scaled by a random factor in `[1 - jitter, 1 + jitter]`. A `Retry-After` answer replaces the
//! backoff when it fits the budget and ends the attempt when it does not. No try starts later than
//! `attempt_budget` after the first one started.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tower::retry::Policy;

use super::{Payload, TryError, TryResponse};

/// Retry settings of one attempt (`[sinks.ID.retry]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptSettings {
    /// Tries within one attempt, at least 1.
    pub tries: u32,
    /// Wait before the second try; doubles for each later one.
    pub initial_backoff: Duration,
    /// Relative jitter applied to each wait, in `[0, 1]`.
    pub jitter: f64,
    /// No try starts later than this after the attempt's first try started.
    pub attempt_budget: Duration,
}

impl Default for AttemptSettings {
    fn default() -> Self {
        AttemptSettings {
            tries: 3,
            initial_backoff: Duration::from_millis(100),
            jitter: 0.5,
            attempt_budget: Duration::from_secs(4),
        }
    }
}

impl AttemptSettings {
    /// The un-jittered wait after try `try_number` (1-based) failed.
    pub fn backoff(&self, try_number: u32) -> Duration {
        let doublings = try_number.saturating_sub(1).min(30);
        self.initial_backoff.saturating_mul(1u32 << doublings)
    }

    /// The wait after try `try_number` failed, with jitter drawn from `rng`.
    pub fn jittered_backoff(&self, try_number: u32, rng: &mut impl Rng) -> Duration {
        let base = self.backoff(try_number);
        if self.jitter <= 0.0 {
            return base;
        }
        let factor = rng.gen_range(1.0 - self.jitter..=1.0 + self.jitter);
        base.mul_f64(factor.max(0.0))
    }
}

/// Whether a try's result calls for another try (before budget and count are considered).
pub fn is_retryable(result: &Result<TryResponse, TryError>) -> bool {
    match result {
        Ok(response) => {
            response.status.is_server_error()
                || response.status == http::StatusCode::TOO_MANY_REQUESTS
        }
        Err(_) => true,
    }
}

/// The tower retry policy; tower clones it per request, so `started` is per attempt.
#[derive(Clone)]
pub struct AttemptPolicy {
    settings: Arc<AttemptSettings>,
    started: Instant,
}

impl AttemptPolicy {
    /// A policy applying `settings` to every attempt.
    pub fn new(settings: AttemptSettings) -> Self {
        AttemptPolicy {
            settings: Arc::new(settings),
            started: Instant::now(),
        }
    }
}

impl Policy<Payload, TryResponse, TryError> for AttemptPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Payload,
        result: &mut Result<TryResponse, TryError>,
    ) -> Option<Self::Future> {
        if !is_retryable(result) || request.try_number >= self.settings.tries {
            return None;
        }
        let retry_after = result.as_ref().ok().and_then(|r| r.retry_after);
        let wait = match retry_after {
            Some(wait) => wait,
            None => self
                .settings
                .jittered_backoff(request.try_number, &mut rand::thread_rng()),
        };
        if self.started.elapsed() + wait > self.settings.attempt_budget {
            return None;
        }
        request.try_number += 1;
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &Payload) -> Option<Payload> {
        if request.try_number <= 1 {
            // Called once before the first try of each attempt: the budget starts now.
            self.started = Instant::now();
        }
        Some(request.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_from_the_initial_wait() {
        let settings = AttemptSettings::default();
        assert_eq!(settings.backoff(1), Duration::from_millis(100));
        assert_eq!(settings.backoff(2), Duration::from_millis(200));
        assert_eq!(settings.backoff(3), Duration::from_millis(400));
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let settings = AttemptSettings::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let waits: Vec<Duration> = (0..1000)
            .map(|_| settings.jittered_backoff(2, &mut rng))
            .collect();
        assert!(waits.iter().all(|w| *w >= Duration::from_millis(100)));
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(300)));
        // Not a constant: the jitter actually spreads the waits.
        let min = waits.iter().min().copied().unwrap_or_default();
        let max = waits.iter().max().copied().unwrap_or_default();
        assert!(max - min > Duration::from_millis(150));
    }
}
