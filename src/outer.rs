//! The outer retry tier: records whose first attempt failed wait here for their later attempts.
//!
//! [`RetryTier`] is the seam the durable SQLite store implements; [`MemoryTier`] is the in-memory
//! implementation used until then (it loses its records when the process stops). Both follow the
//! same schedule: `attempts` more attempts spread over `window` with doubling gaps that sum to the
//! window (or an explicit `schedule`), each gap jittered by ±20 %. A record whose attempts are
//! spent becomes a dead letter with its last error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use rand::Rng;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::stream::Stream;

/// Relative jitter applied to each gap of the outer schedule.
pub const SCHEDULE_JITTER: f64 = 0.2;

/// When the later attempts happen, as gaps after the previous attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    gaps: Vec<Duration>,
}

impl Schedule {
    /// `attempts` gaps doubling from the first, summing to `window` (9 over 4 h: 28.2 s, 56.4 s, ...).
    pub fn spread(attempts: u32, window: Duration) -> Schedule {
        let attempts = attempts.min(30);
        let units = (1u64 << attempts) - 1;
        let first = if units == 0 {
            Duration::ZERO
        } else {
            window.div_f64(units as f64)
        };
        let gaps = (0..attempts).map(|i| first * (1u32 << i)).collect();
        Schedule { gaps }
    }

    /// An explicit list of gaps (`retry.schedule`).
    pub fn explicit(gaps: Vec<Duration>) -> Schedule {
        Schedule { gaps }
    }

    /// How many attempts follow the first.
    pub fn attempts(&self) -> u32 {
        self.gaps.len() as u32
    }

    /// The un-jittered gaps.
    pub fn gaps(&self) -> &[Duration] {
        &self.gaps
    }

    /// The jittered wait before later attempt `n` (1-based), or `None` when none is left.
    pub fn next_gap(&self, n: u32, rng: &mut impl Rng) -> Option<Duration> {
        let gap = *self.gaps.get(n.checked_sub(1)? as usize)?;
        let factor = rng.gen_range(1.0 - SCHEDULE_JITTER..=1.0 + SCHEDULE_JITTER);
        Some(gap.mul_f64(factor))
    }
}

/// What to do when the tier holds `max_records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (the sink stops pulling input meanwhile).
    Block,
    /// Refuse the new record (it is counted as lost).
    DropNewest,
}

/// A record waiting for its next attempt.
#[derive(Debug, Clone)]
pub struct FailedRecord {
    /// Which stream it belongs to.
    pub stream: Stream,
    /// The exact payload to send again.
    pub body: Bytes,
    /// Attempts made so far (1 after the first attempt failed).
    pub attempts_made: u32,
    /// Why the last attempt failed (status or transport error).
    pub last_error: String,
    /// A `Retry-After` the webhook asked for that did not fit the attempt budget.
    pub retry_after: Option<Duration>,
    /// When the record entered the pipeline (for delivery latency).
    pub received_at: SystemTime,
}

/// A record whose attempts are spent.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The record as it was last attempted.
    pub record: FailedRecord,
    /// When it was given up on.
    pub at: SystemTime,
}

/// What became of a record after a later attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Scheduled again.
    Rescheduled,
    /// Attempts spent: moved to the dead letters.
    DeadLettered,
}

/// Why the tier could not take a record.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// `when_full = "drop_newest"` and the tier holds `max_records`.
    #[error("the retry store is full ({max_records} records); the record was dropped")]
    Full {
        /// The configured capacity.
        max_records: usize,
    },
    /// The store itself failed (a durable store's I/O).
    #[error("the retry store failed: {0}")]
    Store(String),
}

/// A leased record handed back to the sink for its next attempt.
#[derive(Debug)]
pub struct DueRecord {
    /// The record.
    pub record: FailedRecord,
    /// The tier's handle for [`RetryTier::complete`].
    pub id: u64,
}

/// The seam between the sink and its outer retry tier.
#[async_trait]
pub trait RetryTier: Send + Sync {
    /// Takes a record whose first attempt failed. `Ok` means the tier holds it (the sink may then
    /// acknowledge the record as delivered), or dead-lettered it at once when no attempts follow
    /// the first. Waits for room when full and blocking.
    async fn enqueue(&self, record: FailedRecord) -> Result<Disposition, TierError>;

    /// Waits until a record is due and leases it to the caller.
    async fn next_due(&self) -> DueRecord;

    /// Reports the outcome of a leased record's attempt: `Ok` removes it; `Err(reason)`
    /// reschedules it or, when its attempts are spent, moves it to the dead letters.
    async fn complete(
        &self,
        id: u64,
        result: Result<(), String>,
        retry_after: Option<Duration>,
    ) -> Result<Option<Disposition>, TierError>;

    /// At shutdown: `None` for a durable tier, which keeps its records for the next start (the
    /// default); a tier that does not survive the process leases every waiting record at once,
    /// due or not, for a last attempt.
    async fn take_all_for_shutdown(&self) -> Option<Vec<DueRecord>> {
        None
    }

    /// Records held (waiting or leased).
    fn len(&self) -> usize;

    /// Whether the tier holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Held {
    record: FailedRecord,
    _room: Option<OwnedSemaphorePermit>,
}

#[derive(Default)]
struct MemoryState {
    next_id: u64,
    /// Waiting records by (due time, id).
    waiting: BTreeMap<(Instant, u64), u64>,
    /// Every held record by id, waiting or leased.
    held: BTreeMap<u64, Held>,
    dead: Vec<DeadLetter>,
}

/// The in-memory tier: bounded by `max_records`, not durable.
pub struct MemoryTier {
    schedule: Schedule,
    max_records: usize,
    when_full: WhenFull,
    room: Arc<Semaphore>,
    state: Mutex<MemoryState>,
    changed: Notify,
}

impl MemoryTier {
    /// A tier holding at most `max_records` that follows `schedule`.
    pub fn new(schedule: Schedule, max_records: usize, when_full: WhenFull) -> MemoryTier {
        let max_records = max_records.clamp(1, Semaphore::MAX_PERMITS);
        MemoryTier {
            schedule,
            max_records,
            when_full,
            room: Arc::new(Semaphore::new(max_records)),
            state: Mutex::new(MemoryState::default()),
            changed: Notify::new(),
        }
    }

    /// The records given up on so far.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead.clone()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the record's next attempt is due, or `None` when its attempts are spent.
    fn next_due_at(&self, record: &FailedRecord) -> Option<Instant> {
        let gap = self
            .schedule
            .next_gap(record.attempts_made, &mut rand::thread_rng())?;
        let gap = gap.max(record.retry_after.unwrap_or_default());
        Some(Instant::now() + gap)
    }
}

#[async_trait]
impl RetryTier for MemoryTier {
    async fn enqueue(&self, record: FailedRecord) -> Result<Disposition, TierError> {
        let room = match self.when_full {
            WhenFull::Block => Arc::clone(&self.room)
                .acquire_owned()
                .await
                .map_err(|_| TierError::Store("the retry store was closed".into()))?,
            WhenFull::DropNewest => {
                Arc::clone(&self.room)
                    .try_acquire_owned()
                    .map_err(|_| TierError::Full {
                        max_records: self.max_records,
                    })?
            }
        };
        let Some(due) = self.next_due_at(&record) else {
            // `attempts = 0`: nothing follows the first attempt.
            self.lock().dead.push(DeadLetter {
                record,
                at: SystemTime::now(),
            });
            return Ok(Disposition::DeadLettered);
        };
        {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            state.waiting.insert((due, id), id);
            state.held.insert(
                id,
                Held {
                    record,
                    _room: Some(room),
                },
            );
        }
        self.changed.notify_waiters();
        Ok(Disposition::Rescheduled)
    }

    async fn next_due(&self) -> DueRecord {
        loop {
            let changed = self.changed.notified();
            let wait_until = {
                let mut state = self.lock();
                let first = state.waiting.keys().next().copied();
                match first {
                    Some((due, id)) if due <= Instant::now() => {
                        state.waiting.remove(&(due, id));
                        if let Some(held) = state.held.get(&id) {
                            return DueRecord {
                                record: held.record.clone(),
                                id,
                            };
                        }
                        continue;
                    }
                    Some((due, _)) => Some(due),
                    None => None,
                }
            };
            match wait_until {
                Some(due) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(due.into()) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    async fn complete(
        &self,
        id: u64,
        result: Result<(), String>,
        retry_after: Option<Duration>,
    ) -> Result<Option<Disposition>, TierError> {
        let disposition = {
            let mut state = self.lock();
            let Some(mut held) = state.held.remove(&id) else {
                return Ok(None);
            };
            match result {
                Ok(()) => None,
                Err(reason) => {
                    held.record.attempts_made += 1;
                    held.record.last_error = reason;
                    held.record.retry_after = retry_after;
                    match self.next_due_at(&held.record) {
                        Some(due) => {
                            state.waiting.insert((due, id), id);
                            state.held.insert(id, held);
                            Some(Disposition::Rescheduled)
                        }
                        None => {
                            state.dead.push(DeadLetter {
                                record: held.record,
                                at: SystemTime::now(),
                            });
                            Some(Disposition::DeadLettered)
                        }
                    }
                }
            }
        };
        self.changed.notify_waiters();
        Ok(disposition)
    }

    async fn take_all_for_shutdown(&self) -> Option<Vec<DueRecord>> {
        let mut state = self.lock();
        let waiting = std::mem::take(&mut state.waiting);
        let due = waiting
            .into_values()
            .filter_map(|id| {
                state.held.get(&id).map(|held| DueRecord {
                    record: held.record.clone(),
                    id,
                })
            })
            .collect();
        Some(due)
    }

    fn len(&self) -> usize {
        self.lock().held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn record(body: &'static str) -> FailedRecord {
        FailedRecord {
            stream: Stream::Events,
            body: Bytes::from_static(body.as_bytes()),
            attempts_made: 1,
            last_error: "HTTP 500".into(),
            retry_after: None,
            received_at: SystemTime::now(),
        }
    }

    #[test]
    fn nine_attempts_over_four_hours_double_and_sum_to_the_window() {
        let schedule = Schedule::spread(9, Duration::from_secs(4 * 3600));
        let gaps = schedule.gaps();
        assert_eq!(gaps.len(), 9);
        assert!((gaps[0].as_secs_f64() - 14400.0 / 511.0).abs() < 1e-6);
        for pair in gaps.windows(2) {
            assert!((pair[1].as_secs_f64() - 2.0 * pair[0].as_secs_f64()).abs() < 1e-6);
        }
        let total: Duration = gaps.iter().sum();
        assert!((total.as_secs_f64() - 14400.0).abs() < 1e-3);
    }

    #[test]
    fn each_gap_is_jittered_within_twenty_percent() {
        let schedule = Schedule::explicit(vec![Duration::from_secs(10)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let gap = schedule.next_gap(1, &mut rng).unwrap_or_default();
            assert!(gap >= Duration::from_secs(8) && gap <= Duration::from_secs(12));
        }
        assert_eq!(schedule.next_gap(2, &mut rng), None);
    }

    #[tokio::test]
    async fn records_come_back_when_due_and_expire_after_their_attempts() {
        let schedule = Schedule::explicit(vec![Duration::from_millis(50); 2]);
        let tier = MemoryTier::new(schedule, 10, WhenFull::Block);
        tier.enqueue(record("a")).await.unwrap();
        assert_eq!(tier.len(), 1);

        let started = Instant::now();
        let due = tier.next_due().await;
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(due.record.body, "a");
        let disposition = tier.complete(due.id, Err("HTTP 503".into()), None).await;
        assert_eq!(disposition.unwrap(), Some(Disposition::Rescheduled));

        let due = tier.next_due().await;
        assert_eq!(due.record.attempts_made, 2);
        let disposition = tier.complete(due.id, Err("HTTP 502".into()), None).await;
        assert_eq!(disposition.unwrap(), Some(Disposition::DeadLettered));
        assert!(tier.is_empty());
        let dead = tier.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].record.last_error, "HTTP 502");
        assert_eq!(dead[0].record.attempts_made, 3);
    }

    #[tokio::test]
    async fn a_delivered_record_leaves_the_tier() {
        let tier = MemoryTier::new(
            Schedule::explicit(vec![Duration::ZERO]),
            10,
            WhenFull::Block,
        );
        tier.enqueue(record("a")).await.unwrap();
        let due = tier.next_due().await;
        assert_eq!(tier.complete(due.id, Ok(()), None).await.unwrap(), None);
        assert!(tier.is_empty());
        assert!(tier.dead_letters().is_empty());
    }

    #[tokio::test]
    async fn a_full_tier_blocks_or_drops_as_configured() {
        let schedule = Schedule::explicit(vec![Duration::from_secs(60)]);
        let dropping = MemoryTier::new(schedule.clone(), 1, WhenFull::DropNewest);
        dropping.enqueue(record("a")).await.unwrap();
        assert!(matches!(
            dropping.enqueue(record("b")).await,
            Err(TierError::Full { max_records: 1 })
        ));

        let blocking = Arc::new(MemoryTier::new(
            Schedule::explicit(vec![Duration::ZERO]),
            1,
            WhenFull::Block,
        ));
        blocking.enqueue(record("a")).await.unwrap();
        let second = tokio::spawn({
            let blocking = Arc::clone(&blocking);
            async move { blocking.enqueue(record("b")).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "waits for room");
        let due = blocking.next_due().await;
        blocking.complete(due.id, Ok(()), None).await.unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(blocking.len(), 1);
    }

    #[tokio::test]
    async fn shutdown_leases_every_waiting_record_at_once() {
        let schedule = Schedule::explicit(vec![Duration::from_secs(3600)]);
        let tier = MemoryTier::new(schedule, 10, WhenFull::Block);
        tier.enqueue(record("a")).await.unwrap();
        tier.enqueue(record("b")).await.unwrap();
        let all = tier.take_all_for_shutdown().await.unwrap_or_default();
        let mut bodies: Vec<_> = all.iter().map(|d| d.record.body.clone()).collect();
        bodies.sort();
        assert_eq!(bodies, ["a", "b"]);
        assert_eq!(tier.len(), 2, "still held until completed");
        for due in all {
            tier.complete(due.id, Ok(()), None).await.unwrap();
        }
        assert!(tier.is_empty());
    }

    #[tokio::test]
    async fn a_long_retry_after_delays_the_next_attempt() {
        let tier = MemoryTier::new(
            Schedule::explicit(vec![Duration::ZERO]),
            10,
            WhenFull::Block,
        );
        let mut late = record("a");
        late.retry_after = Some(Duration::from_millis(200));
        tier.enqueue(late).await.unwrap();
        let started = Instant::now();
        let _ = tier.next_due().await;
        assert!(started.elapsed() >= Duration::from_millis(190));
    }
}
