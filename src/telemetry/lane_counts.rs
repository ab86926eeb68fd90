//! A dispatch lane's hot-path counts, added to the sink's shared metrics in bulk, and the lane's
//! progress as the stall watchdog reads it.
//!
//! Each try touches about a dozen metric atomics (in-flight gauge up and down, status, bytes,
//! durations, deliveries). Shared by lanes on different cores, those cache lines bounce between
//! the cores on every request: measured at about 1 us of CPU per request on two cores, more than
//! the rest of the sink's own bookkeeping. A lane counts into its own tally (one lock nobody
//! else takes but the watchdog, four times a second) and adds it to the shared metrics every
//! [`FLUSH_EVERY`] and when it stops, so dashboards lag by at most that.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Outcome, SinkMetrics, OUTCOMES};
use crate::stream::Stream;

/// How often a lane adds its tally to the shared metrics.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Weight of the newest answer in a lane's typical answer time.
const TYPICAL_WEIGHT: f64 = 0.05;

/// Where the hot path counts: straight into the sink's metrics, or into a lane's tally.
#[derive(Clone)]
pub struct HotCounts {
    metrics: Arc<SinkMetrics>,
    tally: Option<Arc<Mutex<Tally>>>,
}

#[derive(Default)]
struct Tally {
    /// Counts not yet added to the shared metrics.
    pending: Counts,
    progress: ProgressState,
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
    failed: u64,
    timed_out: u64,
    sent_events: u64,
    sent_bytes: u64,
    deliveries: [u64; OUTCOMES.len()],
    latency_seconds: Vec<f64>,
}

/// A lane's tries as the stall watchdog sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Tries on the wire now.
    pub in_flight: u32,
    /// When a try last ended, or when the lane went from idle to busy if later: every try in
    /// flight has been waiting at least since then.
    pub since: Instant,
    /// The lane's typical answer time (a moving average), once it has seen an answer.
    pub typical: Option<Duration>,
}

struct ProgressState {
    in_flight: u32,
    since: Instant,
    typical_seconds: Option<f64>,
}

impl Default for ProgressState {
    fn default() -> Self {
        ProgressState {
            in_flight: 0,
            since: Instant::now(),
            typical_seconds: None,
        }
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
            tally: Some(Arc::default()),
        }
    }

    /// The sink's shared metrics, for the counts off the hot path.
    pub fn metrics(&self) -> &Arc<SinkMetrics> {
        &self.metrics
    }

    fn lock(&self) -> Option<MutexGuard<'_, Tally>> {
        let tally = self.tally.as_ref()?;
        Some(
            tally
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Records into the tally (false when counting directly).
    fn tally(&self, record: impl FnOnce(&mut Tally)) -> bool {
        match self.lock() {
            Some(mut tally) => {
                record(&mut tally);
                true
            }
            None => false,
        }
    }

    /// A try is on the wire until the returned guard drops (answered, failed or timed out).
    pub fn request_started(&self, stream: Stream) -> InFlight {
        let tallied = self.tally(|t| {
            t.pending.streams[stream.index()].in_flight += 1;
            if t.progress.in_flight == 0 {
                t.progress.since = Instant::now();
            }
            t.progress.in_flight += 1;
        });
        if !tallied {
            self.metrics.stream(stream).in_flight.increment(1.0);
        }
        InFlight {
            counts: self.clone(),
            stream,
        }
    }

    /// A try was answered with `status` after `seconds`, its body `body_bytes` long.
    pub fn request_answered(&self, stream: Stream, status: u16, body_bytes: u64, seconds: f64) {
        let tallied = self.tally(|t| {
            t.pending.wire_bytes += body_bytes;
            let c = &mut t.pending.streams[stream.index()];
            c.request_seconds.push(seconds);
            match c.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => c.statuses.push((status, 1)),
            }
            let typical = t.progress.typical_seconds.get_or_insert(seconds);
            *typical += TYPICAL_WEIGHT * (seconds - *typical);
        });
        if !tallied {
            let m = self.metrics.stream(stream);
            m.request_duration.record(seconds);
            m.request_status(status, 1);
            self.metrics.wire_bytes(body_bytes);
        }
    }

    /// A try got no answer after `seconds`: a transport error, or no answer within the timeout.
    pub fn request_unanswered(&self, stream: Stream, seconds: f64, timed_out: bool) {
        let tallied = self.tally(|t| {
            let c = &mut t.pending.streams[stream.index()];
            c.request_seconds.push(seconds);
            if timed_out {
                c.timed_out += 1;
            } else {
                c.failed += 1;
            }
        });
        if !tallied {
            let m = self.metrics.stream(stream);
            m.request_duration.record(seconds);
            m.request_failed(timed_out);
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
        let tallied = self.tally(|t| {
            let c = &mut t.pending.streams[stream.index()];
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

    /// The lane's progress (`None` when counting directly, outside a lane).
    pub fn progress(&self) -> Option<Progress> {
        let tally = self.lock()?;
        let p = &tally.progress;
        Some(Progress {
            in_flight: p.in_flight,
            since: p.since,
            typical: p.typical_seconds.map(Duration::from_secs_f64),
        })
    }

    /// Adds the tally (if any) to the shared metrics and empties it.
    pub fn flush(&self) {
        let Some(counts) = self.lock().map(|mut t| std::mem::take(&mut t.pending)) else {
            return;
        };
        if counts.wire_bytes > 0 {
            self.metrics.wire_bytes(counts.wire_bytes);
        }
        for (stream, c) in Stream::ALL.into_iter().zip(counts.streams) {
            let m = self.metrics.stream(stream);
            match c.in_flight {
                0 => {}
                up if up > 0 => m.in_flight.increment(up as f64),
                down => m.in_flight.decrement(down.unsigned_abs() as f64),
            }
            for (status, answers) in c.statuses {
                m.request_status(status, answers);
            }
            for _ in 0..c.failed {
                m.request_failed(false);
            }
            for _ in 0..c.timed_out {
                m.request_failed(true);
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
        let stream = self.stream;
        let tallied = self.counts.tally(|t| {
            t.pending.streams[stream.index()].in_flight -= 1;
            t.progress.in_flight = t.progress.in_flight.saturating_sub(1);
            t.progress.since = Instant::now();
        });
        if !tallied {
            self.counts.metrics.stream(stream).in_flight.decrement(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_starts_when_a_lane_gets_busy_and_moves_when_a_try_ends() {
        let counts = HotCounts::tallied(SinkMetrics::new("tally-test"));
        let idle = counts.progress().unwrap();
        assert_eq!(idle.in_flight, 0);
        assert_eq!(idle.typical, None);
        std::thread::sleep(Duration::from_millis(5));

        let first = counts.request_started(Stream::Events);
        let busy = counts.progress().unwrap();
        assert_eq!(busy.in_flight, 1);
        assert!(busy.since > idle.since, "a try started on an idle lane");
        let second = counts.request_started(Stream::Users);
        assert_eq!(counts.progress().unwrap().since, busy.since);

        counts.request_answered(Stream::Events, 200, 10, 0.004);
        drop(first);
        let later = counts.progress().unwrap();
        assert_eq!(later.in_flight, 1);
        assert!(later.since > busy.since);
        assert_eq!(later.typical, Some(Duration::from_secs_f64(0.004)));
        drop(second);
        assert_eq!(counts.progress().unwrap().in_flight, 0);
        counts.flush();
    }
}
