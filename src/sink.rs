//! The running `webhook` sink: batches in, one HTTP request per payload out, acknowledgements back.
//!
//! `run` is a short pipeline: expand each batch into jobs (classify, filter, render; see
//! [`crate::select`]), then drive the dispatch stack. It takes the next job only when the stack is
//! ready (a free concurrency permit) and a job slot is free, so a slow webhook slows the sources.
//! Each attempt finishes on its own task, which acknowledges the record and counts it; a failed
//! first attempt goes to the outer retry tier, whose due records re-enter the same stack.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use pipeline_core::{EventArray, EventStatus, StreamSink};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt};

use crate::dispatch::{AttemptResult, DispatchService, Payload};
use crate::outer::{Disposition, DueRecord, FailedRecord, RetryTier, TierError};
use crate::select::{Job, Selector};
use crate::telemetry::{Outcome, SinkMetrics};

/// The sink as the host runs it.
pub struct WebhookSink {
    selector: Selector,
    service: DispatchService,
    shared: Arc<Shared>,
    /// How many jobs may be between "taken from the input" and "acknowledged".
    slots: usize,
}

/// What every attempt's task needs.
pub(crate) struct Shared {
    pub(crate) url: String,
    pub(crate) tier: Arc<dyn RetryTier>,
    pub(crate) metrics: Arc<SinkMetrics>,
}

impl WebhookSink {
    /// A sink selecting with `selector`, sending through `service`, with `slots` jobs in flight at most.
    pub(crate) fn new(
        selector: Selector,
        service: DispatchService,
        shared: Shared,
        slots: usize,
    ) -> Self {
        WebhookSink {
            selector,
            service,
            shared: Arc::new(shared),
            slots: slots.max(1),
        }
    }
}

/// Work the loop picked next.
enum Next {
    Fresh(Option<(Job, OwnedSemaphorePermit)>),
    Retry(DueRecord, OwnedSemaphorePermit),
}

#[async_trait]
impl StreamSink for WebhookSink {
    async fn run(self: Box<Self>, mut input: BoxStream<'_, EventArray>) -> Result<(), ()> {
        let WebhookSink {
            selector,
            mut service,
            shared,
            slots,
        } = *self;
        let fresh_slots = Arc::new(Semaphore::new(slots));
        let retry_slots = Arc::new(Semaphore::new(slots));
        let mut queue: VecDeque<Job> = VecDeque::new();

        // The wait for the next due retry lives across iterations: re-creating it for every
        // fresh job would cost a permit, a clock read and a timer per record.
        let mut retry = Box::pin(next_retry(
            Arc::clone(&shared.tier),
            Arc::clone(&retry_slots),
        ));
        loop {
            if ready(&mut service).await.is_err() {
                return Err(());
            }
            let next = tokio::select! {
                biased;
                (due, slot) = &mut retry => Next::Retry(due, slot),
                fresh = next_fresh(&selector, &mut queue, &mut input, &fresh_slots) => Next::Fresh(fresh),
            };
            match next {
                Next::Retry(due, slot) => {
                    retry.set(next_retry(
                        Arc::clone(&shared.tier),
                        Arc::clone(&retry_slots),
                    ));
                    start_retry(&mut service, &shared, due, slot);
                }
                Next::Fresh(Some((job, slot))) => start_fresh(&mut service, &shared, job, slot),
                Next::Fresh(None) => break,
            }
        }

        // Input ended: let every fresh job finish (their failures may wait for room in the
        // tier, which only retries free), then the retries in flight.
        let all_fresh = u32::try_from(slots).unwrap_or(u32::MAX);
        let drained = Arc::clone(&fresh_slots).acquire_many_owned(all_fresh);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                biased;
                _ = &mut drained => break,
                (due, slot) = &mut retry => {
                    retry.set(next_retry(
                        Arc::clone(&shared.tier),
                        Arc::clone(&retry_slots),
                    ));
                    if ready(&mut service).await.is_err() {
                        return Err(());
                    }
                    start_retry(&mut service, &shared, due, slot);
                }
            }
        }
        // Its retry slot must come back before the wait for every slot below.
        drop(retry);
        let _ = retry_slots.acquire_many(all_fresh).await;

        // A tier that does not survive the process gives every waiting record one last attempt;
        // a durable one keeps them for the next start.
        let Some(last_chance) = shared.tier.take_all_for_shutdown().await else {
            let waiting = shared.tier.len();
            if waiting > 0 {
                tracing::info!(
                    records = waiting,
                    "records wait in the retry store for the next start"
                );
            }
            return Ok(());
        };
        for due in last_chance {
            let Ok(slot) = Arc::clone(&retry_slots).acquire_owned().await else {
                break;
            };
            if ready(&mut service).await.is_err() {
                return Err(());
            }
            start_retry(&mut service, &shared, due, slot);
        }
        let _ = retry_slots.acquire_many(all_fresh).await;
        let abandoned = shared.tier.len();
        if abandoned > 0 {
            tracing::warn!(
                records = abandoned,
                "the in-memory retry tier still holds records at shutdown; they are lost"
            );
            shared.metrics.discarded_lost.increment(abandoned as u64);
        }
        Ok(())
    }
}

async fn ready(service: &mut DispatchService) -> Result<(), ()> {
    match service.ready().await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::error!(%error, "the dispatch stack failed");
            Err(())
        }
    }
}

async fn next_retry(
    tier: Arc<dyn RetryTier>,
    slots: Arc<Semaphore>,
) -> (DueRecord, OwnedSemaphorePermit) {
    let slot = slots.acquire_owned().await;
    let due = tier.next_due().await;
    match slot {
        Ok(slot) => (due, slot),
        // The semaphore lives as long as the loop and is never closed.
        Err(_) => std::future::pending().await,
    }
}

async fn next_fresh(
    selector: &Selector,
    queue: &mut VecDeque<Job>,
    input: &mut BoxStream<'_, EventArray>,
    slots: &Arc<Semaphore>,
) -> Option<(Job, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    loop {
        if let Some(job) = queue.pop_front() {
            return Some((job, slot));
        }
        let batch = input.next().await?;
        selector.expand(batch, queue);
    }
}

fn start_fresh(
    service: &mut DispatchService,
    shared: &Arc<Shared>,
    job: Job,
    slot: OwnedSemaphorePermit,
) {
    let attempt = service.call(Payload::new(job.stream, job.body.clone()));
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let result = attempt.await;
        finish_fresh(&shared, job, result).await;
        drop(slot);
    });
}

fn start_retry(
    service: &mut DispatchService,
    shared: &Arc<Shared>,
    due: DueRecord,
    slot: OwnedSemaphorePermit,
) {
    let payload = Payload::new(due.record.stream, due.record.body.clone());
    let attempt = service.call(payload);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let result = attempt.await;
        finish_retry(&shared, due, result).await;
        drop(slot);
    });
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
    shared: &Shared,
    stream: crate::stream::Stream,
    bytes: usize,
    received_at: SystemTime,
    outcome: Outcome,
) {
    let metrics = shared.metrics.stream(stream);
    metrics.sent_events.increment(1);
    metrics.sent_bytes.increment(bytes as u64);
    metrics.delivery(outcome);
    if let Ok(latency) = received_at.elapsed() {
        metrics.delivery_latency.record(latency.as_secs_f64());
    }
}

async fn finish_fresh(shared: &Shared, job: Job, result: AttemptResult) {
    let Some((reason, retry_after)) = failure(&shared.url, &result) else {
        count_delivered(
            shared,
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

async fn finish_retry(shared: &Shared, due: DueRecord, result: AttemptResult) {
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
                shared,
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
