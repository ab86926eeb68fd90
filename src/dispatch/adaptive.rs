//! An adaptive concurrency limit in the spirit of Vector's ARC: additive increase, multiplicative decrease.
//!
//! The limit starts small and grows by one permit after a full window of answers (as many as the
//! current limit) that came back without backpressure and without the round-trip time rising well
//! above its moving average. A 429, a 503, a transport error or a sharp RTT rise cuts the limit to 90%.
//! Readiness waits for a permit, so the sink pulls no more work than the limit allows.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::{Layer, Service};

use super::{TryError, TryResponse};

/// The limit the controller starts from.
const INITIAL_LIMIT: usize = 8;
/// Multiplicative decrease factor.
const DECREASE: f64 = 0.9;
/// An RTT above this multiple of the moving average counts as a congestion signal.
const RTT_RISE: f64 = 2.0;

struct Controller {
    semaphore: Arc<Semaphore>,
    state: Mutex<ControllerState>,
}

struct ControllerState {
    limit: usize,
    max: usize,
    /// Permits to retire as they come back (after a decrease).
    debt: usize,
    /// Good answers since the last increase.
    good: usize,
    /// Moving average of the RTT in seconds (0 until the first answer).
    rtt_average: f64,
}

impl Controller {
    /// Records one answer; returns whether the caller's permit must be retired instead of returned.
    fn observe(&self, rtt: f64, congested: bool) -> bool {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let rising = state.rtt_average > 0.0 && rtt > state.rtt_average * RTT_RISE;
        state.rtt_average = if state.rtt_average == 0.0 {
            rtt
        } else {
            state.rtt_average * 0.9 + rtt * 0.1
        };
        if congested || rising {
            let target = ((state.limit as f64 * DECREASE) as usize).max(1);
            state.debt += state.limit - target;
            state.limit = target;
            state.good = 0;
        } else {
            state.good += 1;
            if state.good >= state.limit && state.limit < state.max {
                state.good = 0;
                state.limit += 1;
                if state.debt > 0 {
                    state.debt -= 1;
                } else {
                    self.semaphore.add_permits(1);
                }
            }
        }
        if state.debt > 0 {
            state.debt -= 1;
            true
        } else {
            false
        }
    }

    fn limit(&self) -> usize {
        match self.state.lock() {
            Ok(state) => state.limit,
            Err(poisoned) => poisoned.into_inner().limit,
        }
    }
}

/// Limits in-flight attempts to an adaptively chosen number between 1 and `max`.
#[derive(Clone)]
pub struct AdaptiveLimitLayer {
    controller: Arc<Controller>,
}

impl AdaptiveLimitLayer {
    /// A limiter that never exceeds `max` in-flight attempts.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        let initial = INITIAL_LIMIT.min(max);
        AdaptiveLimitLayer {
            controller: Arc::new(Controller {
                semaphore: Arc::new(Semaphore::new(initial)),
                state: Mutex::new(ControllerState {
                    limit: initial,
                    max,
                    debt: 0,
                    good: 0,
                    rtt_average: 0.0,
                }),
            }),
        }
    }

    /// The current limit (for tests and progress output).
    pub fn current_limit(&self) -> usize {
        self.controller.limit()
    }
}

impl<S> Layer<S> for AdaptiveLimitLayer {
    type Service = AdaptiveLimit<S>;

    fn layer(&self, inner: S) -> AdaptiveLimit<S> {
        AdaptiveLimit {
            inner,
            controller: Arc::clone(&self.controller),
            semaphore: PollSemaphore::new(Arc::clone(&self.controller.semaphore)),
            permit: None,
        }
    }
}

/// See [`AdaptiveLimitLayer`].
pub struct AdaptiveLimit<S> {
    inner: S,
    controller: Arc<Controller>,
    semaphore: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
}

impl<S: Clone> Clone for AdaptiveLimit<S> {
    fn clone(&self) -> Self {
        AdaptiveLimit {
            inner: self.inner.clone(),
            controller: Arc::clone(&self.controller),
            semaphore: self.semaphore.clone(),
            permit: None,
        }
    }
}

impl<S, Req> Service<Req> for AdaptiveLimit<S>
where
    S: Service<Req, Response = TryResponse, Error = TryError>,
    S::Future: Send + 'static,
{
    type Response = TryResponse;
    type Error = TryError;
    type Future = Pin<Box<dyn Future<Output = Result<TryResponse, TryError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TryError>> {
        if self.permit.is_none() {
            match self.semaphore.poll_acquire(cx) {
                Poll::Ready(Some(permit)) => self.permit = Some(permit),
                // The semaphore is never closed; treat it as not ready rather than failing.
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let permit = self.permit.take();
        let controller = Arc::clone(&self.controller);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let started = Instant::now();
            let result = answer.await;
            let congested = match &result {
                Ok(response) => {
                    response.status == http::StatusCode::TOO_MANY_REQUESTS
                        || response.status == http::StatusCode::SERVICE_UNAVAILABLE
                }
                Err(_) => true,
            };
            if controller.observe(started.elapsed().as_secs_f64(), congested) {
                if let Some(permit) = permit {
                    permit.forget();
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_grows_by_one_per_good_window_and_shrinks_on_congestion() {
        let layer = AdaptiveLimitLayer::new(20);
        assert_eq!(layer.current_limit(), 8);
        for _ in 0..8 {
            layer.controller.observe(0.01, false);
        }
        assert_eq!(layer.current_limit(), 9);
        assert_eq!(layer.controller.semaphore.available_permits(), 9);
        let retire = layer.controller.observe(0.01, true);
        assert_eq!(layer.current_limit(), 8);
        assert!(retire, "the answer's permit is retired to shrink the pool");
    }

    #[test]
    fn limit_never_exceeds_max_nor_drops_below_one() {
        let layer = AdaptiveLimitLayer::new(3);
        for _ in 0..100 {
            layer.controller.observe(0.01, false);
        }
        assert_eq!(layer.current_limit(), 3);
        for _ in 0..100 {
            layer.controller.observe(0.01, true);
        }
        assert_eq!(layer.current_limit(), 1);
    }
}
