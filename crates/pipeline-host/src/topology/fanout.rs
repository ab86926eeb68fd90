//! Sends each batch a component produces to every downstream component's bounded channel.
//!
//! `send` waits for room in every channel, so the slowest consumer sets the pace of its producer:
//! this is where backpressure travels upstream.

use pipeline_core::EventArray;
use tokio::sync::mpsc;

/// The outputs of one source or transform.
#[derive(Debug)]
pub struct Fanout {
    outputs: Vec<(String, mpsc::Sender<EventArray>)>,
}

impl Fanout {
    /// A fanout to the given `(component id, channel)` outputs.
    pub fn new(outputs: Vec<(String, mpsc::Sender<EventArray>)>) -> Fanout {
        Fanout { outputs }
    }

    /// True when no downstream component is left to receive.
    pub fn is_closed(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Deliver `batch` to every output, waiting for room in each. Room is reserved in every
    /// channel before anything is sent, so a caller that gives up waiting (drops this future, as
    /// a source answering "busy" does) has sent the batch nowhere, never to only some outputs.
    /// An output whose component has stopped is removed (and logged); returns false when none is
    /// left.
    pub async fn send(&mut self, batch: EventArray) -> bool {
        let mut permits = Vec::with_capacity(self.outputs.len());
        let mut closed = Vec::new();
        for (index, (id, sender)) in self.outputs.iter().enumerate() {
            match sender.reserve().await {
                Ok(permit) => permits.push(permit),
                Err(_) => {
                    tracing::error!(component_id = %id, "downstream component stopped; no longer sending to it");
                    closed.push(index);
                }
            }
        }
        let mut batch = Some(batch);
        let last = permits.len().saturating_sub(1);
        for (index, permit) in permits.into_iter().enumerate() {
            let item = if index == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            permit.send(item);
        }
        for index in closed.into_iter().rev() {
            self.outputs.remove(index);
        }
        !self.outputs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::Event;

    fn batch(n: usize) -> EventArray {
        (0..n).map(|_| Event::new(serde_json::Map::new())).collect()
    }

    #[tokio::test]
    async fn every_output_gets_every_batch() {
        let (a_tx, mut a_rx) = mpsc::channel(4);
        let (b_tx, mut b_rx) = mpsc::channel(4);
        let mut fanout = Fanout::new(vec![("a".into(), a_tx), ("b".into(), b_tx)]);
        assert!(fanout.send(batch(2)).await);
        assert_eq!(a_rx.recv().await.map(|b| b.len()), Some(2));
        assert_eq!(b_rx.recv().await.map(|b| b.len()), Some(2));
    }

    #[tokio::test]
    async fn a_stopped_output_is_dropped_and_the_rest_continue() {
        let (a_tx, a_rx) = mpsc::channel(4);
        let (b_tx, mut b_rx) = mpsc::channel(4);
        drop(a_rx);
        let mut fanout = Fanout::new(vec![("a".into(), a_tx), ("b".into(), b_tx)]);
        assert!(fanout.send(batch(1)).await);
        assert_eq!(b_rx.recv().await.map(|b| b.len()), Some(1));
        drop(b_rx);
        assert!(!fanout.send(batch(1)).await);
        assert!(fanout.is_closed());
    }

    #[tokio::test]
    async fn a_full_output_blocks_the_sender() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut fanout = Fanout::new(vec![("a".into(), tx)]);
        assert!(fanout.send(batch(1)).await);
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(50), fanout.send(batch(1))).await;
        assert!(blocked.is_err(), "send must wait while the channel is full");
        assert!(rx.recv().await.is_some());
        assert!(fanout.send(batch(1)).await);
    }

    #[tokio::test]
    async fn giving_up_while_one_output_is_full_sends_to_none() {
        let (a_tx, mut a_rx) = mpsc::channel(4);
        let (b_tx, mut b_rx) = mpsc::channel(1);
        let mut fanout = Fanout::new(vec![("a".into(), a_tx), ("b".into(), b_tx)]);
        assert!(fanout.send(batch(1)).await);
        // `b` is full now: a send that is abandoned must not have reached `a` either.
        let abandoned =
            tokio::time::timeout(std::time::Duration::from_millis(50), fanout.send(batch(2))).await;
        assert!(abandoned.is_err());
        assert_eq!(a_rx.recv().await.map(|b| b.len()), Some(1));
        assert_eq!(b_rx.recv().await.map(|b| b.len()), Some(1));
        assert!(a_rx.try_recv().is_err(), "the abandoned batch reached `a`");
    }
}
