//! End-to-end acknowledgements: the status an event ends with, the finalizers that carry it
//! from a sink back to the source, and the batch notifier that tells the source the outcome.
//!
//! A source that wants to know what became of a batch creates a [`BatchNotifier`] with its
//! [`BatchStatusReceiver`], attaches the notifier to each event ([`crate::Event::with_batch_notifier`])
//! and drops its own handle. Every event then carries an [`EventFinalizer`]; a sink records the
//! outcome with [`EventFinalizers::update_status`]. When the last finalizer of the batch is dropped
//! the notifier resolves the receiver with the worst status seen.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// What became of one event. Ordered so that the worst outcome wins when statuses are merged:
/// `Dropped < Delivered < Errored < Rejected`.
///
/// `Dropped` is the starting status: an event that no sink took responsibility for (e.g. it was
/// filtered out) ends as `Dropped`, which a source treats as done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventStatus {
    /// Nobody updated the status: the event was discarded on purpose (filtered) or never reached a sink.
    Dropped = 0,
    /// The sink delivered the event or committed it to durable storage.
    Delivered = 1,
    /// Delivery failed in a way that might succeed if the event were sent again.
    Errored = 2,
    /// The event can never be delivered (e.g. its payload cannot be rendered).
    Rejected = 3,
}

impl EventStatus {
    /// The worse of two statuses (the lattice join).
    pub fn merge(self, other: EventStatus) -> EventStatus {
        self.max(other)
    }

    fn from_u8(value: u8) -> EventStatus {
        match value {
            0 => EventStatus::Dropped,
            1 => EventStatus::Delivered,
            2 => EventStatus::Errored,
            _ => EventStatus::Rejected,
        }
    }
}

/// The outcome of a whole batch as reported to its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BatchStatus {
    /// Every event was delivered or dropped on purpose.
    Delivered,
    /// At least one event errored (and none was rejected).
    Errored,
    /// At least one event was rejected.
    Rejected,
}

impl From<EventStatus> for BatchStatus {
    fn from(status: EventStatus) -> BatchStatus {
        match status {
            EventStatus::Dropped | EventStatus::Delivered => BatchStatus::Delivered,
            EventStatus::Errored => BatchStatus::Errored,
            EventStatus::Rejected => BatchStatus::Rejected,
        }
    }
}

/// Collects the statuses of a batch's events and reports the worst one to the
/// [`BatchStatusReceiver`] when the last reference to it is dropped.
#[derive(Debug)]
pub struct BatchNotifier {
    status: AtomicU8,
    sender: Mutex<Option<oneshot::Sender<BatchStatus>>>,
}

impl BatchNotifier {
    /// A notifier and the receiver that resolves once every event of the batch is finalized.
    ///
    /// Attach the notifier to the batch's events, then drop the returned `Arc`: the receiver
    /// resolves when the last event's finalizer is dropped (immediately if none was attached).
    pub fn new_with_receiver() -> (Arc<BatchNotifier>, BatchStatusReceiver) {
        let (sender, receiver) = oneshot::channel();
        let notifier = BatchNotifier {
            status: AtomicU8::new(EventStatus::Dropped as u8),
            sender: Mutex::new(Some(sender)),
        };
        (Arc::new(notifier), BatchStatusReceiver { receiver })
    }

    fn update_status(&self, status: EventStatus) {
        // Most events report what the batch already holds; a read spares the write that the
        // threads finishing a batch's events would otherwise contend for. The status only rises.
        if self.status.load(Ordering::Acquire) < status as u8 {
            self.status.fetch_max(status as u8, Ordering::AcqRel);
        }
    }

    fn status(&self) -> EventStatus {
        EventStatus::from_u8(self.status.load(Ordering::Acquire))
    }
}

impl Drop for BatchNotifier {
    fn drop(&mut self) {
        let sender = match self.sender.get_mut() {
            Ok(sender) => sender.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(sender) = sender {
            // The source may have stopped listening; that is not an error.
            let _ = sender.send(self.status().into());
        }
    }
}

/// Resolves to the status of a batch once all its events are finalized.
///
/// If the notifier vanished without reporting (it cannot, short of a panic while dropping), the
/// receiver resolves to [`BatchStatus::Errored`].
#[derive(Debug)]
pub struct BatchStatusReceiver {
    receiver: oneshot::Receiver<BatchStatus>,
}

impl Future for BatchStatusReceiver {
    type Output = BatchStatus;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BatchStatus> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|result| result.unwrap_or(BatchStatus::Errored))
    }
}

/// One event's link to its batch: holds the event's status and, when dropped, folds it into the
/// batch's status.
#[derive(Debug)]
pub struct EventFinalizer {
    status: AtomicU8,
    batch: Arc<BatchNotifier>,
}

impl EventFinalizer {
    /// A finalizer that reports to `batch`.
    pub fn new(batch: Arc<BatchNotifier>) -> EventFinalizer {
        EventFinalizer {
            status: AtomicU8::new(EventStatus::Dropped as u8),
            batch,
        }
    }

    /// Record an outcome; the worst outcome recorded wins.
    pub fn update_status(&self, status: EventStatus) {
        self.status.fetch_max(status as u8, Ordering::AcqRel);
    }

    /// The worst outcome recorded so far.
    pub fn status(&self) -> EventStatus {
        EventStatus::from_u8(self.status.load(Ordering::Acquire))
    }
}

impl Drop for EventFinalizer {
    fn drop(&mut self) {
        self.batch.update_status(self.status());
    }
}

/// The finalizers an event carries (none, one, or several after events were merged).
///
/// Cloning is cheap and shares the finalizers: when one event becomes two payloads (an event
/// and its user record), each payload holds a clone and both must be dropped before the batch
/// is finalized; the worst status either records wins.
#[derive(Clone, Debug, Default)]
pub struct EventFinalizers(Held);

/// Almost every event holds exactly one finalizer: kept inline, it costs no list allocation per
/// event and per clone.
#[derive(Clone, Debug, Default)]
enum Held {
    #[default]
    None,
    One(Arc<EventFinalizer>),
    Many(Vec<Arc<EventFinalizer>>),
}

impl Held {
    fn as_slice(&self) -> &[Arc<EventFinalizer>] {
        match self {
            Held::None => &[],
            Held::One(finalizer) => std::slice::from_ref(finalizer),
            Held::Many(finalizers) => finalizers,
        }
    }

    fn push(&mut self, finalizer: Arc<EventFinalizer>) {
        *self = match std::mem::take(self) {
            Held::None => Held::One(finalizer),
            Held::One(first) => Held::Many(vec![first, finalizer]),
            Held::Many(mut finalizers) => {
                finalizers.push(finalizer);
                Held::Many(finalizers)
            }
        };
    }

    fn into_vec(self) -> Vec<Arc<EventFinalizer>> {
        match self {
            Held::None => Vec::new(),
            Held::One(finalizer) => vec![finalizer],
            Held::Many(finalizers) => finalizers,
        }
    }
}

impl EventFinalizers {
    /// Finalizers holding one finalizer.
    pub fn new(finalizer: EventFinalizer) -> EventFinalizers {
        EventFinalizers(Held::One(Arc::new(finalizer)))
    }

    /// True when there is nothing to acknowledge.
    pub fn is_empty(&self) -> bool {
        self.0.as_slice().is_empty()
    }

    /// How many distinct finalizers are held.
    pub fn len(&self) -> usize {
        self.0.as_slice().len()
    }

    /// Record an outcome on every finalizer held; the worst outcome recorded wins.
    pub fn update_status(&self, status: EventStatus) {
        for finalizer in self.0.as_slice() {
            finalizer.update_status(status);
        }
    }

    /// Take over `other`'s finalizers, so that this set finalizes them too.
    pub fn merge(&mut self, other: EventFinalizers) {
        for finalizer in other.0.into_vec() {
            if !self
                .0
                .as_slice()
                .iter()
                .any(|held| Arc::ptr_eq(held, &finalizer))
            {
                self.0.push(finalizer);
            }
        }
    }

    /// Add one finalizer.
    pub fn add(&mut self, finalizer: EventFinalizer) {
        self.0.push(Arc::new(finalizer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn finalizers_for(notifier: &Arc<BatchNotifier>) -> EventFinalizers {
        EventFinalizers::new(EventFinalizer::new(Arc::clone(notifier)))
    }

    #[test]
    fn lattice_orders_dropped_delivered_errored_rejected() {
        use EventStatus::*;
        assert!(Dropped < Delivered && Delivered < Errored && Errored < Rejected);
        assert_eq!(Delivered.merge(Errored), Errored);
        assert_eq!(Rejected.merge(Delivered), Rejected);
        assert_eq!(Dropped.merge(Dropped), Dropped);
        assert_eq!(Errored.merge(Dropped), Errored);
    }

    #[test]
    fn worst_status_wins_whatever_the_update_order() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let finalizers = finalizers_for(&notifier);
        drop(notifier);
        finalizers.update_status(EventStatus::Rejected);
        finalizers.update_status(EventStatus::Delivered);
        drop(finalizers);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Rejected));
    }

    #[test]
    fn receiver_waits_until_the_last_finalizer_is_dropped() {
        let (notifier, mut receiver) = BatchNotifier::new_with_receiver();
        let first = finalizers_for(&notifier);
        let second = finalizers_for(&notifier);
        drop(notifier);
        first.update_status(EventStatus::Delivered);
        drop(first);
        assert_eq!((&mut receiver).now_or_never(), None);
        second.update_status(EventStatus::Errored);
        assert_eq!((&mut receiver).now_or_never(), None);
        drop(second);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Errored));
    }

    #[test]
    fn drop_order_does_not_change_the_outcome() {
        for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let (notifier, receiver) = BatchNotifier::new_with_receiver();
            let mut all: Vec<Option<EventFinalizers>> =
                (0..3).map(|_| Some(finalizers_for(&notifier))).collect();
            drop(notifier);
            let statuses = [
                EventStatus::Delivered,
                EventStatus::Errored,
                EventStatus::Delivered,
            ];
            for (held, status) in all.iter().zip(statuses) {
                if let Some(finalizers) = held {
                    finalizers.update_status(status);
                }
            }
            for index in order {
                all[index] = None;
            }
            assert_eq!(receiver.now_or_never(), Some(BatchStatus::Errored));
        }
    }

    #[test]
    fn untouched_events_count_as_delivered_for_the_batch() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let finalizers = finalizers_for(&notifier);
        drop(notifier);
        drop(finalizers);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Delivered));
    }

    #[test]
    fn batch_with_no_events_resolves_delivered_at_once() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        drop(notifier);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Delivered));
    }

    #[test]
    fn cloned_finalizers_share_status_and_both_must_drop() {
        let (notifier, mut receiver) = BatchNotifier::new_with_receiver();
        let event_payload = finalizers_for(&notifier);
        let user_payload = event_payload.clone();
        drop(notifier);
        event_payload.update_status(EventStatus::Delivered);
        drop(event_payload);
        assert_eq!((&mut receiver).now_or_never(), None);
        user_payload.update_status(EventStatus::Rejected);
        drop(user_payload);
        assert_eq!(receiver.now_or_never(), Some(BatchStatus::Rejected));
    }

    #[test]
    fn merge_takes_over_other_finalizers_without_duplicates() {
        let (first_batch, first_receiver) = BatchNotifier::new_with_receiver();
        let (second_batch, second_receiver) = BatchNotifier::new_with_receiver();
        let mut merged = finalizers_for(&first_batch);
        let shared = merged.clone();
        merged.merge(finalizers_for(&second_batch));
        merged.merge(shared);
        assert_eq!(merged.len(), 2);
        drop((first_batch, second_batch));
        merged.update_status(EventStatus::Errored);
        drop(merged);
        assert_eq!(first_receiver.now_or_never(), Some(BatchStatus::Errored));
        assert_eq!(second_receiver.now_or_never(), Some(BatchStatus::Errored));
    }

    #[tokio::test]
    async fn receiver_is_awaitable_across_tasks() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let finalizers = finalizers_for(&notifier);
        drop(notifier);
        let sink = tokio::spawn(async move {
            finalizers.update_status(EventStatus::Delivered);
        });
        sink.await.expect("sink task panicked");
        assert_eq!(receiver.await, BatchStatus::Delivered);
    }
}
