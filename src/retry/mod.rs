//! The retry tier: where records wait when they cannot be delivered now, and what decides when
//! they are tried again.
//!
//! A record enters the store in one of three ways:
//! - its first attempt failed ([`RetryTier::enqueue`]); `attempts` more attempts follow, spread
//!   over `window` ([`Schedule`]), then it becomes a dead letter with its last error;
//! - its stream's circuit was open ([`circuit`]): the webhook is known to be down, so the record
//!   is stored without an attempt ([`RetryTier::absorb`]), due at once, and sent when the circuit
//!   closes, as the first attempt it never had;
//! - the lanes stayed busy past `store.spill_after` (opt-in): stored the same way.
//!
//! A record's attempts count only attempts actually made: while its stream's circuit is open,
//! records wait without spending any (only the probe is an attempt), so a long outage does not
//! exhaust them, and a record that was never tried is never a dead letter. When the circuit
//! closes, the records whose attempt failed during the outage are due at once rather than
//! after their next gap: the oldest records go first. The gaps of the schedule otherwise run
//! from the last attempt actually made. The store has no
//! maximum age: it is bounded by `store.max_records`, and `store.when_full` decides what
//! happens then.
//!
//! [`RetryTier`] is the seam; [`store::SqliteTier`] is the durable implementation.

pub mod circuit;
pub mod dead_letters;
mod schedule;
pub mod store;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::stream::{Stream, StreamSet};

pub use schedule::{Schedule, SCHEDULE_JITTER};

/// What to do when the store holds `max_records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (the sink stops pulling input meanwhile).
    Block,
    /// Refuse the new record (it is counted as lost).
    DropNewest,
}

/// `[sinks.ID.store]` and the later-attempt part of `[sinks.ID.retry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    /// When later attempts happen.
    pub schedule: Schedule,
    /// Most records held.
    pub max_records: usize,
    /// Behaviour when full.
    pub when_full: WhenFull,
    /// New records go to the store when the lanes have had no room for this long (off: `None`).
    pub spill_after: Option<Duration>,
}

/// A record whose attempt failed.
#[derive(Debug, Clone)]
pub struct FailedRecord {
    /// Which stream it belongs to.
    pub stream: Stream,
    /// The exact payload to send again.
    pub body: Bytes,
    /// Attempts made so far (1 after the first attempt failed; 0 for a record that was stored
    /// without one).
    pub attempts_made: u32,
    /// Why the last attempt failed (status or transport error); empty before the first attempt.
    pub last_error: String,
    /// A `Retry-After` the webhook asked for that did not fit the attempt budget.
    pub retry_after: Option<Duration>,
    /// When the record entered the pipeline (for delivery latency).
    pub received_at: SystemTime,
}

/// A record stored without an attempt.
#[derive(Debug, Clone)]
pub struct AbsorbedRecord {
    /// Which stream it belongs to.
    pub stream: Stream,
    /// The exact payload to send.
    pub body: Bytes,
    /// When the record entered the pipeline.
    pub received_at: SystemTime,
}

/// What became of a record after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Scheduled again.
    Rescheduled,
    /// Attempts spent: moved to the dead letters.
    DeadLettered,
}

/// Why the store could not take a record.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// `when_full = "drop_newest"` and the store holds `max_records`.
    #[error("the retry store is full ({max_records} records); the record was dropped")]
    Full {
        /// The configured capacity.
        max_records: usize,
    },
    /// The store itself failed (its I/O).
    #[error("the retry store failed: {0}")]
    Store(String),
}

/// A leased record handed back to the sink for its next attempt.
#[derive(Debug)]
pub struct DueRecord {
    /// The record.
    pub record: FailedRecord,
    /// Whether any attempt was ever made (false for a record stored without one; true for a
    /// dead letter replayed with its count reset).
    pub tried: bool,
    /// The store's handle for [`RetryTier::complete`] and [`RetryTier::release`].
    pub id: u64,
}

/// The seam between the sink and its retry store.
#[async_trait]
pub trait RetryTier: Send + Sync {
    /// Takes a record whose attempt failed. `Ok` means the store holds it (the sink may then
    /// acknowledge the record as delivered), or dead-lettered it at once when no attempts follow.
    /// Waits for room when full and blocking.
    async fn enqueue(&self, record: FailedRecord) -> Result<Disposition, TierError>;

    /// Takes records the sink did not attempt, due at once, in one durable write. Returns how
    /// many it holds: the first that many; the rest were refused because the store is full and
    /// drops the newest. Waits for room when full and blocking.
    async fn absorb(&self, records: Vec<AbsorbedRecord>) -> Result<usize, TierError>;

    /// Leases up to `limit` due records of each stream in `streams`, earliest due first; empty
    /// when none is due. A caller that stops waiting loses nothing: what was leased for it is
    /// handed out by the next call.
    async fn lease(&self, streams: StreamSet, limit: usize) -> Result<Vec<DueRecord>, TierError>;

    /// Waits until a record of `streams` may be due (at most about a second, so that records
    /// another process replayed into the file are found too).
    async fn wait_due(&self, streams: StreamSet);

    /// Reports the outcome of a leased record's attempt: `Ok` removes it; `Err(reason)`
    /// reschedules it or, when its attempts are spent, moves it to the dead letters.
    async fn complete(
        &self,
        id: u64,
        result: Result<(), String>,
        retry_after: Option<Duration>,
    ) -> Result<Option<Disposition>, TierError>;

    /// Gives a leased record back without an attempt (its stream's circuit opened meanwhile).
    async fn release(&self, id: u64) -> Result<(), TierError>;

    /// An outage of `streams` that began at `began` has ended: the waiting records whose last
    /// attempt failed since then are due at once, ahead of those stored without an attempt
    /// (they failed because of the outage, and the oldest go first), keeping their attempt
    /// counts. Returns how many.
    async fn outage_ended(&self, streams: StreamSet, began: SystemTime) -> Result<u64, TierError>;

    /// Waits until everything sent to the store before is durable (the sink's last call: the
    /// deletions of delivered records are not waited for one by one).
    async fn flush(&self) -> Result<(), TierError>;

    /// The input has ended: from now on records are taken without waiting for room, so that
    /// the last attempts can finish (the store may end up to the in-flight count over
    /// `max_records`).
    fn finishing(&self);

    /// Records held (waiting or leased).
    fn len(&self) -> usize;

    /// Whether the store holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
