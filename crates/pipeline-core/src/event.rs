//! The unit of data flowing through the pipeline: an [`Event`] (a JSON object whose key order is
//! preserved, plus metadata) and an [`EventArray`] (the batch that channels carry).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::finalization::{BatchNotifier, EventFinalizer, EventFinalizers};

/// What the pipeline knows about an event besides its fields.
#[derive(Clone, Debug)]
pub struct EventMetadata {
    finalizers: EventFinalizers,
    source_id: Option<Arc<str>>,
    received_at: SystemTime,
}

impl EventMetadata {
    fn new() -> EventMetadata {
        EventMetadata {
            finalizers: EventFinalizers::default(),
            source_id: None,
            received_at: SystemTime::now(),
        }
    }

    /// The finalizers that report this event's outcome to its source.
    pub fn finalizers(&self) -> &EventFinalizers {
        &self.finalizers
    }

    /// The id of the source component that produced the event, if the host set it.
    pub fn source_id(&self) -> Option<&str> {
        self.source_id.as_deref()
    }

    /// When the event entered the pipeline (for delivery latency).
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }
}

/// One record: a JSON object (key order preserved, so templates see keys as they came) plus
/// [`EventMetadata`].
#[derive(Debug)]
pub struct Event {
    fields: Map<String, Value>,
    metadata: EventMetadata,
    /// [`Event::json_byte_size`] once computed, `UNKNOWN_SIZE` until then or after a change:
    /// every component reports event bytes, and serializing once per event is enough.
    json_size: AtomicUsize,
}

const UNKNOWN_SIZE: usize = usize::MAX;

impl Clone for Event {
    fn clone(&self) -> Event {
        Event {
            fields: self.fields.clone(),
            metadata: self.metadata.clone(),
            json_size: AtomicUsize::new(self.json_size.load(Ordering::Relaxed)),
        }
    }
}

impl Event {
    /// An event with the given fields, received now, with no finalizers.
    pub fn new(fields: Map<String, Value>) -> Event {
        Event {
            fields,
            metadata: EventMetadata::new(),
            json_size: AtomicUsize::new(UNKNOWN_SIZE),
        }
    }

    /// The event's fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The event's fields, for changing them.
    pub fn fields_mut(&mut self) -> &mut Map<String, Value> {
        *self.json_size.get_mut() = UNKNOWN_SIZE;
        &mut self.fields
    }

    /// The fields, consuming the event; its finalizers are dropped (status unchanged).
    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }

    /// The event's metadata.
    pub fn metadata(&self) -> &EventMetadata {
        &self.metadata
    }

    /// Move the finalizers out of the event, so that the caller decides when the outcome is
    /// final. The event keeps none.
    pub fn take_finalizers(&mut self) -> EventFinalizers {
        std::mem::take(&mut self.metadata.finalizers)
    }

    /// Attach a finalizer reporting to `notifier`.
    pub fn with_batch_notifier(mut self, notifier: &Arc<BatchNotifier>) -> Event {
        self.metadata
            .finalizers
            .add(EventFinalizer::new(Arc::clone(notifier)));
        self
    }

    /// Record the id of the source that produced the event.
    pub fn with_source_id(mut self, source_id: Arc<str>) -> Event {
        self.metadata.source_id = Some(source_id);
        self
    }

    /// Record when the event entered the pipeline.
    pub fn with_received_at(mut self, received_at: SystemTime) -> Event {
        self.metadata.received_at = received_at;
        self
    }

    /// The size of the fields serialized as compact JSON (strings counted without escapes, as
    /// Vector estimates it), the figure behind the `*_event_bytes_total` metrics. Computed once
    /// and remembered until the fields change.
    pub fn json_byte_size(&self) -> usize {
        let cached = self.json_size.load(Ordering::Relaxed);
        if cached != UNKNOWN_SIZE {
            return cached;
        }
        let size = crate::json::object_size(&self.fields);
        self.json_size.store(size, Ordering::Relaxed);
        size
    }
}

impl From<Map<String, Value>> for Event {
    fn from(fields: Map<String, Value>) -> Event {
        Event::new(fields)
    }
}

/// A batch of events: what channels carry between components (one stdin read, one HTTP
/// request's events). A sink handles each event of a batch on its own.
#[derive(Clone, Debug, Default)]
pub struct EventArray(Vec<Event>);

impl EventArray {
    /// A batch of the given events.
    pub fn new(events: Vec<Event>) -> EventArray {
        EventArray(events)
    }

    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The events, by reference.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.0.iter()
    }

    /// The events, for changing them.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Event> {
        self.0.iter_mut()
    }

    /// Keep only the events for which `keep` returns true; the others are dropped (and with them
    /// their finalizers, so their status stays as it was).
    pub fn retain(&mut self, keep: impl FnMut(&Event) -> bool) {
        self.0.retain(keep);
    }

    /// The events, consuming the batch.
    pub fn into_events(self) -> Vec<Event> {
        self.0
    }

    /// The summed [`Event::json_byte_size`] of the batch.
    pub fn json_byte_size(&self) -> usize {
        self.0.iter().map(Event::json_byte_size).sum()
    }
}

impl From<Vec<Event>> for EventArray {
    fn from(events: Vec<Event>) -> EventArray {
        EventArray(events)
    }
}

impl From<Event> for EventArray {
    fn from(event: Event) -> EventArray {
        EventArray(vec![event])
    }
}

impl FromIterator<Event> for EventArray {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> EventArray {
        EventArray(iter.into_iter().collect())
    }
}

impl IntoIterator for EventArray {
    type Item = Event;
    type IntoIter = std::vec::IntoIter<Event>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a EventArray {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finalization::{BatchStatus, EventStatus};
    use futures::FutureExt;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn key_order_is_preserved() {
        let event = Event::new(object(json!({"zeta": 1, "alpha": 2, "mid": 3})));
        let keys: Vec<&str> = event.fields().keys().map(String::as_str).collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn json_byte_size_is_the_compact_serialization_when_nothing_needs_escaping() {
        let event = Event::new(object(json!({"a": "é", "b": [1, 2]})));
        let text = serde_json::to_string(event.fields()).unwrap();
        assert_eq!(event.json_byte_size(), text.len());
    }

    #[test]
    fn json_byte_size_follows_changes_to_the_fields() {
        let mut event = Event::new(object(json!({"a": 1})));
        assert_eq!(event.json_byte_size(), 7);
        event.fields_mut().insert("bb".into(), json!("xyz"));
        assert_eq!(event.json_byte_size(), r#"{"a":1,"bb":"xyz"}"#.len());
        assert_eq!(event.clone().json_byte_size(), event.json_byte_size());
    }

    #[test]
    fn taken_finalizers_decide_the_batch_outcome() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let mut event = Event::new(object(json!({"x": 1}))).with_batch_notifier(&notifier);
        drop(notifier);
        let finalizers = event.take_finalizers();
        assert!(event.metadata().finalizers().is_empty());
        drop(event);
        finalizers.update_status(EventStatus::Rejected);
        drop(finalizers);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Rejected));
    }

    #[test]
    fn retain_drops_filtered_events_as_dropped() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let mut batch: EventArray = (0..3)
            .map(|n| Event::new(object(json!({ "n": n }))).with_batch_notifier(&notifier))
            .collect();
        drop(notifier);
        batch.retain(|event| event.fields()["n"] == json!(1));
        assert_eq!(batch.len(), 1);
        for event in batch.iter() {
            event
                .metadata()
                .finalizers()
                .update_status(EventStatus::Delivered);
        }
        drop(batch);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Delivered));
    }
}
