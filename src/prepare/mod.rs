//! Preparation: which payloads a record yields, per stream, and their bytes.
//!
//! A record is classified ([`record`]), its time fields normalized ([`time`]), filtered per
//! stream, and rendered ([`payload`], with templates through [`template`]). An event yields an
//! event payload (stream enabled, type selected, condition met) and a user payload (stream
//! enabled, condition met on the user record); an `$identify` yields only the user payload; a
//! `$groupidentify` yields nothing. A record that yields nothing is settled as intentionally
//! discarded. A payload whose template fails is rejected; the record's other payload still goes
//! on. [`preview`] runs the same steps for `webhook-sink preview`.

pub mod lint;
pub mod payload;
pub mod preview;
pub mod record;
pub mod template;
pub mod time;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use pipeline_core::condition::Condition;
use pipeline_core::{EventArray, EventFinalizers};
use serde_json::{Map, Value};

use crate::config::{StreamConfig, WebhookConfig};
use crate::sink::settle::Ledger;
use crate::stream::Stream;
use payload::{PayloadFormat, Payloads};
use record::{classify, user_record, Kind};
use time::normalize_times;

pub use payload::RenderError;

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
pub struct Preparer {
    events: StreamFilter,
    users: StreamFilter,
    /// The last record's JSON size: pre-sizes the next payload buffers without measuring each record.
    last_size: AtomicUsize,
}

impl Preparer {
    /// A preparer for `config` rendering with `payloads`.
    pub fn new(config: &WebhookConfig, payloads: &Payloads) -> Self {
        Preparer {
            events: StreamFilter::new(&config.events, payloads.format(Stream::Events)),
            users: StreamFilter::new(&config.users, payloads.format(Stream::Users)),
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

    /// The value a stream's template sees for `fields`, built as [`Preparer::select`] builds it.
    fn template_input(&self, stream: Stream, mut fields: Map<String, Value>) -> Value {
        normalize_times(&mut fields);
        match stream {
            Stream::Events => Value::Object(fields),
            Stream::Users => Value::Object(user_record(&fields)),
        }
    }

    /// Expands a batch into jobs; what yields nothing or fails to render is settled by `ledger`.
    pub(crate) fn prepare(&self, batch: EventArray, ledger: &Ledger) -> Vec<Job> {
        // Received events and bytes are counted by the host for every sink, not here.
        let mut jobs = Vec::with_capacity(batch.len() * 2);
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
                ledger.filtered(finalizers);
                continue;
            }
            for (stream, rendered) in selection.payloads {
                match rendered {
                    Ok(body) => jobs.push(Job {
                        stream,
                        body,
                        finalizers: finalizers.clone(),
                        received_at,
                    }),
                    Err(error) => ledger.render_failed(stream, &finalizers, &error),
                }
            }
        }
        jobs
    }
}
