//! Selection: which payloads a record yields, per stream, after classification and filters.
//!
//! An event yields an event payload (stream enabled, type selected, condition met) and a user
//! payload (stream enabled, condition met on the user record); an `$identify` yields only the
//! user payload; a `$groupidentify` yields nothing. A record that yields nothing is counted as
//! intentionally discarded. A payload whose template fails is rejected; the record's other payload
//! still goes on.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use pipeline_core::condition::Condition;
use pipeline_core::{EventArray, EventFinalizers, EventStatus};
use serde_json::{Map, Value};

use crate::config::{StreamConfig, WebhookConfig};
use crate::payload::{PayloadFormat, Payloads, RenderError};
use crate::record::{classify, user_record, Kind};
use crate::stream::Stream;
use crate::telemetry::{Outcome, SinkMetrics};
use crate::time::normalize_times;

/// One payload ready to send, with what its acknowledgement needs.
pub struct Job {
    /// Its stream.
    pub stream: Stream,
    /// The exact body.
    pub body: Bytes,
    /// The record's finalizers (shared by an event's two payloads; the worst status wins).
    pub finalizers: EventFinalizers,
    /// When the record entered the pipeline.
    pub received_at: SystemTime,
}

/// What one record yields.
#[derive(Debug)]
pub struct Selection {
    /// How the record was classified.
    pub kind: Kind,
    /// The payloads, in stream order (events first), each rendered or failed.
    pub payloads: Vec<(Stream, Result<Bytes, RenderError>)>,
}

struct StreamFilter {
    enabled: bool,
    event_types: Option<HashSet<String>>,
    condition: Option<Condition>,
    format: PayloadFormat,
}

impl StreamFilter {
    fn new(config: &StreamConfig, format: &PayloadFormat) -> Self {
        StreamFilter {
            enabled: config.enabled,
            event_types: config
                .event_types
                .as_ref()
                .map(|types| types.iter().cloned().collect()),
            condition: config.condition.clone(),
            format: format.clone(),
        }
    }

    fn passes(&self, record: &Map<String, Value>) -> bool {
        self.condition.as_ref().is_none_or(|c| c.matches(record))
    }

    fn selects_type(&self, record: &Map<String, Value>) -> bool {
        match &self.event_types {
            None => true,
            Some(types) => record
                .get("event_type")
                .and_then(Value::as_str)
                .is_some_and(|t| types.contains(t)),
        }
    }
}

/// Turns records into payloads according to a sink's config.
pub struct Selector {
    events: StreamFilter,
    users: StreamFilter,
    metrics: Arc<SinkMetrics>,
    render_failures: RateLimitedLog,
    /// The last record's JSON size: pre-sizes the next payload buffers without measuring each record.
    last_size: AtomicUsize,
}

impl Selector {
    /// A selector for `config` rendering with `payloads`.
    pub fn new(config: &WebhookConfig, payloads: &Payloads, metrics: Arc<SinkMetrics>) -> Self {
        Selector {
            events: StreamFilter::new(&config.events, payloads.format(Stream::Events)),
            users: StreamFilter::new(&config.users, payloads.format(Stream::Users)),
            metrics,
            render_failures: RateLimitedLog::new(Duration::from_secs(10)),
            last_size: AtomicUsize::new(512),
        }
    }

    /// Classifies, filters and renders one record; `size_hint` is its JSON size when known (0 if not).
    pub fn select(&self, mut fields: Map<String, Value>, size_hint: usize) -> Selection {
        let kind = classify(&fields);
        let mut payloads = Vec::with_capacity(2);
        if kind == Kind::GroupIdentify {
            return Selection { kind, payloads };
        }
        normalize_times(&mut fields);
        let wants_event = kind == Kind::Event
            && self.events.enabled
            && self.events.selects_type(&fields)
            && self.events.passes(&fields);
        if self.users.enabled {
            let user = user_record(&fields);
            if self.users.passes(&user) {
                let user = Value::Object(user);
                payloads.push((Stream::Users, self.users.format.build(&user, size_hint / 2)));
            }
        }
        if wants_event {
            let event = Value::Object(fields);
            payloads.insert(
                0,
                (Stream::Events, self.events.format.build(&event, size_hint)),
            );
        }
        Selection { kind, payloads }
    }

    /// Expands a batch into jobs, acknowledging and counting what yields nothing or fails to render.
    pub fn expand(&self, batch: EventArray, jobs: &mut VecDeque<Job>) {
        // Received events and bytes are counted by the host for every sink, not here.
        for mut event in batch {
            let finalizers = event.take_finalizers();
            let received_at = event.metadata().received_at();
            let size_hint = self.last_size.load(Ordering::Relaxed);
            let selection = self.select(event.into_fields(), size_hint);
            if let Some((stream, Ok(body))) = selection.payloads.first() {
                // `select` gives a user payload half the record's size.
                let factor = if *stream == Stream::Users { 2 } else { 1 };
                self.last_size.store(body.len() * factor, Ordering::Relaxed);
            }
            if selection.payloads.is_empty() {
                // Finalizers dropped untouched: the record ends as intentionally dropped.
                self.metrics.discarded_intentional.increment(1);
                continue;
            }
            for (stream, rendered) in selection.payloads {
                match rendered {
                    Ok(body) => jobs.push_back(Job {
                        stream,
                        body,
                        finalizers: finalizers.clone(),
                        received_at,
                    }),
                    Err(error) => {
                        self.metrics.error("template_failed", "processing");
                        self.metrics.stream(stream).delivery(Outcome::Discarded);
                        finalizers.update_status(EventStatus::Rejected);
                        self.render_failures.log(&error, stream);
                    }
                }
            }
        }
    }
}

/// Logs the first failure, then at most one summary per `interval` (a bad template fails every record).
struct RateLimitedLog {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    fn new(interval: Duration) -> Self {
        RateLimitedLog {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    fn log(&self, error: &RenderError, stream: Stream) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, suppressed) = &mut *state;
        let due = last.is_none_or(|at| at.elapsed() >= self.interval);
        if due {
            tracing::error!(%error, %stream, suppressed_since_last = *suppressed, "payload not rendered; record rejected");
            *last = Some(Instant::now());
            *suppressed = 0;
        } else {
            *suppressed += 1;
        }
    }
}
