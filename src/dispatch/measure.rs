//! The per-try measurement: every try's duration and answer (status, transport error or timeout)
//! counted in one place, outside the timeout so that a try the timeout ended is counted as one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

use super::{Payload, TryError, TryResponse};
use crate::stream::Stream;
use crate::telemetry::{HotCounts, InFlight};

/// Measures each try into `counts` (a lane's own, or the metrics directly).
#[derive(Clone)]
pub struct MeasureLayer {
    counts: HotCounts,
}

impl MeasureLayer {
    /// A layer counting into `counts`.
    pub fn new(counts: HotCounts) -> Self {
        MeasureLayer { counts }
    }
}

impl<S> Layer<S> for MeasureLayer {
    type Service = Measure<S>;

    fn layer(&self, inner: S) -> Measure<S> {
        Measure {
            inner,
            counts: self.counts.clone(),
        }
    }
}

/// See [`MeasureLayer`].
#[derive(Clone)]
pub struct Measure<S> {
    inner: S,
    counts: HotCounts,
}

impl<S> Service<Payload> for Measure<S>
where
    S: Service<Payload, Response = TryResponse, Error = TryError>,
{
    type Response = TryResponse;
    type Error = TryError;
    type Future = Measured<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TryError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, payload: Payload) -> Self::Future {
        let stream = payload.stream;
        let body_bytes = payload.body.len() as u64;
        let in_flight = Some(self.counts.request_started(stream));
        Measured {
            answer: self.inner.call(payload),
            counts: self.counts.clone(),
            stream,
            body_bytes,
            started: Instant::now(),
            in_flight,
        }
    }
}

pin_project_lite::pin_project! {
    /// One try being measured (a named future: no allocation per try).
    pub struct Measured<F> {
        #[pin]
        answer: F,
        counts: HotCounts,
        stream: Stream,
        body_bytes: u64,
        started: Instant,
        in_flight: Option<InFlight>,
    }
}

impl<F> Future for Measured<F>
where
    F: Future<Output = Result<TryResponse, TryError>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.answer.poll(cx));
        let seconds = this.started.elapsed().as_secs_f64();
        match &result {
            Ok(response) => this.counts.request_answered(
                *this.stream,
                response.status.as_u16(),
                *this.body_bytes,
                seconds,
            ),
            Err(error) => this.counts.request_unanswered(
                *this.stream,
                seconds,
                matches!(error, TryError::Timeout { .. }),
            ),
        }
        // No longer in flight once counted (a dropped try is uncounted on drop).
        this.in_flight.take();
        Poll::Ready(result)
    }
}
