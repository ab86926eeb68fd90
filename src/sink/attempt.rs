//! One attempt of one record on a dispatch lane, and what its answer means for the record.
//!
//! A record's first attempt that fails goes to the retry store; a stored record's attempt
//! reports its outcome to the store, which reschedules or dead-letters it. Every attempt's
//! outcome also goes to its stream's circuit. A record whose circuit opened while it waited for
//! a lane skips its attempt: a fresh one is absorbed into the store, a stored one goes back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tower::Service;

use super::settle::{Delivery, Ledger};
use crate::dispatch::{AttemptResult, DispatchService, Payload};
use crate::prepare::Job;
use crate::retry::circuit::{Circuits, RecordKey, Verdict};
use crate::retry::{AbsorbedRecord, Disposition, DueRecord, FailedRecord, RetryTier};
use crate::telemetry::{AbsorbReason, HotCounts, Outcome, SinkMetrics};

/// A record on its way to the webhook.
pub(crate) enum Work {
    /// A record's first attempt, straight from the input, holding one of the sink's slots
    /// until it is settled.
    Fresh(Job, OwnedSemaphorePermit),
    /// A record from the retry store; `probe` when it tests an open circuit.
    Stored { due: DueRecord, probe: bool },
}

impl Work {
    fn stream(&self) -> crate::stream::Stream {
        match self {
            Work::Fresh(job, _) => job.stream,
            Work::Stored { due, .. } => due.record.stream,
        }
    }
}

/// What every attempt of a sink needs besides its record.
pub(crate) struct Shared {
    /// The webhook, for error messages.
    pub(crate) url: String,
    /// Where failed and absorbed records wait.
    pub(crate) store: Arc<dyn RetryTier>,
    /// Each stream's circuit.
    pub(crate) circuits: Arc<Circuits>,
    /// Acknowledgements and record counts.
    pub(crate) ledger: Ledger,
}

impl Shared {
    /// A copy for one dispatch lane, counting into the lane's own `metrics` handle: its
    /// attempts clone their lane's `Arc`s, so the reference counts they bump per request are
    /// not cache lines the other lanes write too.
    pub(crate) fn for_lane(&self, metrics: Arc<SinkMetrics>) -> Shared {
        Shared {
            url: self.url.clone(),
            store: Arc::clone(&self.store),
            circuits: Arc::clone(&self.circuits),
            ledger: self.ledger.for_lane(metrics),
        }
    }
}

/// What the attempts of one lane share.
pub(crate) struct LaneContext {
    pub(crate) shared: Arc<Shared>,
    /// The lane's counts, for the delivered records.
    pub(crate) counts: HotCounts,
}

/// Starts `work` on the ready `stack` (or skips its attempt when its circuit is open) and
/// returns the rest: awaiting the answer, then settling the record.
pub(crate) fn start(
    work: Work,
    stack: &mut DispatchService,
    lane: &LaneContext,
) -> impl Future<Output = ()> + use<> {
    let shared = Arc::clone(&lane.shared);
    let counts = lane.counts.clone();
    let skip = match &work {
        Work::Stored { probe: true, .. } => false,
        other => shared.circuits.of(other.stream()).is_open(),
    };
    let call = (!skip).then(|| {
        let (stream, body) = match &work {
            Work::Fresh(job, _) => (job.stream, job.body.clone()),
            Work::Stored { due, .. } => (due.record.stream, due.record.body.clone()),
        };
        stack.call(Payload::new(stream, body))
    });
    async move {
        match call {
            Some(call) => {
                let result = call.await;
                finish(&shared, &counts, work, result).await;
            }
            None => skipped(&shared, work).await,
        }
    }
}

/// The failure of an attempt in words with the webhook's `Retry-After`, or `None` on a 2xx.
fn failure(url: &str, result: &AttemptResult) -> Option<(String, Option<Duration>)> {
    match result {
        Ok(response) if response.status.is_success() => None,
        Ok(response) => Some((
            format!("{url} answered {}", response.status),
            response.retry_after,
        )),
        Err(error) => Some((format!("{url}: {error}"), None)),
    }
}

/// What the attempt says about the webhook: down on the answers the in-attempt retry retries.
fn verdict(result: &AttemptResult, failure: &Option<(String, Option<Duration>)>) -> Verdict {
    let down = match result {
        Ok(_) => crate::dispatch::tries::is_retryable(result),
        Err(_) => true,
    };
    match (down, failure) {
        (true, Some((reason, retry_after))) => Verdict::Down {
            reason: reason.clone(),
            retry_after: *retry_after,
        },
        _ => Verdict::Up,
    }
}

async fn finish(shared: &Shared, counts: &HotCounts, work: Work, result: AttemptResult) {
    let failed = failure(&shared.url, &result);
    let verdict = verdict(&result, &failed);
    let ledger = &shared.ledger;
    match work {
        Work::Fresh(job, _slot) => {
            let key = RecordKey::Fresh(job.body.as_ptr() as usize);
            shared
                .circuits
                .of(job.stream)
                .attempt_ended(key, &verdict, false);
            let Some((reason, retry_after)) = failed else {
                let delivery = Delivery {
                    stream: job.stream,
                    bytes: job.body.len() as u64,
                    received_at: job.received_at,
                    outcome: Outcome::FirstAttempt,
                };
                ledger.delivered(counts, delivery, Some(&job.finalizers));
                return;
            };
            ledger.attempt_failed();
            tracing::debug!(stream = %job.stream, %reason, "first attempt failed; storing the record for later attempts");
            let record = FailedRecord {
                stream: job.stream,
                body: job.body,
                attempts_made: 1,
                last_error: reason.clone(),
                retry_after,
                received_at: job.received_at,
            };
            match shared.store.enqueue(record).await {
                Ok(Disposition::Rescheduled) => ledger.stored(&job.finalizers),
                Ok(Disposition::DeadLettered) => {
                    ledger.dead_lettered(job.stream, 1, &reason);
                    ledger.stored(&job.finalizers);
                }
                Err(error) => ledger.store_refused(job.stream, &error, Some(&job.finalizers)),
            }
        }
        Work::Stored { due, probe } => {
            let stream = due.record.stream;
            let circuit = shared.circuits.of(stream);
            circuit.attempt_ended(RecordKey::Stored(due.id), &verdict, probe);
            let made = due.record.attempts_made;
            let tried = due.tried;
            let last_error = failed.as_ref().map(|(reason, _)| reason.clone());
            let (outcome, retry_after) = match failed {
                None => (Ok(()), None),
                Some((reason, retry_after)) => {
                    ledger.attempt_failed();
                    (Err(reason), retry_after)
                }
            };
            let delivered = outcome.is_ok();
            match shared.store.complete(due.id, outcome, retry_after).await {
                Ok(_) if delivered => {
                    let delivery = Delivery {
                        stream,
                        bytes: due.record.body.len() as u64,
                        received_at: due.record.received_at,
                        // A record stored without an attempt was delivered by its first one.
                        outcome: if tried {
                            Outcome::AfterRetry
                        } else {
                            Outcome::FirstAttempt
                        },
                    };
                    ledger.delivered(counts, delivery, None);
                }
                Ok(Some(Disposition::DeadLettered)) => {
                    ledger.dead_lettered(stream, made + 1, last_error.as_deref().unwrap_or(""))
                }
                Ok(_) => {}
                Err(error) => ledger.store_failed(stream, &error),
            }
        }
    }
}

/// A record whose circuit is open skips its attempt: absorbed if fresh, released if stored.
async fn skipped(shared: &Shared, work: Work) {
    match work {
        Work::Fresh(job, _slot) => {
            let record = AbsorbedRecord {
                stream: job.stream,
                body: job.body,
                received_at: job.received_at,
            };
            match shared.store.absorb(vec![record]).await {
                Ok(1) => {
                    shared
                        .ledger
                        .absorbed(job.stream, AbsorbReason::CircuitOpen, 1);
                    shared.circuits.of(job.stream).absorbed(1);
                    shared.ledger.stored(&job.finalizers);
                }
                Ok(_) => shared.ledger.dropped(job.stream, Some(&job.finalizers)),
                Err(error) => {
                    shared
                        .ledger
                        .store_refused(job.stream, &error, Some(&job.finalizers))
                }
            }
        }
        Work::Stored { due, .. } => {
            if let Err(error) = shared.store.release(due.id).await {
                shared.ledger.store_failed(due.record.stream, &error);
            }
        }
    }
}
