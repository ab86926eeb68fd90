//! One attempt of one record: start it on the dispatch stack, then acknowledge and count it.
//!
//! A fresh record's failed first attempt goes to the outer retry tier; a due record's attempt
//! reports its outcome back to the tier, which reschedules or dead-letters it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeline_core::EventStatus;
use tokio::sync::OwnedSemaphorePermit;
use tower::Service;

use crate::dispatch::{AttemptResult, DispatchService, Payload};
use crate::outer::{Disposition, DueRecord, FailedRecord, RetryTier, TierError};
use crate::select::Job;
use crate::tally::HotCounts;
use crate::telemetry::{Outcome, SinkMetrics};

/// What every attempt needs besides its record.
pub(crate) struct Shared {
    pub(crate) url: String,
    pub(crate) tier: Arc<dyn RetryTier>,
    pub(crate) metrics: Arc<SinkMetrics>,
}

impl Shared {
    /// A copy for one dispatch lane, with the lane's own `metrics` handle: its attempts clone
    /// their lane's `Arc`s, so the reference counts they bump per request are not cache lines
    /// the other lanes write too.
    pub(crate) fn for_lane(&self, metrics: Arc<SinkMetrics>) -> Shared {
        Shared {
            url: self.url.clone(),
            tier: Arc::clone(&self.tier),
            metrics,
        }
    }
}

/// A record on its way to the webhook, holding the sink's slot until it is acknowledged.
pub(crate) enum Work {
    /// A record's first attempt.
    Fresh(Job, OwnedSemaphorePermit),
    /// A record the outer tier found due.
    Retry(DueRecord, OwnedSemaphorePermit),
}

/// Calls the (ready) stack with `work` and returns the rest of the attempt: awaiting the answer,
/// then acknowledging and counting the record into `counts`. The lane drives it among its
/// others (a task per attempt cost a spawn, a scheduling and a wake-up per request).
pub(crate) fn start(
    service: &mut DispatchService,
    shared: &Arc<Shared>,
    counts: &HotCounts,
    work: Work,
) -> impl std::future::Future<Output = ()> + use<> {
    let shared = Arc::clone(shared);
    let counts = counts.clone();
    let payload = match &work {
        Work::Fresh(job, _) => Payload::new(job.stream, job.body.clone()),
        Work::Retry(due, _) => Payload::new(due.record.stream, due.record.body.clone()),
    };
    let attempt = service.call(payload);
    async move {
        let result = attempt.await;
        match work {
            Work::Fresh(job, slot) => {
                finish_fresh(&shared, &counts, job, result).await;
                drop(slot);
            }
            Work::Retry(due, slot) => {
                finish_retry(&shared, &counts, due, result).await;
                drop(slot);
            }
        }
    }
}

/// The failure of an attempt in words, or `None` on a 2xx.
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

fn count_delivered(
    counts: &HotCounts,
    stream: crate::stream::Stream,
    bytes: usize,
    received_at: SystemTime,
    outcome: Outcome,
) {
    let latency = received_at.elapsed().ok().map(|l| l.as_secs_f64());
    counts.delivered(stream, bytes as u64, latency, outcome);
}

async fn finish_fresh(shared: &Shared, counts: &HotCounts, job: Job, result: AttemptResult) {
    let Some((reason, retry_after)) = failure(&shared.url, &result) else {
        count_delivered(
            counts,
            job.stream,
            job.body.len(),
            job.received_at,
            Outcome::FirstAttempt,
        );
        job.finalizers.update_status(EventStatus::Delivered);
        return;
    };
    shared.metrics.error("request_failed", "sending");
    tracing::debug!(stream = %job.stream, %reason, "first attempt failed; handing to the retry tier");
    let record = FailedRecord {
        stream: job.stream,
        body: job.body,
        attempts_made: 1,
        last_error: reason,
        retry_after,
        received_at: job.received_at,
    };
    let stream_metrics = shared.metrics.stream(job.stream);
    let status = match shared.tier.enqueue(record).await {
        Ok(Disposition::Rescheduled) => {
            stream_metrics.retry_store_records.increment(1.0);
            EventStatus::Delivered
        }
        Ok(Disposition::DeadLettered) => {
            stream_metrics.delivery(Outcome::Expired);
            EventStatus::Delivered
        }
        Err(error @ TierError::Full { .. }) => {
            tracing::warn!(%error, stream = %job.stream, "record dropped");
            stream_metrics.delivery(Outcome::Discarded);
            shared.metrics.discarded_lost.increment(1);
            EventStatus::Errored
        }
        Err(error) => {
            tracing::error!(%error, stream = %job.stream, "record not stored");
            shared.metrics.error("store_failed", "sending");
            EventStatus::Errored
        }
    };
    job.finalizers.update_status(status);
}

async fn finish_retry(shared: &Shared, counts: &HotCounts, due: DueRecord, result: AttemptResult) {
    let stream = due.record.stream;
    let stream_metrics = shared.metrics.stream(stream);
    let failed = failure(&shared.url, &result);
    let delivered = failed.is_none();
    let (outcome, retry_after) = match failed {
        None => (Ok(()), None),
        Some((reason, retry_after)) => (Err(reason), retry_after),
    };
    match shared.tier.complete(due.id, outcome, retry_after).await {
        Ok(_) if delivered => {
            stream_metrics.retry_store_records.decrement(1.0);
            count_delivered(
                counts,
                stream,
                due.record.body.len(),
                due.record.received_at,
                Outcome::AfterRetry,
            );
        }
        Ok(Some(Disposition::DeadLettered)) => {
            stream_metrics.retry_store_records.decrement(1.0);
            stream_metrics.delivery(Outcome::Expired);
            shared.metrics.error("delivery_expired", "sending");
            tracing::warn!(%stream, attempts = due.record.attempts_made + 1, "attempts spent; record moved to the dead letters");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, %stream, "the retry store failed to record an attempt");
            shared.metrics.error("store_failed", "sending");
        }
    }
}
