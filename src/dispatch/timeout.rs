//! The per-try timeout: a try that has no answer within `request.timeout` fails as a transport error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

use super::{Payload, TryError, TryResponse};
use crate::telemetry::SinkMetrics;

/// Wraps a service so each call gives up after `timeout`.
#[derive(Clone)]
pub struct PerTryTimeoutLayer {
    timeout: Duration,
    metrics: Arc<SinkMetrics>,
}

impl PerTryTimeoutLayer {
    /// A layer that fails a try after `timeout`, counting it as `webhook_requests_total{status="timeout"}`.
    pub fn new(timeout: Duration, metrics: Arc<SinkMetrics>) -> Self {
        PerTryTimeoutLayer { timeout, metrics }
    }
}

impl<S> Layer<S> for PerTryTimeoutLayer {
    type Service = PerTryTimeout<S>;

    fn layer(&self, inner: S) -> PerTryTimeout<S> {
        PerTryTimeout {
            inner,
            timeout: self.timeout,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// See [`PerTryTimeoutLayer`].
#[derive(Clone)]
pub struct PerTryTimeout<S> {
    inner: S,
    timeout: Duration,
    metrics: Arc<SinkMetrics>,
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
        let stream = payload.stream;
        let metrics = Arc::clone(&self.metrics);
        let answer = self.inner.call(payload);
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(result) => result,
                Err(_) => {
                    metrics.stream(stream).request_failed(true);
                    Err(TryError::Timeout {
                        timeout,
                        try_number,
                    })
                }
            }
        })
    }
}
