//! The sink's health, as the host's `/health` shows it: degraded while a stream's circuit is
//! open (the webhook fails or stopped answering) or while the retry store is over 90% full
//! (soon `store.when_full` applies), healthy otherwise. A sink that stops with an error is
//! marked failed by the host.

use std::time::Duration;

use pipeline_core::{Health, HealthHandle};
use tokio_util::sync::CancellationToken;

use crate::retry::circuit::Circuits;
use crate::retry::RetryTier;
use crate::stream::Stream;

/// How often the sink looks at its circuits and store.
const ASSESS_EVERY: Duration = Duration::from_millis(500);

/// The store's fill (a share of `store.max_records`) above which the sink is degraded.
const STORE_NEARLY_FULL: f64 = 0.9;

/// Keeps `health` up to date until `stop`.
pub(crate) async fn report(
    health: &HealthHandle,
    circuits: &Circuits,
    store: &dyn RetryTier,
    max_records: usize,
    stop: &CancellationToken,
) {
    let mut every = tokio::time::interval(ASSESS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let open: Vec<Stream> = Stream::ALL
            .into_iter()
            .filter(|stream| circuits.of(*stream).is_open())
            .collect();
        health.set(assess(&open, store.len(), max_records));
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
    }
}

/// The health of a sink whose circuits of `open` streams are open and whose store holds
/// `stored` of at most `max_records` records.
fn assess(open: &[Stream], stored: usize, max_records: usize) -> Health {
    let mut reasons = Vec::new();
    if !open.is_empty() {
        let names: Vec<&str> = open.iter().map(|stream| stream.as_str()).collect();
        reasons.push(format!(
            "the webhook fails: circuit open for {}",
            names.join(" and ")
        ));
    }
    if max_records > 0 && stored as f64 > STORE_NEARLY_FULL * max_records as f64 {
        reasons.push(format!(
            "the retry store is {:.0}% full ({stored} of {max_records} records)",
            100.0 * stored as f64 / max_records as f64
        ));
    }
    if reasons.is_empty() {
        Health::Healthy
    } else {
        Health::Degraded(reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_circuit_or_a_nearly_full_store_degrades_the_sink() {
        assert_eq!(assess(&[], 900, 1000), Health::Healthy);
        assert_eq!(
            assess(&[Stream::Events], 0, 1000),
            Health::Degraded("the webhook fails: circuit open for events".into())
        );
        assert_eq!(
            assess(&[Stream::Events, Stream::Users], 950, 1000),
            Health::Degraded(
                "the webhook fails: circuit open for events and users; \
                 the retry store is 95% full (950 of 1000 records)"
                    .into()
            )
        );
    }
}
