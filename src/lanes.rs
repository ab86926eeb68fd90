//! Dispatch lanes: threads that each drive their own dispatch stack on a one-thread runtime.
//!
//! A request's life is a few hand-offs between its task and its connection's task. On a
//! work-stealing runtime those tasks wander between workers, and every hand-off across threads
//! costs a wake-up and cold caches (measured: a fifth more CPU per request on two cores). A lane
//! keeps a share of the connections, of the concurrency and of the requests on one thread. The
//! sink's loop queues records in chunks, so crossing threads costs once per chunk; a lane takes
//! the next chunk only when its stack has a free permit, so a lane whose requests hang does not
//! hold up records another lane could send. Lanes run under the throughput scheduling policy
//! ([`crate::scheduling`]): an answer waking a lane does not preempt the thread running.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{oneshot, Notify, Semaphore};
use tower::ServiceExt;
use tracing::Instrument;

use crate::attempt::{self, Shared, Work};
use crate::dispatch::DispatchService;
use crate::tally::{HotCounts, FLUSH_EVERY};
use crate::telemetry::SinkMetrics;

/// Chunks the queue holds per lane: a lane that finishes its chunk finds the next one waiting.
/// Four rather than two: when the host's worker is descheduled (two cores, four busy threads with
/// the receiver), the lanes still have work; interleaved runs, 107k -> 112k events/s fed directly,
/// 110k -> 111.5k through the host (medians of five), for 8 more chunks of payloads held.
pub(crate) const CHUNKS_QUEUED_PER_LANE: usize = 4;

/// What one lane drives: its stack, and the tally its requests count into.
pub(crate) struct LaneStack {
    pub(crate) stack: DispatchService,
    pub(crate) counts: HotCounts,
    /// The lane's own handle on the sink's metrics (see `Shared::for_lane`).
    pub(crate) metrics: Arc<SinkMetrics>,
}

/// The running lanes, fed by the sink's loop.
pub(crate) struct Lanes {
    queue: Arc<ChunkQueue>,
    finished: Vec<oneshot::Receiver<Result<(), ()>>>,
}

/// The chunks waiting for a lane with a free permit; every lane takes from it.
struct ChunkQueue {
    chunks: std::sync::Mutex<Queued>,
    /// Room for one more chunk: the sink waits for it.
    room: Semaphore,
    /// Signalled when a chunk arrives or the queue closes.
    arrived: Notify,
}

struct Queued {
    chunks: VecDeque<Vec<Work>>,
    closed: bool,
}

impl ChunkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.chunks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn push(&self, chunk: Vec<Work>) -> Result<(), LaneError> {
        let room = self.room.acquire().await.map_err(|_| LaneError::Stopped)?;
        room.forget();
        self.lock().chunks.push_back(chunk);
        self.arrived.notify_one();
        Ok(())
    }

    /// The next chunk, or `None` once the queue is closed and empty.
    async fn pop(&self) -> Option<Vec<Work>> {
        loop {
            if let Some(next) = self.try_pop() {
                return next;
            }
            // Registered before the second look, so neither a push nor the close can slip by.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(next) = self.try_pop() {
                return next;
            }
            arrived.await;
        }
    }

    /// `Some(chunk)`, `Some(None)` when closed and empty, `None` when there is nothing yet.
    fn try_pop(&self) -> Option<Option<Vec<Work>>> {
        let mut queued = self.lock();
        if let Some(chunk) = queued.chunks.pop_front() {
            self.room.add_permits(1);
            // Another chunk may be waiting for another idle lane.
            if !queued.chunks.is_empty() {
                self.arrived.notify_one();
            }
            return Some(Some(chunk));
        }
        queued.closed.then_some(None)
    }

    fn close(&self) {
        self.lock().closed = true;
        self.room.close();
        self.arrived.notify_waiters();
    }
}

/// Why records can no longer be dispatched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaneError {
    /// The operating system refused a thread or a runtime.
    #[error("cannot start a dispatch lane: {0}")]
    Start(#[source] std::io::Error),
    /// A lane stopped (its stack failed, logged by the lane).
    #[error("a dispatch lane stopped")]
    Stopped,
}

impl Lanes {
    /// One lane per stack, each on its own thread, finishing attempts with `shared`.
    pub(crate) fn start(stacks: Vec<LaneStack>, shared: &Arc<Shared>) -> Result<Lanes, LaneError> {
        let queue = Arc::new(ChunkQueue {
            chunks: std::sync::Mutex::new(Queued {
                chunks: VecDeque::new(),
                closed: false,
            }),
            room: Semaphore::new(stacks.len().max(1) * CHUNKS_QUEUED_PER_LANE),
            arrived: Notify::new(),
        });
        // Built first, so that an early return below closes the queue for the lanes started.
        let mut lanes = Lanes {
            queue,
            finished: Vec::with_capacity(stacks.len()),
        };
        for (index, stack) in stacks.into_iter().enumerate() {
            let (done, finished) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(LaneError::Start)?;
            let shared = Arc::new(shared.for_lane(Arc::clone(&stack.metrics)));
            let chunks = Arc::clone(&lanes.queue);
            let span = tracing::Span::current();
            std::thread::Builder::new()
                .name(format!("webhook-lane-{index}"))
                .spawn(move || {
                    if let Err(error) = crate::scheduling::prefer_throughput() {
                        tracing::debug!(%error, "the lane keeps the default scheduling policy");
                    }
                    let result = runtime.block_on(run_lane(stack, shared, chunks).instrument(span));
                    drop(runtime);
                    let _ = done.send(result);
                })
                .map_err(LaneError::Start)?;
            lanes.finished.push(finished);
        }
        Ok(lanes)
    }

    /// Queues `chunk` for the next lane with a free permit, waiting while the queue is full: the
    /// sink's backpressure.
    pub(crate) async fn send(&mut self, chunk: Vec<Work>) -> Result<(), LaneError> {
        self.queue.push(chunk).await
    }

    /// Closes the lanes and waits until each has finished its attempts.
    pub(crate) async fn finish(mut self) -> Result<(), LaneError> {
        self.queue.close();
        let mut result = Ok(());
        for finished in std::mem::take(&mut self.finished) {
            if !matches!(finished.await, Ok(Ok(()))) {
                result = Err(LaneError::Stopped);
            }
        }
        result
    }
}

impl Drop for Lanes {
    /// A sink that stops early still lets its lanes end (after their attempts in flight).
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A lane's loop: with a free permit, take the next record (from the chunk in hand, or the next
/// chunk) and start its attempt; meanwhile drive the attempts in flight; at the end, finish them.
async fn run_lane(lane: LaneStack, shared: Arc<Shared>, chunks: Arc<ChunkQueue>) -> Result<(), ()> {
    let LaneStack {
        mut stack, counts, ..
    } = lane;
    let flusher = tokio::spawn({
        let counts = counts.clone();
        async move {
            let mut every = tokio::time::interval(FLUSH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                counts.flush();
            }
        }
    });
    let mut attempts = FuturesUnordered::new();
    let mut chunk = VecDeque::new();
    let result = loop {
        tokio::select! {
            biased;
            Some(()) = attempts.next(), if !attempts.is_empty() => {}
            next = next_work(&mut stack, &chunks, &mut chunk) => match next {
                Ok(Some(work)) => attempts.push(attempt::start(&mut stack, &shared, &counts, work)),
                Ok(None) => break Ok(()),
                Err(()) => break Err(()),
            },
        }
    };
    while attempts.next().await.is_some() {}
    flusher.abort();
    counts.flush();
    result
}

/// Once the stack has a free permit, the next record: from `chunk`, else from the next chunk
/// queued; `None` once the queue is closed and empty.
async fn next_work(
    stack: &mut DispatchService,
    chunks: &ChunkQueue,
    chunk: &mut VecDeque<Work>,
) -> Result<Option<Work>, ()> {
    ready(stack).await?;
    loop {
        if let Some(work) = chunk.pop_front() {
            return Ok(Some(work));
        }
        match chunks.pop().await {
            Some(next) => *chunk = VecDeque::from(next),
            None => return Ok(None),
        }
    }
}

/// Waits for a free permit; a stack that fails is logged and ends the lane.
async fn ready(stack: &mut DispatchService) -> Result<(), ()> {
    match stack.ready().await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::error!(%error, "the dispatch stack failed");
            Err(())
        }
    }
}
