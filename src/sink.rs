//! The running `webhook` sink: batches in, one HTTP request per payload out, acknowledgements back.
//!
//! `run` is a short pipeline: expand each batch into jobs (classify, filter, render; see
//! [`crate::select`]), then deal them in chunks to the dispatch lanes ([`crate::lanes`]), each
//! driving its own dispatch stack. It takes the next job only when a job slot is free and hands
//! a chunk over only when a lane has room, so a slow webhook slows the sources. Each attempt
//! finishes on its lane ([`crate::attempt`]), which acknowledges the record and counts it; a
//! failed first attempt goes to the outer retry tier, whose due records are dealt the same way.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use pipeline_core::{EventArray, StreamSink};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) use crate::attempt::Shared;
use crate::attempt::Work;
use crate::lanes::{LaneError, LaneStack, Lanes, CHUNKS_QUEUED_PER_LANE};
use crate::outer::{DueRecord, RetryTier};
use crate::select::{Job, Selector};

/// The sink as the host runs it.
pub struct WebhookSink {
    selector: Selector,
    /// One dispatch stack per lane.
    stacks: Vec<LaneStack>,
    shared: Arc<Shared>,
    /// Jobs dealt to a lane at once.
    chunk: usize,
    /// How many jobs may be between "taken from the input" and "acknowledged".
    slots: usize,
}

impl WebhookSink {
    /// A sink selecting with `selector` and sending through `stacks` (one lane each), which
    /// together allow `concurrency` requests in flight.
    pub(crate) fn new(
        selector: Selector,
        stacks: Vec<LaneStack>,
        shared: Shared,
        concurrency: usize,
    ) -> Self {
        let lanes = stacks.len().max(1);
        // A lane's share of the permits per chunk: a lane goes back to the queue (and may wake
        // the loop) once per share of requests. Measured against half a share: 10% more
        // events/s through the host, the same fed directly.
        let chunk = (concurrency / lanes).max(1);
        // Room for every job the lanes can hold (in flight, a chunk in each lane's hands, the
        // queued chunks) and the chunk being filled: the lanes' queue, not the slots, is what the
        // loop waits for, so it wakes once per chunk rather than once per finished request.
        let slots = concurrency.max(1) + (lanes + lanes * CHUNKS_QUEUED_PER_LANE + 1) * chunk;
        WebhookSink {
            selector,
            stacks,
            shared: Arc::new(shared),
            chunk,
            slots,
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
    async fn run(self: Box<Self>, input: BoxStream<'_, EventArray>) -> Result<(), ()> {
        let WebhookSink {
            selector,
            stacks,
            shared,
            chunk,
            slots,
        } = *self;
        let lanes = match Lanes::start(stacks, &shared) {
            Ok(lanes) => lanes,
            Err(error) => {
                tracing::error!(%error, "the sink cannot start");
                return Err(());
            }
        };
        let mut run = Run {
            selector,
            shared,
            lanes,
            chunk,
            slots,
        };
        match run.deliver(input).await {
            Ok(()) => run.lanes.finish().await.map_err(|_| ()),
            Err(error) => {
                tracing::error!(%error, "the sink stopped");
                Err(())
            }
        }
    }
}

/// The sink's loop state.
struct Run {
    selector: Selector,
    shared: Arc<Shared>,
    lanes: Lanes,
    chunk: usize,
    slots: usize,
}

impl Run {
    /// Deals every input record and due retry to the lanes until the input ends and every
    /// attempt has finished.
    async fn deliver(&mut self, mut input: BoxStream<'_, EventArray>) -> Result<(), LaneError> {
        let slots = self.slots;
        let fresh_slots = Arc::new(Semaphore::new(slots));
        let retry_slots = Arc::new(Semaphore::new(slots));
        let mut queue: VecDeque<Job> = VecDeque::new();
        let mut pending: Vec<Work> = Vec::with_capacity(self.chunk);

        // The wait for the next due retry lives across iterations: re-creating it for every
        // fresh job would cost a permit, a clock read and a timer per record.
        let mut retry = Box::pin(next_retry(
            Arc::clone(&self.shared.tier),
            Arc::clone(&retry_slots),
        ));
        loop {
            let next = tokio::select! {
                biased;
                (due, slot) = &mut retry => Next::Retry(due, slot),
                fresh = next_fresh(&self.selector, &mut queue, &mut input, &fresh_slots) => Next::Fresh(fresh),
            };
            match next {
                Next::Retry(due, slot) => {
                    retry.set(next_retry(
                        Arc::clone(&self.shared.tier),
                        Arc::clone(&retry_slots),
                    ));
                    self.lanes.send(vec![Work::Retry(due, slot)]).await?;
                }
                Next::Fresh(Some((job, slot))) => {
                    pending.push(Work::Fresh(job, slot));
                    // A chunk goes when full, or when the next job would have to be waited for.
                    if pending.len() >= self.chunk
                        || queue.is_empty()
                        || fresh_slots.available_permits() == 0
                    {
                        let full = std::mem::replace(&mut pending, Vec::with_capacity(self.chunk));
                        self.lanes.send(full).await?;
                    }
                }
                Next::Fresh(None) => break,
            }
        }
        if !pending.is_empty() {
            self.lanes.send(pending).await?;
        }

        // Input ended: let every fresh job finish (their failures may wait for room in the
        // tier, which only retries free), then the retries in flight.
        let all = u32::try_from(slots).unwrap_or(u32::MAX);
        let drained = Arc::clone(&fresh_slots).acquire_many_owned(all);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                biased;
                _ = &mut drained => break,
                (due, slot) = &mut retry => {
                    retry.set(next_retry(
                        Arc::clone(&self.shared.tier),
                        Arc::clone(&retry_slots),
                    ));
                    self.lanes.send(vec![Work::Retry(due, slot)]).await?;
                }
            }
        }
        // Its retry slot must come back before the wait for every slot below.
        drop(retry);
        let _ = retry_slots.acquire_many(all).await;

        // A tier that does not survive the process gives every waiting record one last attempt;
        // a durable one keeps them for the next start.
        let tier = Arc::clone(&self.shared.tier);
        let Some(last_chance) = tier.take_all_for_shutdown().await else {
            let waiting = tier.len();
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
            self.lanes.send(vec![Work::Retry(due, slot)]).await?;
        }
        let _ = retry_slots.acquire_many(all).await;
        let abandoned = tier.len();
        if abandoned > 0 {
            tracing::warn!(
                records = abandoned,
                "the in-memory retry tier still holds records at shutdown; they are lost"
            );
            self.shared
                .metrics
                .discarded_lost
                .increment(abandoned as u64);
        }
        Ok(())
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
