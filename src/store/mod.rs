//! The durable outer retry tier: failed records wait in SQLite under `data_dir/<sink id>/`.
//!
//! [`SqliteTier`] implements the sink's [`RetryTier`] seam. A record whose first attempt failed is
//! written with its payload, stream, headers, attempt count, next due time and error; the enqueue
//! resolves only after the COMMIT (so the sink's "Delivered" means durable). Due records are
//! leased back to the sink, which sends them through the same dispatch stack; a leased record stays
//! in the table until its attempt completes, so a crash mid-attempt resends it on the next start
//! (at-least-once, never zero times). Spent records move to the dead-letter table with their
//! history of failures. All SQLite work runs on one thread ([`worker`]) in group commits.

mod db;
mod dead_letters;
mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::HeaderMap;
use metrics::{Gauge, Label};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::OuterConfig;
use crate::outer::{Disposition, DueRecord, FailedRecord, RetryTier, TierError, WhenFull};
use crate::stream::Stream;
use crate::telemetry::SinkMetrics;

use db::{from_ms, stream_index, to_ms, LeasedRow, NewRecord, Table};
pub use db::{DeadLetterRow, StoreError, FILE_NAME};
pub use dead_letters::DeadLetters;
use worker::{Command, Shared, NOTHING_DUE};

use crate::telemetry::names::DEAD_LETTER_RECORDS;

/// Commands that may wait for the writer thread before senders wait.
const CHANNEL_CAPACITY: usize = 8192;

/// Records leased per round trip to the writer thread.
const LEASE_BATCH: usize = 256;

/// How often an idle tier looks at the file again (records replayed by another process).
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The durable retry tier of one sink.
pub struct SqliteTier {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    settings: OuterConfig,
    capacity: Capacity,
    /// The headers every record is sent with, as a JSON object (stored with each record).
    headers: Arc<str>,
    /// Leased records' attempts made and stream, by id.
    leased: Mutex<HashMap<u64, (u32, Stream)>>,
    /// Dead letters per stream, once metrics are attached.
    dead_gauges: Option<[Gauge; 2]>,
    /// The sink's `webhook_retry_store_records` per stream, once metrics are attached.
    record_gauges: Option<[Gauge; 2]>,
    path: PathBuf,
}

impl SqliteTier {
    /// Opens (or creates) the store in `dir` and starts its writer thread. Leases left by a
    /// previous process are voided, so records it was attempting are due again now.
    pub fn open(
        dir: &Path,
        settings: OuterConfig,
        headers: &HeaderMap,
    ) -> Result<SqliteTier, StoreError> {
        let (conn, path) = db::open(dir)?;
        let fail = |context| {
            let path = path.clone();
            move |source| StoreError::Sqlite {
                path,
                context,
                source,
            }
        };
        let resumed = db::release_leases(&conn).map_err(fail("voiding old leases"))?;
        let held = db::count_by_stream(&conn, Table::Records).map_err(fail("counting records"))?;
        let earliest = db::earliest_due(&conn).map_err(fail("finding the next due record"))?;
        let held: u64 = held.iter().sum();
        if held > 0 {
            tracing::info!(records = held, leased_before = resumed, path = %path.display(), "resuming the retry store");
        }
        let shared = Arc::new(Shared {
            ready: Mutex::default(),
            next_due_at: AtomicI64::new(earliest.unwrap_or(NOTHING_DUE)),
            lease_pending: AtomicBool::new(false),
            changed: Notify::new(),
            dead_letters: [AtomicU64::new(0), AtomicU64::new(0)],
            dead_counted: AtomicBool::new(false),
        });
        let commands = worker::spawn(conn, path.clone(), Arc::clone(&shared), CHANNEL_CAPACITY)
            .map_err(|source| StoreError::Thread {
                path: path.clone(),
                source,
            })?;
        Ok(SqliteTier {
            commands,
            shared,
            capacity: Capacity::new(
                settings.max_records,
                usize::try_from(held).unwrap_or(usize::MAX),
            ),
            settings,
            headers: headers_json(headers),
            leased: Mutex::default(),
            dead_gauges: None,
            record_gauges: None,
            path,
        })
    }

    /// Publishes the store's counts: adds the records found at open to the sink's
    /// `webhook_retry_store_records` and keeps `webhook_dead_letter_records` for sink `component_id`.
    pub fn with_metrics(mut self, component_id: &str, metrics: &SinkMetrics) -> SqliteTier {
        let counts = DeadLetters::counts(&self.path);
        let gauge = |stream: Stream| {
            let labels = vec![
                Label::new("component_id", component_id.to_owned()),
                Label::new("component_type", "webhook"),
                Label::new("component_kind", "sink"),
                Label::new("stream", stream.as_str()),
            ];
            metrics::gauge!(DEAD_LETTER_RECORDS, labels)
        };
        let gauges = [gauge(Stream::Events), gauge(Stream::Users)];
        if let Some((records, dead)) = counts {
            for stream in [Stream::Events, Stream::Users] {
                let i = stream_index(stream);
                metrics
                    .stream(stream)
                    .retry_store_records
                    .increment(records[i] as f64);
                gauges[i].set(dead[i] as f64);
            }
        }
        self.dead_gauges = Some(gauges);
        self.record_gauges = Some(
            [Stream::Events, Stream::Users]
                .map(|stream| metrics.stream(stream).retry_store_records.clone()),
        );
        self
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When a record that has made `attempts` attempts is due next, or `None` when none is left.
    fn next_due_at(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        now: SystemTime,
    ) -> Option<i64> {
        let gap = self
            .settings
            .schedule
            .next_gap(attempts, &mut rand::thread_rng())?;
        Some(to_ms(now + gap.max(retry_after.unwrap_or_default())))
    }

    fn leased(&self) -> MutexGuard<'_, HashMap<u64, (u32, Stream)>> {
        self.leased.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a command and waits for the thread's answer (after its group committed).
    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, TierError> {
        let (reply, answer) = oneshot::channel();
        let stopped =
            || TierError::Store(format!("{}: the store thread stopped", self.path.display()));
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(TierError::Store)
    }

    /// Sets the dead-letter gauges from the store thread's latest count of the file.
    fn publish_dead_count(&self) {
        if !self.shared.dead_counted.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(gauges) = &self.dead_gauges {
            for (gauge, count) in gauges.iter().zip(&self.shared.dead_letters) {
                gauge.set(count.load(Ordering::Acquire) as f64);
            }
        }
    }

    fn count_dead(&self, stream: Stream) {
        if let Some(gauges) = &self.dead_gauges {
            gauges[stream_index(stream)].increment(1.0);
        }
    }

    fn hand_out(&self, row: LeasedRow) -> DueRecord {
        let id = u64::try_from(row.id).unwrap_or_default();
        if row.replayed {
            // `dead-letters replay` moved it back while this process ran: count it now.
            self.capacity.adopt();
            let i = stream_index(row.stream);
            if let Some(gauges) = &self.dead_gauges {
                gauges[i].decrement(1.0);
            }
            if let Some(gauges) = &self.record_gauges {
                gauges[i].increment(1.0);
            }
        }
        self.leased().insert(id, (row.attempts, row.stream));
        DueRecord {
            record: FailedRecord {
                stream: row.stream,
                body: row.body,
                attempts_made: row.attempts,
                last_error: row.last_error,
                retry_after: None,
                received_at: from_ms(row.received_at),
            },
            id,
        }
    }
}

#[async_trait]
impl RetryTier for SqliteTier {
    async fn enqueue(&self, record: FailedRecord) -> Result<Disposition, TierError> {
        let now = SystemTime::now();
        let due_at = self.next_due_at(record.attempts_made, record.retry_after, now);
        let reservation = match (due_at, self.settings.when_full) {
            // Dead-lettered at once: takes no room among the waiting records.
            (None, _) => None,
            (Some(_), WhenFull::Block) => Some(self.capacity.reserve().await),
            (Some(_), WhenFull::DropNewest) => {
                Some(self.capacity.try_reserve().ok_or(TierError::Full {
                    max_records: self.capacity.max,
                })?)
            }
        };
        let stream = record.stream;
        let new = NewRecord {
            stream,
            body: record.body,
            headers: Arc::clone(&self.headers),
            attempts: record.attempts_made,
            error: record.last_error,
            received_at: to_ms(record.received_at),
            attempted_at: to_ms(now),
            due_at,
        };
        self.call(|reply| Command::Insert { record: new, reply })
            .await?;
        match reservation {
            Some(reservation) => {
                reservation.keep();
                Ok(Disposition::Rescheduled)
            }
            None => {
                self.count_dead(stream);
                Ok(Disposition::DeadLettered)
            }
        }
    }

    async fn next_due(&self) -> DueRecord {
        let mut poll = false;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            self.publish_dead_count();
            let row = self.shared.ready().pop_front();
            if let Some(row) = row {
                return self.hand_out(row);
            }
            let now = to_ms(SystemTime::now());
            let due_at = self.shared.next_due_at.load(Ordering::Acquire);
            if due_at <= now || poll {
                poll = false;
                if !self.shared.lease_pending.swap(true, Ordering::AcqRel) {
                    let lease = Command::Lease {
                        now,
                        limit: LEASE_BATCH,
                    };
                    if let Err(error) = self.commands.try_send(lease) {
                        self.shared.lease_pending.store(false, Ordering::Release);
                        if matches!(error, mpsc::error::TrySendError::Closed(_)) {
                            tracing::error!(path = %self.path.display(), "the retry store thread stopped; no more retries");
                            std::future::pending::<()>().await;
                        }
                        // Full: the thread signals after its current group; ask again then.
                    }
                }
                changed.await;
                continue;
            }
            let wait = Duration::from_millis(u64::try_from(due_at - now).unwrap_or(u64::MAX))
                .min(POLL_INTERVAL);
            tokio::select! {
                () = tokio::time::sleep(wait) => poll = true,
                () = &mut changed => {}
            }
        }
    }

    async fn complete(
        &self,
        id: u64,
        result: Result<(), String>,
        retry_after: Option<Duration>,
    ) -> Result<Option<Disposition>, TierError> {
        let Some((attempts, stream)) = self.leased().remove(&id) else {
            return Ok(None);
        };
        let row_id = i64::try_from(id).unwrap_or(i64::MAX);
        match result {
            Ok(()) => {
                self.call(|reply| Command::Delete { id: row_id, reply })
                    .await?;
                self.capacity.release();
                Ok(None)
            }
            Err(error) => {
                let now = SystemTime::now();
                let attempts = attempts.saturating_add(1);
                let due_at = self.next_due_at(attempts, retry_after, now);
                self.call(|reply| Command::Fail {
                    id: row_id,
                    attempts,
                    error,
                    at: to_ms(now),
                    due_at,
                    reply,
                })
                .await?;
                match due_at {
                    Some(_) => Ok(Some(Disposition::Rescheduled)),
                    None => {
                        self.capacity.release();
                        self.count_dead(stream);
                        Ok(Some(Disposition::DeadLettered))
                    }
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.capacity.held()
    }
}

/// The headers as a JSON object, for the record's audit trail. Sensitive values (the custom
/// headers, which may carry credentials) are stored as `<redacted>`: a retry is sent with the
/// sink's current headers, so the file never needs the secrets.
fn headers_json(headers: &HeaderMap) -> Arc<str> {
    let object: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = if value.is_sensitive() {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), serde_json::Value::String(value))
        })
        .collect();
    Arc::from(serde_json::Value::Object(object).to_string())
}

/// `max_records` as a counter the async side checks before writing.
struct Capacity {
    max: usize,
    held: AtomicUsize,
    freed: Notify,
}

impl Capacity {
    fn new(max: usize, held: usize) -> Capacity {
        Capacity {
            max: max.max(1),
            held: AtomicUsize::new(held),
            freed: Notify::new(),
        }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Room for one record, if there is any now.
    fn try_reserve(&self) -> Option<Reservation<'_>> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Reservation {
                capacity: self,
                armed: true,
            })
    }

    /// Room for one record, waiting until some is freed.
    async fn reserve(&self) -> Reservation<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(reservation) = self.try_reserve() {
                return reservation;
            }
            freed.await;
        }
    }

    /// Counts a record that arrived without a reservation (replayed by another process); it may
    /// take the count above `max`, which then only delays new records.
    fn adopt(&self) {
        self.held.fetch_add(1, Ordering::AcqRel);
    }

    /// A record left the waiting records.
    fn release(&self) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
        self.freed.notify_waiters();
    }
}

/// Room taken for a record being written; given back unless the write committed.
struct Reservation<'a> {
    capacity: &'a Capacity,
    armed: bool,
}

impl Reservation<'_> {
    /// The record is stored: it keeps its room until it leaves.
    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.capacity.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outer::Schedule;

    fn settings(gaps_ms: &[u64], max_records: usize, when_full: WhenFull) -> OuterConfig {
        OuterConfig {
            schedule: Schedule::explicit(
                gaps_ms
                    .iter()
                    .map(|&ms| Duration::from_millis(ms))
                    .collect(),
            ),
            max_records,
            when_full,
        }
    }

    fn record(body: &str) -> FailedRecord {
        FailedRecord {
            stream: Stream::Users,
            body: bytes::Bytes::from(body.to_owned()),
            attempts_made: 1,
            last_error: "http://x/ answered 500".into(),
            retry_after: None,
            received_at: SystemTime::now(),
        }
    }

    #[tokio::test]
    async fn a_committed_record_survives_reopening_and_leaves_when_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let tier = SqliteTier::open(
            dir.path(),
            settings(&[0], 10, WhenFull::Block),
            &HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(
            tier.enqueue(record("a")).await.unwrap(),
            Disposition::Rescheduled
        );
        let leased = tier.next_due().await;
        assert_eq!(leased.record.body, "a");
        // The process "crashes" mid-attempt: the lease is never completed.
        drop(tier);

        assert_eq!(DeadLetters::open(dir.path()).unwrap().waiting().unwrap(), 1);
        let tier = SqliteTier::open(
            dir.path(),
            settings(&[0], 10, WhenFull::Block),
            &HeaderMap::new(),
        )
        .unwrap();
        assert_eq!(tier.len(), 1);
        let due = tier.next_due().await;
        assert_eq!(due.record.body, "a");
        assert_eq!(due.record.stream, Stream::Users);
        assert_eq!(due.record.attempts_made, 1);
        assert_eq!(due.record.last_error, "http://x/ answered 500");
        assert_eq!(tier.complete(due.id, Ok(()), None).await.unwrap(), None);
        assert!(tier.is_empty());
        drop(tier);

        let tier = SqliteTier::open(
            dir.path(),
            settings(&[0], 10, WhenFull::Block),
            &HeaderMap::new(),
        )
        .unwrap();
        assert!(tier.is_empty());
    }

    #[tokio::test]
    async fn a_record_failing_every_attempt_becomes_a_dead_letter_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let tier = SqliteTier::open(
            dir.path(),
            settings(&[1, 1, 1], 10, WhenFull::Block),
            &HeaderMap::new(),
        )
        .unwrap();
        tier.enqueue(record("a")).await.unwrap();
        let mut dispositions = Vec::new();
        for n in 2..=4 {
            let due = tier.next_due().await;
            assert_eq!(due.record.attempts_made, n - 1);
            let outcome = tier
                .complete(due.id, Err(format!("answered 50{n}")), None)
                .await;
            dispositions.push(outcome.unwrap());
        }
        assert_eq!(
            dispositions,
            [
                Some(Disposition::Rescheduled),
                Some(Disposition::Rescheduled),
                Some(Disposition::DeadLettered)
            ]
        );
        assert!(tier.is_empty());

        let mut dead = DeadLetters::open(dir.path()).unwrap();
        let rows = dead.list().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 4);
        assert_eq!(rows[0].stream, "users");
        assert_eq!(rows[0].last_error, "answered 504");
        let errors: Vec<_> = rows[0]
            .history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["error"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            errors,
            [
                "http://x/ answered 500",
                "answered 502",
                "answered 503",
                "answered 504"
            ]
        );
        assert!(rows[0].first_attempt_at <= rows[0].last_attempt_at);

        assert_eq!(dead.replay().unwrap(), 1);
        assert!(dead.list().unwrap().is_empty());
        // The running tier notices the replayed record on its next look at the file.
        let due = tokio::time::timeout(Duration::from_secs(5), tier.next_due())
            .await
            .unwrap();
        assert_eq!(due.record.body, "a");
        assert_eq!(due.record.attempts_made, 0);
        assert_eq!(tier.len(), 1, "the replayed record is counted once leased");
        tier.complete(due.id, Ok(()), None).await.unwrap();
        assert!(tier.is_empty());
    }

    #[tokio::test]
    async fn no_attempts_after_the_first_dead_letters_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let tier = SqliteTier::open(
            dir.path(),
            settings(&[], 1, WhenFull::DropNewest),
            &HeaderMap::new(),
        )
        .unwrap();
        for body in ["a", "b"] {
            assert_eq!(
                tier.enqueue(record(body)).await.unwrap(),
                Disposition::DeadLettered
            );
        }
        assert!(tier.is_empty());
        assert_eq!(
            DeadLetters::open(dir.path()).unwrap().list().unwrap().len(),
            2
        );
        assert_eq!(DeadLetters::open(dir.path()).unwrap().purge().unwrap(), 2);
    }

    #[tokio::test]
    async fn a_full_store_drops_or_blocks_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let dropping = SqliteTier::open(
            &dir.path().join("drop"),
            settings(&[60_000], 1, WhenFull::DropNewest),
            &HeaderMap::new(),
        )
        .unwrap();
        dropping.enqueue(record("a")).await.unwrap();
        assert!(matches!(
            dropping.enqueue(record("b")).await,
            Err(TierError::Full { max_records: 1 })
        ));

        let blocking = Arc::new(
            SqliteTier::open(
                &dir.path().join("block"),
                settings(&[0], 1, WhenFull::Block),
                &HeaderMap::new(),
            )
            .unwrap(),
        );
        blocking.enqueue(record("a")).await.unwrap();
        let second = tokio::spawn({
            let blocking = Arc::clone(&blocking);
            async move { blocking.enqueue(record("b")).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished(), "waits for room");
        let due = blocking.next_due().await;
        assert_eq!(due.record.body, "a");
        blocking.complete(due.id, Ok(()), None).await.unwrap();
        assert_eq!(second.await.unwrap().unwrap(), Disposition::Rescheduled);
        assert_eq!(blocking.len(), 1);
    }

    #[tokio::test]
    async fn records_stored_together_share_a_group_and_all_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let tier = Arc::new(
            SqliteTier::open(
                dir.path(),
                settings(&[0], 10_000, WhenFull::Block),
                &HeaderMap::new(),
            )
            .unwrap(),
        );
        let writers: Vec<_> = (0..500)
            .map(|i| {
                let tier = Arc::clone(&tier);
                tokio::spawn(async move { tier.enqueue(record(&i.to_string())).await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let due = tier.next_due().await;
            seen.insert(String::from_utf8(due.record.body.to_vec()).unwrap());
            tier.complete(due.id, Ok(()), None).await.unwrap();
        }
        assert_eq!(seen.len(), 500);
        assert!(tier.is_empty());
    }
}
