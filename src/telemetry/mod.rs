//! Every metric the sink emits, registered once so the hot path only bumps atomics.
//!
//! Each carries the component labels (`component_id`, `component_type`, `component_kind`) and, for
//! the `webhook_*` ones, `stream` = `events` | `users`. The `component_*` names are
//! pipeline-core's (Vector's component specification); the `webhook_*` names are defined here
//! and nowhere else. Handles are created when the sink is built, after the host installed its
//! recorder. Who updates what: the dispatch stack's measuring layer counts tries
//! ([`crate::dispatch`]), the sink's settlement counts records ([`crate::sink`]), the retry
//! store sets its gauges and the circuits their state, all through the handles below.

mod lane_counts;

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Label};
use pipeline_core::metrics_names::{self as component, stage};

use crate::retry::circuit::CircuitState;
use crate::stream::Stream;

pub use lane_counts::{HotCounts, InFlight, Progress, FLUSH_EVERY};

/// The `webhook_*` metric names.
pub mod names {
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
    /// Age of the oldest record in the retry store (since it entered the pipeline).
    pub const RETRY_STORE_OLDEST_AGE: &str = "webhook_retry_store_oldest_age_seconds";
    /// Records that went to the retry store without an attempt, by `reason` =
    /// `circuit_open` | `spill`.
    pub const ABSORBED: &str = "webhook_absorbed_records_total";
    /// HTTP tries in flight.
    pub const IN_FLIGHT: &str = "webhook_in_flight_requests";
    /// Dead letters held, per stream (a gauge).
    pub const DEAD_LETTER_RECORDS: &str = "webhook_dead_letter_records";
    /// The stream's circuit: 0 closed, 1 open, 2 probing.
    pub const CIRCUIT_STATE: &str = "webhook_circuit_state";
    /// Times the stream's circuit opened.
    pub const CIRCUIT_OPENED: &str = "webhook_circuit_opened_total";

    /// Every metric of the sink's own (`webhook_*`), as `plugin-manifest.toml` must list them.
    pub const WEBHOOK: [&str; 11] = [
        REQUESTS,
        REQUEST_DURATION,
        DELIVERY_LATENCY,
        DELIVERIES,
        RETRY_STORE_RECORDS,
        RETRY_STORE_OLDEST_AGE,
        ABSORBED,
        IN_FLIGHT,
        DEAD_LETTER_RECORDS,
        CIRCUIT_STATE,
        CIRCUIT_OPENED,
    ];
}

/// How a payload's delivery ended, for `webhook_deliveries_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx on the first attempt.
    FirstAttempt,
    /// 2xx on an attempt fed from the retry store.
    AfterRetry,
    /// Every attempt failed; moved to the dead letters.
    Expired,
    /// Never sendable (template error) or dropped because the retry store was full.
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

/// Why a record went to the store without an attempt, for `webhook_absorbed_records_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsorbReason {
    /// Its stream's circuit was open.
    CircuitOpen,
    /// The lanes stayed busy past `store.spill_after`.
    Spill,
}

impl AbsorbReason {
    fn label(self) -> &'static str {
        match self {
            AbsorbReason::CircuitOpen => "circuit_open",
            AbsorbReason::Spill => "spill",
        }
    }
}

/// The sink's errors, for `component_errors_total{error_type, stage}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkError {
    /// An attempt failed (it goes to the store).
    RequestFailed,
    /// A payload's template failed (the record is rejected).
    TemplateFailed,
    /// The retry store could not take or update a record.
    StoreFailed,
    /// A record's attempts are spent (it became a dead letter).
    DeliveryExpired,
}

impl SinkError {
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            SinkError::RequestFailed => (component::error_type::REQUEST_FAILED, stage::SENDING),
            SinkError::TemplateFailed => ("template_failed", stage::PROCESSING),
            SinkError::StoreFailed => ("store_failed", stage::SENDING),
            SinkError::DeliveryExpired => ("delivery_expired", stage::SENDING),
        }
    }
}

fn with(
    labels: &[Label],
    key: &'static str,
    value: impl Into<metrics::SharedString>,
) -> Vec<Label> {
    let mut all = labels.to_vec();
    all.push(Label::new(key, value));
    all
}

/// Handles for one stream.
#[derive(Clone)]
pub struct StreamMetrics {
    labels: Vec<Label>,
    pub(crate) sent_events: Counter,
    pub(crate) sent_bytes: Counter,
    pub(crate) request_duration: Histogram,
    pub(crate) delivery_latency: Histogram,
    pub(crate) in_flight: Gauge,
    retry_store_records: Gauge,
    deliveries: [Counter; 4],
    absorbed: [Counter; 2],
    /// `webhook_requests_total` per status code 100..=599, made on first use.
    by_status: Box<[OnceLock<Counter>]>,
    request_errors: Counter,
    request_timeouts: Counter,
}

impl StreamMetrics {
    fn new(component: &[Label], stream: Stream) -> StreamMetrics {
        let labels = with(component, "stream", stream.as_str());
        let status = |status: &'static str| {
            metrics::counter!(names::REQUESTS, with(&labels, "status", status))
        };
        let absorbed = |reason: AbsorbReason| {
            metrics::counter!(names::ABSORBED, with(&labels, "reason", reason.label()))
        };
        StreamMetrics {
            sent_events: metrics::counter!(component::COMPONENT_SENT_EVENTS_TOTAL, labels.clone()),
            sent_bytes: metrics::counter!(
                component::COMPONENT_SENT_EVENT_BYTES_TOTAL,
                labels.clone()
            ),
            request_duration: metrics::histogram!(names::REQUEST_DURATION, labels.clone()),
            delivery_latency: metrics::histogram!(names::DELIVERY_LATENCY, labels.clone()),
            in_flight: metrics::gauge!(names::IN_FLIGHT, labels.clone()),
            retry_store_records: metrics::gauge!(names::RETRY_STORE_RECORDS, labels.clone()),
            deliveries: OUTCOMES.map(|outcome| {
                metrics::counter!(names::DELIVERIES, with(&labels, "outcome", outcome.label()))
            }),
            absorbed: [
                absorbed(AbsorbReason::CircuitOpen),
                absorbed(AbsorbReason::Spill),
            ],
            by_status: (100..600).map(|_| OnceLock::new()).collect(),
            request_errors: status("error"),
            request_timeouts: status("timeout"),
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
            metrics::counter!(
                names::REQUESTS,
                with(&self.labels, "status", status.to_string())
            )
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

    /// Counts `records` that went to the store without an attempt.
    pub fn absorbed(&self, reason: AbsorbReason, records: u64) {
        let index = match reason {
            AbsorbReason::CircuitOpen => 0,
            AbsorbReason::Spill => 1,
        };
        self.absorbed[index].increment(records);
    }

    /// A record entered (`+1`) or left (`-1`) the retry store.
    pub fn store_records(&self, change: f64) {
        self.retry_store_records.increment(change);
    }
}

/// The handles a circuit sets.
#[derive(Clone)]
pub struct CircuitMetrics {
    state: Gauge,
    opened: Counter,
}

impl CircuitMetrics {
    /// Handles for the circuit of `stream` of the component labelled `component`.
    pub fn new(component: &[Label], stream: Stream) -> CircuitMetrics {
        let labels = with(component, "stream", stream.as_str());
        CircuitMetrics {
            state: metrics::gauge!(names::CIRCUIT_STATE, labels.clone()),
            opened: metrics::counter!(names::CIRCUIT_OPENED, labels),
        }
    }

    /// The circuit is now in `state`.
    pub fn state(&self, state: CircuitState) {
        self.state.set(state.value());
    }

    /// The circuit opened.
    pub fn opened(&self) {
        self.opened.increment(1);
    }
}

/// The gauges the retry store keeps, per stream.
#[derive(Clone)]
pub struct StoreGauges {
    /// `webhook_retry_store_records`.
    pub records: [Gauge; 2],
    /// `webhook_dead_letter_records`.
    pub dead_letters: [Gauge; 2],
    /// `webhook_retry_store_oldest_age_seconds`.
    pub oldest_age: [Gauge; 2],
}

/// All handles of one sink. A clone holds the same counters: each dispatch lane takes its own,
/// so that the reference count bumped per request is not a cache line both cores write.
#[derive(Clone)]
pub struct SinkMetrics {
    component: Vec<Label>,
    sent_wire_bytes: Counter,
    discarded_intentional: Counter,
    discarded_lost: Counter,
    streams: [StreamMetrics; 2],
}

impl SinkMetrics {
    /// Registers every handle for the sink `component_id`.
    pub fn new(component_id: &str) -> Arc<SinkMetrics> {
        let component = vec![
            Label::new("component_id", component_id.to_owned()),
            Label::new("component_type", crate::SINK_TYPE),
            Label::new("component_kind", "sink"),
        ];
        let discarded = |intentional: &'static str| {
            metrics::counter!(
                component::COMPONENT_DISCARDED_EVENTS_TOTAL,
                with(&component, "intentional", intentional)
            )
        };
        Arc::new(SinkMetrics {
            sent_wire_bytes: metrics::counter!(
                component::COMPONENT_SENT_BYTES_TOTAL,
                with(&component, "protocol", "http")
            ),
            discarded_intentional: discarded("true"),
            discarded_lost: discarded("false"),
            streams: Stream::ALL.map(|stream| StreamMetrics::new(&component, stream)),
            component,
        })
    }

    /// The handles of one stream.
    pub fn stream(&self, stream: Stream) -> &StreamMetrics {
        &self.streams[stream.index()]
    }

    /// Counts one error.
    pub fn error(&self, error: SinkError) {
        let (error_type, stage) = error.labels();
        let labels = with(
            &with(&self.component, "error_type", error_type),
            "stage",
            stage,
        );
        metrics::counter!(component::COMPONENT_ERRORS_TOTAL, labels).increment(1);
    }

    /// Counts a record that yields no payload (filtered out, `$groupidentify`).
    pub fn filtered(&self) {
        self.discarded_intentional.increment(1);
    }

    /// Counts `records` thrown away against the user's wishes (store full, or lost at shutdown).
    pub fn lost(&self, records: u64) {
        self.discarded_lost.increment(records);
    }

    /// Counts request body bytes put on the wire.
    pub fn wire_bytes(&self, bytes: u64) {
        self.sent_wire_bytes.increment(bytes);
    }

    /// The handles of each stream's circuit.
    pub fn circuits(&self) -> [CircuitMetrics; 2] {
        Stream::ALL.map(|stream| CircuitMetrics::new(&self.component, stream))
    }

    /// The gauges of the sink's retry store.
    pub fn store_gauges(&self) -> StoreGauges {
        let gauge = |name: &'static str, stream: Stream| {
            metrics::gauge!(name, with(&self.component, "stream", stream.as_str()))
        };
        StoreGauges {
            records: Stream::ALL.map(|s| self.stream(s).retry_store_records.clone()),
            dead_letters: Stream::ALL.map(|s| gauge(names::DEAD_LETTER_RECORDS, s)),
            oldest_age: Stream::ALL.map(|s| gauge(names::RETRY_STORE_OLDEST_AGE, s)),
        }
    }
}
