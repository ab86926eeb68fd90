//! The running `webhook` sink: batches in, one HTTP request per payload out, acknowledgements
//! back.
//!
//! `run` is a short pipeline. Each batch is prepared into jobs ([`crate::prepare`]); the router
//! queues them in chunks for the dispatch lanes ([`crate::dispatch::lanes`]), or, while their
//! stream's circuit is open, hands them to the absorber ([`absorb`]), which stores them without
//! an attempt. The lanes run each attempt ([`attempt`]); every record's end is settled in one
//! place ([`settle`]). Beside the router, one feeder per stream brings due records back from the
//! retry store and probes open circuits, and a watchdog notices a webhook that stopped
//! answering ([`feed`]). The sink takes the next batch only once the last one is placed, so a
//! slow webhook slows the sources, and an outage fills the store instead.

mod absorb;
mod attempt;
mod build;
mod feed;
mod health;
pub(crate) mod settle;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use pipeline_core::{EventArray, HealthHandle, StreamSink};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::dispatch::lanes::{LaneError, LaneStack, Lanes};
use crate::prepare::{Job, Preparer};
use crate::stream::Stream;
use crate::telemetry::AbsorbReason;
use absorb::Absorber;
use attempt::{LaneContext, Shared, Work};

pub use build::{factory, register, WebhookSinkConfig, SINK_TYPE};

/// The sink as the host runs it.
pub struct WebhookSink {
    preparer: Preparer,
    /// One dispatch stack per lane.
    stacks: Vec<LaneStack<LaneContext>>,
    shared: Arc<Shared>,
    /// Records queued for a lane at once.
    chunk: usize,
    /// Records from the input that may be on the lanes at once (until settled).
    slots: usize,
    /// The per-try timeout (the watchdog leaves slower stalls to it).
    timeout: Duration,
    spill_after: Option<Duration>,
    /// Where the sink says how it is (see [`health`]).
    health: HealthHandle,
    /// `store.max_records`, against which the store's fill is judged.
    max_records: usize,
}

impl WebhookSink {
    /// The same sink reporting its health through `health`.
    pub fn with_health(mut self, health: HealthHandle) -> WebhookSink {
        self.health = health;
        self
    }
}

#[async_trait]
impl StreamSink for WebhookSink {
    async fn run(self: Box<Self>, input: BoxStream<'_, EventArray>) -> Result<(), ()> {
        let WebhookSink {
            preparer,
            stacks,
            shared,
            chunk,
            slots,
            timeout,
            spill_after,
            health,
            max_records,
        } = *self;
        let lanes = match Lanes::start(stacks, attempt::start) {
            Ok(lanes) => lanes,
            Err(error) => {
                tracing::error!(%error, "the sink cannot start");
                return Err(());
            }
        };
        let absorber = Absorber::new(Arc::clone(&shared));
        let stop = CancellationToken::new();
        let store = &*shared.store;
        let circuits = &*shared.circuits;
        let mut router = Router {
            lanes: &lanes,
            shared: &shared,
            absorber: &absorber,
            changes: circuits.watch(),
            slots: Arc::new(Semaphore::new(slots)),
            chunk,
            spill_after,
            spilling: false,
        };
        let routing = async {
            let result = router.route(&preparer, input).await;
            absorber.finish().await;
            stop.cancel();
            result
        };
        let feeding = async {
            let (events, users, (), ()) = tokio::join!(
                feed::feed_stream(Stream::Events, &lanes, store, circuits, chunk, &stop),
                feed::feed_stream(Stream::Users, &lanes, store, circuits, chunk, &stop),
                feed::watch_stalls(&lanes, circuits, timeout, &stop),
                health::report(&health, circuits, store, max_records, &stop),
            );
            events.and(users)
        };
        let (routed, fed) = tokio::join!(routing, feeding);
        // What is still in flight may fail and need the store: it takes it without waiting.
        store.finishing();
        let finished = lanes.finish().await;
        if let Err(error) = store.flush().await {
            tracing::error!(%error, "the retry store could not finish its last writes");
        }
        shared.ledger.flush_logs();
        match routed.and(fed).and(finished) {
            Ok(()) => {
                let waiting = store.len();
                if waiting > 0 {
                    tracing::info!(
                        records = waiting,
                        "records wait in the retry store for the next start"
                    );
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "the sink stopped");
                Err(())
            }
        }
    }
}

/// Places prepared jobs: on the lanes, or in the store while their circuit is open or the
/// lanes stay busy past `spill_after`.
struct Router<'a> {
    lanes: &'a Lanes<Work>,
    shared: &'a Shared,
    absorber: &'a Absorber,
    /// Sees every change of a circuit.
    changes: watch::Receiver<u64>,
    /// A record from the input holds one from the lanes until it is settled.
    slots: Arc<Semaphore>,
    chunk: usize,
    spill_after: Option<Duration>,
    /// The lanes had no room for `spill_after`: new records go to the store until they do.
    spilling: bool,
}

impl Router<'_> {
    /// Prepares and places every batch of `input`, taking the next only once the last is placed.
    async fn route(
        &mut self,
        preparer: &Preparer,
        mut input: BoxStream<'_, EventArray>,
    ) -> Result<(), LaneError> {
        loop {
            let batch = tokio::select! {
                batch = input.next() => batch,
                _ = self.changes.changed() => {
                    self.reclaim().await;
                    continue;
                }
            };
            let Some(batch) = batch else {
                return Ok(());
            };
            // One store write for the batch's records whose circuit is open.
            let jobs = preparer.prepare(batch, &self.shared.ledger);
            let mut jobs = self.absorb_open(jobs).await.into_iter();
            loop {
                let chunk: Vec<Job> = jobs.by_ref().take(self.chunk).collect();
                if chunk.is_empty() {
                    break;
                }
                self.place(chunk).await?;
            }
        }
    }

    /// Queues `chunk` for the lanes, absorbing what its circuits (or the spill) send to the store.
    async fn place(&mut self, mut chunk: Vec<Job>) -> Result<(), LaneError> {
        while !chunk.is_empty() {
            if self.spilling {
                match self.lanes.try_room() {
                    Some(room) => {
                        self.spilling = false;
                        let work = self.hold(chunk).await?;
                        self.lanes.push(room, work);
                    }
                    None => self.absorber.absorb(chunk, AbsorbReason::Spill).await,
                }
                return Ok(());
            }
            let spill = async {
                match self.spill_after {
                    Some(after) => tokio::time::sleep(after).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                room = self.lanes.room() => {
                    let room = room?;
                    let work = self.hold(chunk).await?;
                    self.lanes.push(room, work);
                    return Ok(());
                }
                _ = self.changes.changed() => {
                    self.reclaim().await;
                    chunk = self.absorb_open(chunk).await;
                }
                () = spill => {
                    tracing::info!(
                        after = ?self.spill_after,
                        "the webhook keeps every request slot busy; new records spill into the retry store"
                    );
                    self.spilling = true;
                }
            }
        }
        Ok(())
    }

    /// Takes a slot for each job (waiting while the lanes hold as many records as allowed).
    async fn hold(&self, jobs: Vec<Job>) -> Result<Vec<Work>, LaneError> {
        let wanted = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        let mut held: OwnedSemaphorePermit = Arc::clone(&self.slots)
            .acquire_many_owned(wanted)
            .await
            .map_err(|_| LaneError::Stopped)?;
        Ok(jobs
            .into_iter()
            .filter_map(|job| Some(Work::Fresh(job, held.split(1)?)))
            .collect())
    }

    /// Absorbs the jobs whose stream's circuit is open; returns the others.
    async fn absorb_open(&self, chunk: Vec<Job>) -> Vec<Job> {
        let circuits = &self.shared.circuits;
        if !Stream::ALL.iter().any(|s| circuits.of(*s).is_open()) {
            return chunk;
        }
        let (open, closed): (Vec<Job>, Vec<Job>) = chunk
            .into_iter()
            .partition(|job| circuits.of(job.stream).is_open());
        self.absorber.absorb(open, AbsorbReason::CircuitOpen).await;
        closed
    }

    /// A circuit changed: takes back the queued records of open streams and absorbs them.
    async fn reclaim(&self) {
        let circuits = &self.shared.circuits;
        let reclaimed = self.lanes.reclaim(|work| match work {
            Work::Fresh(job, _) => circuits.of(job.stream).is_open(),
            Work::Stored { .. } => false,
        });
        let jobs = reclaimed
            .into_iter()
            .filter_map(|work| match work {
                Work::Fresh(job, _) => Some(job),
                Work::Stored { .. } => None,
            })
            .collect();
        self.absorber.absorb(jobs, AbsorbReason::CircuitOpen).await;
    }
}
