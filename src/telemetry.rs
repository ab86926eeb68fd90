//! The sink's metric handles, registered once so the hot path only bumps atomics.
//!
//! Every metric carries the component labels (`component_id`, `component_type`, `component_kind`)
//! and, for the `webhook_*` ones, `stream` = `events` | `users`. Handles are created when the sink
//! is built, after the host installed its recorder.

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Label};

use crate::stream::Stream;

/// Metric names (Vector's component specification plus the webhook-specific ones).
pub mod names {
    /// Records that entered the sink (counted by the host for every sink, not by the sink).
    pub const RECEIVED_EVENTS: &str = "component_received_events_total";
    /// Bytes of the records that entered the sink (their JSON size; counted by the host).
    pub const RECEIVED_BYTES: &str = "component_received_event_bytes_total";
    /// Payloads answered 2xx.
    pub const SENT_EVENTS: &str = "component_sent_events_total";
    /// Body bytes of payloads answered 2xx.
    pub const SENT_BYTES: &str = "component_sent_event_bytes_total";
    /// Body bytes put on the wire by answered tries, retries included (`protocol="http"`).
    pub const SENT_WIRE_BYTES: &str = "component_sent_bytes_total";
    /// Errors by `error_type` and `stage`.
    pub const ERRORS: &str = "component_errors_total";
    /// Records dropped, `intentional` = true (filtered) | false (lost).
    pub const DISCARDED: &str = "component_discarded_events_total";
    /// HTTP tries by `status` (a code, or `error` / `timeout`).
    pub const REQUESTS: &str = "webhook_requests_total";
    /// Duration of one HTTP try.
    pub const REQUEST_DURATION: &str = "webhook_request_duration_seconds";
    /// From the record's ingest to its 2xx.
    pub const DELIVERY_LATENCY: &str = "webhook_delivery_latency_seconds";
    /// Final outcome per payload: `first_attempt` | `after_retry` | `expired` | `discarded`.
    pub const DELIVERIES: &str = "webhook_deliveries_total";
    /// Records waiting in the retry store.
    pub const RETRY_STORE_RECORDS: &str = "webhook_retry_store_records";
    /// HTTP tries in flight.
    pub const IN_FLIGHT: &str = "webhook_in_flight_requests";
    /// Dead letters held, per stream (a gauge).
    pub const DEAD_LETTER_RECORDS: &str = "webhook_dead_letter_records";

    /// Every metric of the sink's own (`webhook_*`), as `plugin-manifest.toml` must list them.
    pub const WEBHOOK: [&str; 7] = [
        REQUESTS,
        REQUEST_DURATION,
        DELIVERY_LATENCY,
        DELIVERIES,
        RETRY_STORE_RECORDS,
        IN_FLIGHT,
        DEAD_LETTER_RECORDS,
    ];
}

/// How a payload's delivery ended, for `webhook_deliveries_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx on the first attempt.
    FirstAttempt,
    /// 2xx on an attempt fed from the retry tier.
    AfterRetry,
    /// Every attempt failed; moved to the dead letters.
    Expired,
    /// Never sendable (template error) or dropped because the retry tier was full.
    Discarded,
}

impl Outcome {
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::FirstAttempt => "first_attempt",
            Outcome::AfterRetry => "after_retry",
            Outcome::Expired => "expired",
            Outcome::Discarded => "discarded",
        }
    }
}

pub(crate) const OUTCOMES: [Outcome; 4] = [
    Outcome::FirstAttempt,
    Outcome::AfterRetry,
    Outcome::Expired,
    Outcome::Discarded,
];

/// Handles for one stream.
#[derive(Clone)]
pub struct StreamMetrics {
    labels: Vec<Label>,
    /// `component_sent_events_total`.
    pub sent_events: Counter,
    /// `component_sent_event_bytes_total`.
    pub sent_bytes: Counter,
    /// `webhook_request_duration_seconds`.
    pub request_duration: Histogram,
    /// `webhook_delivery_latency_seconds`.
    pub delivery_latency: Histogram,
    /// `webhook_in_flight_requests`.
    pub in_flight: Gauge,
    /// `webhook_retry_store_records`.
    pub retry_store_records: Gauge,
    deliveries: [Counter; 4],
    /// `webhook_requests_total` per status code 100..=599, made on first use.
    by_status: Box<[OnceLock<Counter>]>,
    request_errors: Counter,
    request_timeouts: Counter,
}

impl StreamMetrics {
    fn new(component: &[Label], stream: Stream) -> StreamMetrics {
        let mut labels = component.to_vec();
        labels.push(Label::new("stream", stream.as_str()));
        let deliveries = OUTCOMES.map(|outcome| {
            let mut l = labels.clone();
            l.push(Label::new("outcome", outcome.label()));
            metrics::counter!(names::DELIVERIES, l)
        });
        let status_counter = |status: &'static str| {
            let mut l = labels.clone();
            l.push(Label::new("status", status));
            metrics::counter!(names::REQUESTS, l)
        };
        StreamMetrics {
            sent_events: metrics::counter!(names::SENT_EVENTS, labels.clone()),
            sent_bytes: metrics::counter!(names::SENT_BYTES, labels.clone()),
            request_duration: metrics::histogram!(names::REQUEST_DURATION, labels.clone()),
            delivery_latency: metrics::histogram!(names::DELIVERY_LATENCY, labels.clone()),
            in_flight: metrics::gauge!(names::IN_FLIGHT, labels.clone()),
            retry_store_records: metrics::gauge!(names::RETRY_STORE_RECORDS, labels.clone()),
            deliveries,
            by_status: (100..600).map(|_| OnceLock::new()).collect(),
            request_errors: status_counter("error"),
            request_timeouts: status_counter("timeout"),
            labels,
        }
    }

    /// Counts `answers` HTTP tries answered with `status`.
    pub fn request_status(&self, status: u16, answers: u64) {
        let Some(slot) = status
            .checked_sub(100)
            .and_then(|i| self.by_status.get(usize::from(i)))
        else {
            return;
        };
        slot.get_or_init(|| {
            let mut l = self.labels.clone();
            l.push(Label::new("status", status.to_string()));
            metrics::counter!(names::REQUESTS, l)
        })
        .increment(answers);
    }

    /// Counts one HTTP try that failed without an answer (`timeout` or `error`).
    pub fn request_failed(&self, timed_out: bool) {
        if timed_out {
            self.request_timeouts.increment(1);
        } else {
            self.request_errors.increment(1);
        }
    }

    /// Counts a payload's final outcome.
    pub fn delivery(&self, outcome: Outcome) {
        self.deliveries(outcome, 1);
    }

    /// Counts `payloads` payloads with the same final outcome.
    pub fn deliveries(&self, outcome: Outcome, payloads: u64) {
        self.deliveries[outcome.index()].increment(payloads);
    }
}

/// All handles of one sink. A clone holds the same counters: each dispatch lane takes its own,
/// so that the reference count bumped per request is not a cache line both cores write.
#[derive(Clone)]
pub struct SinkMetrics {
    component: Vec<Label>,
    /// `component_sent_bytes_total{protocol="http"}`.
    pub sent_wire_bytes: Counter,
    /// `component_discarded_events_total{intentional="true"}`.
    pub discarded_intentional: Counter,
    /// `component_discarded_events_total{intentional="false"}`.
    pub discarded_lost: Counter,
    events: StreamMetrics,
    users: StreamMetrics,
}

impl SinkMetrics {
    /// Registers every handle for the sink `component_id`.
    pub fn new(component_id: &str) -> Arc<SinkMetrics> {
        let component = vec![
            Label::new("component_id", component_id.to_owned()),
            Label::new("component_type", "webhook"),
            Label::new("component_kind", "sink"),
        ];
        let discarded = |intentional: &'static str| {
            let mut l = component.clone();
            l.push(Label::new("intentional", intentional));
            metrics::counter!(names::DISCARDED, l)
        };
        Arc::new(SinkMetrics {
            sent_wire_bytes: {
                let mut l = component.clone();
                l.push(Label::new("protocol", "http"));
                metrics::counter!(names::SENT_WIRE_BYTES, l)
            },
            discarded_intentional: discarded("true"),
            discarded_lost: discarded("false"),
            events: StreamMetrics::new(&component, Stream::Events),
            users: StreamMetrics::new(&component, Stream::Users),
            component,
        })
    }

    /// The handles of one stream.
    pub fn stream(&self, stream: Stream) -> &StreamMetrics {
        match stream {
            Stream::Events => &self.events,
            Stream::Users => &self.users,
        }
    }

    /// Counts an error of `error_type` at `stage` (`processing`, `sending`, `receiving`).
    pub fn error(&self, error_type: &'static str, stage: &'static str) {
        let mut l = self.component.clone();
        l.push(Label::new("error_type", error_type));
        l.push(Label::new("stage", stage));
        metrics::counter!(names::ERRORS, l).increment(1);
    }
}
