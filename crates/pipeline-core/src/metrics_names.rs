//! The component metrics of Vector's component specification, emitted through the `metrics`
//! facade with the `component_id`, `component_type` and `component_kind` labels.
//!
//! Handles are bound to the recorder installed when they are created: the host installs its
//! Prometheus recorder before building any component, so build [`ComponentMetrics`] in a
//! component's constructor, not in a `static`.

use metrics::{counter, Counter, Label};

/// Events a component accepted (sources: decoded records; sinks: events taken from the input).
pub const COMPONENT_RECEIVED_EVENTS_TOTAL: &str = "component_received_events_total";
/// Bytes of the events a component accepted, measured as compact JSON.
pub const COMPONENT_RECEIVED_EVENT_BYTES_TOTAL: &str = "component_received_event_bytes_total";
/// Raw bytes a source read from outside, before decoding.
pub const COMPONENT_RECEIVED_BYTES_TOTAL: &str = "component_received_bytes_total";
/// Events a component passed on (sources, transforms) or delivered (sinks).
pub const COMPONENT_SENT_EVENTS_TOTAL: &str = "component_sent_events_total";
/// Bytes of the events a component passed on or delivered, measured as compact JSON.
pub const COMPONENT_SENT_EVENT_BYTES_TOTAL: &str = "component_sent_event_bytes_total";
/// Raw bytes a sink wrote to its destination (e.g. HTTP request bodies).
pub const COMPONENT_SENT_BYTES_TOTAL: &str = "component_sent_bytes_total";
/// Errors, labelled `error_type` and `stage`.
pub const COMPONENT_ERRORS_TOTAL: &str = "component_errors_total";
/// Events a component threw away, labelled `intentional` (`true` for filtering).
pub const COMPONENT_DISCARDED_EVENTS_TOTAL: &str = "component_discarded_events_total";

/// Every component metric name, for the plugin manifest and its test.
pub const ALL: [&str; 8] = [
    COMPONENT_RECEIVED_EVENTS_TOTAL,
    COMPONENT_RECEIVED_EVENT_BYTES_TOTAL,
    COMPONENT_RECEIVED_BYTES_TOTAL,
    COMPONENT_SENT_EVENTS_TOTAL,
    COMPONENT_SENT_EVENT_BYTES_TOTAL,
    COMPONENT_SENT_BYTES_TOTAL,
    COMPONENT_ERRORS_TOTAL,
    COMPONENT_DISCARDED_EVENTS_TOTAL,
];

/// Values of the `stage` label of [`COMPONENT_ERRORS_TOTAL`].
pub mod stage {
    /// Reading or decoding input.
    pub const RECEIVING: &str = "receiving";
    /// Transforming, filtering, rendering.
    pub const PROCESSING: &str = "processing";
    /// Delivering to the destination.
    pub const SENDING: &str = "sending";
}

/// Values of the `error_type` label of [`COMPONENT_ERRORS_TOTAL`] (Vector's vocabulary).
pub mod error_type {
    /// Input could not be decoded (e.g. a malformed JSON line).
    pub const PARSER_FAILED: &str = "parser_failed";
    /// Reading from the input failed.
    pub const READER_FAILED: &str = "reader_failed";
    /// Writing to the destination failed.
    pub const WRITER_FAILED: &str = "writer_failed";
    /// A request failed (transport error or unsuccessful status).
    pub const REQUEST_FAILED: &str = "request_failed";
    /// An encoding or rendering step failed.
    pub const ENCODER_FAILED: &str = "encoder_failed";
    /// A timeout elapsed.
    pub const TIMED_OUT: &str = "timed_out";
}

/// The kind of a component, the `component_kind` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentKind {
    /// Produces events.
    Source,
    /// Changes or filters events.
    Transform,
    /// Delivers events.
    Sink,
}

impl ComponentKind {
    /// The label value (`source`, `transform`, `sink`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Source => "source",
            ComponentKind::Transform => "transform",
            ComponentKind::Sink => "sink",
        }
    }
}

/// The component metrics of one component, with its labels bound.
#[derive(Clone)]
pub struct ComponentMetrics {
    labels: Vec<Label>,
    received_events: Counter,
    received_event_bytes: Counter,
    received_bytes: Counter,
    sent_events: Counter,
    sent_event_bytes: Counter,
    sent_bytes: Counter,
    discarded_intentional: Counter,
    discarded_unintentional: Counter,
}

impl std::fmt::Debug for ComponentMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentMetrics")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl ComponentMetrics {
    /// Metrics for component `component_id` of type `component_type` (e.g. `webhook`).
    pub fn new(kind: ComponentKind, component_id: &str, component_type: &str) -> ComponentMetrics {
        let labels = vec![
            Label::new("component_id", component_id.to_string()),
            Label::new("component_type", component_type.to_string()),
            Label::new("component_kind", kind.as_str()),
        ];
        let with = |extra: Option<(&'static str, &'static str)>| {
            let mut all = labels.clone();
            if let Some((key, value)) = extra {
                all.push(Label::new(key, value));
            }
            all
        };
        ComponentMetrics {
            received_events: counter!(COMPONENT_RECEIVED_EVENTS_TOTAL, with(None)),
            received_event_bytes: counter!(COMPONENT_RECEIVED_EVENT_BYTES_TOTAL, with(None)),
            received_bytes: counter!(COMPONENT_RECEIVED_BYTES_TOTAL, with(None)),
            sent_events: counter!(COMPONENT_SENT_EVENTS_TOTAL, with(None)),
            sent_event_bytes: counter!(COMPONENT_SENT_EVENT_BYTES_TOTAL, with(None)),
            sent_bytes: counter!(COMPONENT_SENT_BYTES_TOTAL, with(None)),
            discarded_intentional: counter!(
                COMPONENT_DISCARDED_EVENTS_TOTAL,
                with(Some(("intentional", "true")))
            ),
            discarded_unintentional: counter!(
                COMPONENT_DISCARDED_EVENTS_TOTAL,
                with(Some(("intentional", "false")))
            ),
            labels,
        }
    }

    /// The `component_*` labels, to add to a component's own metrics.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// `count` events of `event_bytes` JSON bytes were accepted.
    pub fn received_events(&self, count: usize, event_bytes: usize) {
        self.received_events.increment(count as u64);
        self.received_event_bytes.increment(event_bytes as u64);
    }

    /// `bytes` raw bytes were read from outside.
    pub fn received_bytes(&self, bytes: usize) {
        self.received_bytes.increment(bytes as u64);
    }

    /// `count` events of `event_bytes` JSON bytes were passed on or delivered.
    pub fn sent_events(&self, count: usize, event_bytes: usize) {
        self.sent_events.increment(count as u64);
        self.sent_event_bytes.increment(event_bytes as u64);
    }

    /// `bytes` raw bytes were written to the destination.
    pub fn sent_bytes(&self, bytes: usize) {
        self.sent_bytes.increment(bytes as u64);
    }

    /// One error of `error_type` (see [`error_type`]) at `stage` (see [`stage`]).
    pub fn error(&self, error_type: &'static str, stage: &'static str) {
        let mut labels = self.labels.clone();
        labels.push(Label::new("error_type", error_type));
        labels.push(Label::new("stage", stage));
        counter!(COMPONENT_ERRORS_TOTAL, labels).increment(1);
    }

    /// `count` events were thrown away; `intentional` is true when that was the point (filtering).
    pub fn discarded(&self, count: usize, intentional: bool) {
        if intentional {
            self.discarded_intentional.increment(count as u64);
        } else {
            self.discarded_unintentional.increment(count as u64);
        }
    }
}
