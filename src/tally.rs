//! A dispatch lane's hot-path counts, added to the sink's shared metrics in bulk.
//!
//! Each request touches about a dozen metric atomics (in-flight gauge up and down, status,
//! bytes, durations, deliveries). Shared by lanes on different cores, those cache lines bounce
//! between the cores on every request: measured at about 1 us of CPU per request on two cores,
//! more than the rest of the sink's own bookkeeping. A lane counts into its own [`LaneTally`]
//! (one lock nobody else takes) and adds it to the shared metrics every [`FLUSH_EVERY`] and when
//! it stops, so dashboards lag by at most that.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::stream::Stream;
use crate::telemetry::{Outcome, SinkMetrics, OUTCOMES};

/// How often a lane adds its tally to the shared metrics.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Where the hot path counts: straight into the sink's metrics, or into a lane's tally.
#[derive(Clone)]
pub struct HotCounts {
    metrics: Arc<SinkMetrics>,
    tally: Option<Arc<LaneTally>>,
}

/// Counts not yet added to the shared metrics.
#[derive(Default)]
pub struct LaneTally {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    streams: [StreamCounts; 2],
    wire_bytes: u64,
}

#[derive(Default)]
struct StreamCounts {
    in_flight: i64,
    /// (status, answers) for the statuses seen since the last flush.
    statuses: Vec<(u16, u64)>,
    request_seconds: Vec<f64>,
    sent_events: u64,
    sent_bytes: u64,
    deliveries: [u64; OUTCOMES.len()],
    latency_seconds: Vec<f64>,
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Events => 0,
        Stream::Users => 1,
    }
}

impl HotCounts {
    /// Counts recorded as they happen (for a stack driven outside a lane).
    pub fn direct(metrics: Arc<SinkMetrics>) -> HotCounts {
        HotCounts {
            metrics,
            tally: None,
        }
    }

    /// Counts gathered in a fresh tally until [`HotCounts::flush`].
    pub fn tallied(metrics: Arc<SinkMetrics>) -> HotCounts {
        HotCounts {
            metrics,
            tally: Some(Arc::new(LaneTally::default())),
        }
    }

    /// The sink's shared metrics, for the counts off the hot path (failures, retries).
    pub fn metrics(&self) -> &Arc<SinkMetrics> {
        &self.metrics
    }

    /// Records into the tally (false when counting directly).
    fn tally(&self, record: impl FnOnce(&mut Counts)) -> bool {
        let Some(tally) = &self.tally else {
            return false;
        };
        let mut counts = tally
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        record(&mut counts);
        true
    }

    fn with(&self, stream: Stream, record: impl FnOnce(&mut StreamCounts)) -> bool {
        self.tally(|counts| record(&mut counts.streams[slot(stream)]))
    }

    /// A try is on the wire until the returned guard drops (answered, failed or timed out).
    pub fn request_started(&self, stream: Stream) -> InFlight {
        if !self.with(stream, |c| c.in_flight += 1) {
            self.metrics.stream(stream).in_flight.increment(1.0);
        }
        InFlight {
            counts: self.clone(),
            stream,
        }
    }

    /// A try was answered with `status` after `seconds`, its body `body_bytes` long.
    pub fn request_answered(&self, stream: Stream, status: u16, body_bytes: u64, seconds: f64) {
        let tallied = self.tally(|counts| {
            counts.wire_bytes += body_bytes;
            let c = &mut counts.streams[slot(stream)];
            c.request_seconds.push(seconds);
            match c.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => c.statuses.push((status, 1)),
            }
        });
        if !tallied {
            let m = self.metrics.stream(stream);
            m.request_duration.record(seconds);
            m.request_status(status, 1);
            self.metrics.sent_wire_bytes.increment(body_bytes);
        }
    }

    /// A try got no answer after `seconds` (the failure itself is counted by the caller).
    pub fn request_unanswered(&self, stream: Stream, seconds: f64) {
        if !self.with(stream, |c| c.request_seconds.push(seconds)) {
            self.metrics.stream(stream).request_duration.record(seconds);
        }
    }

    /// A payload of `bytes` was delivered (`latency_seconds` after it entered the pipeline).
    pub fn delivered(
        &self,
        stream: Stream,
        bytes: u64,
        latency_seconds: Option<f64>,
        outcome: Outcome,
    ) {
        let tallied = self.with(stream, |c| {
            c.sent_events += 1;
            c.sent_bytes += bytes;
            c.deliveries[outcome.index()] += 1;
            c.latency_seconds.extend(latency_seconds);
        });
        if !tallied {
            let m = self.metrics.stream(stream);
            m.sent_events.increment(1);
            m.sent_bytes.increment(bytes);
            m.delivery(outcome);
            if let Some(latency) = latency_seconds {
                m.delivery_latency.record(latency);
            }
        }
    }

    /// Adds the tally (if any) to the shared metrics and empties it.
    pub fn flush(&self) {
        let Some(tally) = &self.tally else {
            return;
        };
        let counts = std::mem::take(
            &mut *tally
                .counts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if counts.wire_bytes > 0 {
            self.metrics.sent_wire_bytes.increment(counts.wire_bytes);
        }
        for (stream, c) in [Stream::Events, Stream::Users]
            .into_iter()
            .zip(counts.streams)
        {
            let m = self.metrics.stream(stream);
            match c.in_flight {
                0 => {}
                up if up > 0 => m.in_flight.increment(up as f64),
                down => m.in_flight.decrement(down.unsigned_abs() as f64),
            }
            for (status, answers) in c.statuses {
                m.request_status(status, answers);
            }
            for seconds in c.request_seconds {
                m.request_duration.record(seconds);
            }
            if c.sent_events > 0 {
                m.sent_events.increment(c.sent_events);
                m.sent_bytes.increment(c.sent_bytes);
            }
            for (outcome, n) in OUTCOMES.into_iter().zip(c.deliveries) {
                if n > 0 {
                    m.deliveries(outcome, n);
                }
            }
            for seconds in c.latency_seconds {
                m.delivery_latency.record(seconds);
            }
        }
    }
}

/// Counts one try in flight while it lives: a try dropped by the timeout is no longer in flight.
pub struct InFlight {
    counts: HotCounts,
    stream: Stream,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.counts.with(self.stream, |c| c.in_flight -= 1) {
            self.counts
                .metrics
                .stream(self.stream)
                .in_flight
                .decrement(1.0);
        }
    }
}
