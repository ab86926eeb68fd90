//! The per-try timeout: a try that has no answer within `request.timeout` fails as a transport error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

use super::{Payload, TryError, TryResponse};

/// Wraps a service so each call gives up after `timeout`.
#[derive(Clone)]
pub struct PerTryTimeoutLayer {
    timeout: Duration,
}

impl PerTryTimeoutLayer {
    /// A layer that fails a try after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        PerTryTimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for PerTryTimeoutLayer {
    type Service = PerTryTimeout<S>;

    fn layer(&self, inner: S) -> PerTryTimeout<S> {
        PerTryTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// See [`PerTryTimeoutLayer`].
#[derive(Clone)]
pub struct PerTryTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Payload> for PerTryTimeout<S>
where
    S: Service<Payload, Response = TryResponse, Error = TryError>,
    S::Future: Send + 'static,
{
    type Response = TryResponse;
    type Error = TryError;
    type Future = Pin<Box<dyn Future<Output = Result<TryResponse, TryError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TryError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, payload: Payload) -> Self::Future {
        let timeout = self.timeout;
        let try_number = payload.try_number;
        let answer = self.inner.call(payload);
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(result) => result,
                Err(_) => Err(TryError::Timeout {
                    timeout,
                    try_number,
                }),
            }
        })
    }
}
