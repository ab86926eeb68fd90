//! Absorbing: records that skip their attempt go to the retry store a batch at a time.
//!
//! While a stream's circuit is open (or the lanes stay busy past `store.spill_after`), the run
//! loop hands each batch's records here instead of to the lanes. One store write per batch, a
//! few batches in flight at once so that they share group commits: the sources then go as fast
//! as the store writes, and only a full store (`when_full = "block"`) slows them.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::attempt::Shared;
use crate::prepare::Job;
use crate::retry::AbsorbedRecord;
use crate::stream::Stream;
use crate::telemetry::AbsorbReason;

/// Batches being written at once.
const WRITES_IN_FLIGHT: u32 = 8;

/// Writes absorbed batches to the store and settles their records.
pub(crate) struct Absorber {
    shared: Arc<Shared>,
    writes: Arc<Semaphore>,
}

impl Absorber {
    pub(crate) fn new(shared: Arc<Shared>) -> Absorber {
        Absorber {
            shared,
            writes: Arc::new(Semaphore::new(WRITES_IN_FLIGHT as usize)),
        }
    }

    /// Stores `jobs` without an attempt, waiting while as many writes are in flight as allowed
    /// (the sink's backpressure while the webhook is down).
    pub(crate) async fn absorb(&self, jobs: Vec<Job>, reason: AbsorbReason) {
        if jobs.is_empty() {
            return;
        }
        let Ok(write) = Arc::clone(&self.writes).acquire_owned().await else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let records = jobs
                .iter()
                .map(|job| AbsorbedRecord {
                    stream: job.stream,
                    body: job.body.clone(),
                    received_at: job.received_at,
                })
                .collect();
            let stored = shared.store.absorb(records).await;
            settle(&shared, jobs, stored, reason);
            drop(write);
        });
    }

    /// Waits until every write handed over has been settled.
    pub(crate) async fn finish(&self) {
        let _ = self.writes.acquire_many(WRITES_IN_FLIGHT).await;
    }
}

/// Acknowledges the stored records and counts them (the first `stored` of `jobs`; the rest the
/// store refused).
fn settle(
    shared: &Shared,
    jobs: Vec<Job>,
    stored: Result<usize, crate::retry::TierError>,
    reason: AbsorbReason,
) {
    let ledger = &shared.ledger;
    let kept = match &stored {
        Ok(kept) => *kept,
        Err(_) => 0,
    };
    let mut per_stream = [0u64; 2];
    for (index, job) in jobs.iter().enumerate() {
        if index < kept {
            per_stream[job.stream.index()] += 1;
            ledger.stored(&job.finalizers);
        } else if let Err(error) = &stored {
            ledger.store_refused(job.stream, error, Some(&job.finalizers));
        } else {
            ledger.dropped(job.stream, Some(&job.finalizers));
        }
    }
    for stream in Stream::ALL {
        let n = per_stream[stream.index()];
        if n > 0 {
            ledger.absorbed(stream, reason, n);
            if reason == AbsorbReason::CircuitOpen {
                shared.circuits.of(stream).absorbed(n);
            }
        }
    }
}
