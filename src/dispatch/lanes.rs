//! Dispatch lanes: threads that each drive their own dispatch stack on a one-thread runtime.
//!
//! A request's life is a few hand-offs between its task and its connection's task. On a
//! work-stealing runtime those tasks wander between workers, and every hand-off across threads
//! costs a wake-up and cold caches (measured: a fifth more CPU per request on two cores). A lane
//! keeps a share of the connections, of the concurrency and of the requests on one thread. Work
//! arrives in chunks through one queue, so crossing threads costs once per chunk; a lane takes
//! the next chunk only when its stack has a free permit, so a lane whose requests hang does not
//! hold up records another lane could send. Lanes run under the throughput scheduling policy
//! ([`super::scheduling`]): an answer waking a lane does not preempt the thread running.
//!
//! What a piece of work is, and what happens after its answer, is the caller's (the `start`
//! function given to [`Lanes::start`]); the lanes only decide when it starts.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{oneshot, Notify, Semaphore, SemaphorePermit};
use tower::ServiceExt;
use tracing::Instrument;

use super::DispatchService;
use crate::telemetry::{HotCounts, Progress, FLUSH_EVERY};

/// Chunks the queue holds per lane: a lane that finishes its chunk finds the next one waiting.
/// Four rather than two: when the host's worker is descheduled (two cores, four busy threads with
/// the receiver), the lanes still have work; interleaved runs, 107k -> 112k events/s fed directly,
/// 110k -> 111.5k through the host (medians of five).
pub const CHUNKS_QUEUED_PER_LANE: usize = 4;

/// What one lane drives.
pub struct LaneStack<L> {
    /// Its dispatch stack.
    pub stack: DispatchService,
    /// The counts its tries go into (added to the shared metrics by the lane).
    pub counts: HotCounts,
    /// What its attempts share: the lane's own copies of what they reference (a reference
    /// count both cores bump per request costs a cache-line transfer each time).
    pub lane: L,
}

/// The running lanes.
pub struct Lanes<W> {
    queue: Arc<ChunkQueue<W>>,
    counts: Vec<HotCounts>,
    finished: Vec<oneshot::Receiver<Result<(), ()>>>,
}

/// The chunks waiting for a lane with a free permit; every lane takes from it.
struct ChunkQueue<W> {
    chunks: std::sync::Mutex<Queued<W>>,
    /// Room for one more chunk.
    room: Semaphore,
    /// Signalled when a chunk arrives or the queue closes.
    arrived: Notify,
}

struct Queued<W> {
    chunks: VecDeque<Vec<W>>,
    closed: bool,
}

/// Why work can no longer be dispatched.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    /// The operating system refused a thread or a runtime.
    #[error("cannot start a dispatch lane: {0}")]
    Start(#[source] std::io::Error),
    /// A lane stopped (its stack failed, logged by the lane).
    #[error("a dispatch lane stopped")]
    Stopped,
}

/// Room for one chunk in the queue, held until the chunk is pushed (or given back on drop).
pub struct Room<'a>(SemaphorePermit<'a>);

impl<W> ChunkQueue<W> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queued<W>> {
        self.chunks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next chunk, or `None` once the queue is closed and empty.
    async fn pop(&self) -> Option<Vec<W>> {
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
    fn try_pop(&self) -> Option<Option<Vec<W>>> {
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

impl<W: Send + 'static> Lanes<W> {
    /// One lane per stack, each on its own thread. A lane calls `start` for each piece of work
    /// once its stack has a free permit, and drives the future it returns among its others (a
    /// task per attempt cost a spawn, a scheduling and a wake-up per request).
    pub fn start<L, S, F>(stacks: Vec<LaneStack<L>>, start: S) -> Result<Lanes<W>, LaneError>
    where
        L: Send + 'static,
        S: Fn(W, &mut DispatchService, &L) -> F + Clone + Send + 'static,
        F: Future<Output = ()> + 'static,
    {
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
            counts: stacks.iter().map(|s| s.counts.clone()).collect(),
            finished: Vec::with_capacity(stacks.len()),
        };
        for (index, stack) in stacks.into_iter().enumerate() {
            let (done, finished) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(LaneError::Start)?;
            let chunks = Arc::clone(&lanes.queue);
            let start = start.clone();
            let span = tracing::Span::current();
            std::thread::Builder::new()
                .name(format!("webhook-lane-{index}"))
                .spawn(move || {
                    if let Err(error) = super::scheduling::prefer_throughput() {
                        tracing::debug!(%error, "the lane keeps the default scheduling policy");
                    }
                    let result = runtime.block_on(run_lane(stack, chunks, start).instrument(span));
                    drop(runtime);
                    let _ = done.send(result);
                })
                .map_err(LaneError::Start)?;
            lanes.finished.push(finished);
        }
        Ok(lanes)
    }
}

impl<W> Lanes<W> {
    /// Waits for room for one chunk: the sink's backpressure. Waiters are served in turn, so
    /// two feeders (new records, stored ones) share the lanes evenly when both have work.
    pub async fn room(&self) -> Result<Room<'_>, LaneError> {
        self.queue
            .room
            .acquire()
            .await
            .map(Room)
            .map_err(|_| LaneError::Stopped)
    }

    /// Room for one chunk if there is some now.
    pub fn try_room(&self) -> Option<Room<'_>> {
        self.queue.room.try_acquire().ok().map(Room)
    }

    /// Queues `chunk` for the next lane with a free permit.
    pub fn push(&self, room: Room<'_>, chunk: Vec<W>) {
        room.0.forget();
        self.queue.lock().chunks.push_back(chunk);
        self.queue.arrived.notify_one();
    }

    /// Takes back the queued work that `reclaim` picks (a lane has not started it yet).
    pub fn reclaim(&self, mut reclaim: impl FnMut(&W) -> bool) -> Vec<W> {
        let mut queued = self.queue.lock();
        let mut taken = Vec::new();
        let before = queued.chunks.len();
        queued.chunks.retain_mut(|chunk| {
            let (back, keep): (Vec<W>, Vec<W>) = chunk.drain(..).partition(|w| reclaim(w));
            taken.extend(back);
            *chunk = keep;
            !chunk.is_empty()
        });
        self.queue.room.add_permits(before - queued.chunks.len());
        taken
    }

    /// Each lane's progress, for the stall watchdog.
    pub fn progress(&self) -> Vec<Progress> {
        self.counts.iter().filter_map(HotCounts::progress).collect()
    }

    /// Closes the lanes and waits until each has finished its work.
    pub async fn finish(mut self) -> Result<(), LaneError> {
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

impl<W> Drop for Lanes<W> {
    /// A sink that stops early still lets its lanes end (after their attempts in flight).
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A lane's loop: with a free permit, take the next piece of work (from the chunk in hand, or the next chunk) and start it; meanwhile drive the attempts
/// in flight; at the end, finish them.
async fn run_lane<W, L, F>(
    lane: LaneStack<L>,
    chunks: Arc<ChunkQueue<W>>,
    start: impl Fn(W, &mut DispatchService, &L) -> F,
) -> Result<(), ()>
where
    F: Future<Output = ()>,
{
    let LaneStack {
        mut stack,
        counts,
        lane,
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
                Ok(Some(work)) => attempts.push(start(work, &mut stack, &lane)),
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

/// Once the stack has a free permit, the next piece of work: from `chunk`, else from the next
/// chunk queued; `None` once the queue is closed and empty.
async fn next_work<W>(
    stack: &mut DispatchService,
    chunks: &ChunkQueue<W>,
    chunk: &mut VecDeque<W>,
) -> Result<Option<W>, ()> {
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
