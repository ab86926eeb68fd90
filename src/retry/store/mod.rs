//! The durable retry store: records wait in SQLite under `data_dir/<sink id>/`.
//!
//! [`SqliteTier`] implements the sink's [`RetryTier`] seam. A record is written with its payload,
//! stream, headers, attempt count, next due time and error; every write resolves only after its
//! COMMIT (so the sink's "Delivered" means durable). Due records are leased back to the sink,
//! which sends them through the same dispatch stack; a leased record stays in the table until its
//! attempt completes, so a crash mid-attempt resends it on the next start (at-least-once, never
//! zero times). Spent records move to the dead-letter table with their history of failures. All
//! SQLite work runs on one thread ([`worker`]) in group commits; nothing of a waiting record is
//! kept in memory, so a backlog of a million records costs disk, not RAM.

pub(super) mod db;
mod leases;
mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::HeaderMap;
use tokio::sync::{mpsc, oneshot, Notify};

use super::{
    AbsorbedRecord, Disposition, DueRecord, FailedRecord, RetryTier, StoreSettings, TierError,
    WhenFull,
};
use crate::stream::{Stream, StreamSet};
use crate::telemetry::StoreGauges;

use db::{from_ms, to_ms, AbsorbedRow, LeasedRow, NewRecord, Table};
pub use db::{StoreError, FILE_NAME};
use worker::{Command, Shared, NOTHING_DUE};

/// Commands that may wait for the writer thread before senders wait.
const CHANNEL_CAPACITY: usize = 8192;

/// How often a waiting caller looks at the file again (records replayed by another process).
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The durable retry store of one sink.
pub struct SqliteTier {
    commands: mpsc::Sender<Command>,
    /// Joined on drop, so that what was sent (deletions nobody waits for) is committed.
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    settings: StoreSettings,
    capacity: Capacity,
    /// The headers every record is sent with, as a JSON object (stored with each record).
    headers: Arc<str>,
    /// Leased records' attempts made and stream, by id.
    leased: Mutex<HashMap<u64, (u32, Stream)>>,
    gauges: Option<StoreGauges>,
    path: PathBuf,
}

impl SqliteTier {
    /// Opens (or creates) the store in `dir` and starts its writer thread, publishing its counts
    /// on `gauges`. Leases left by a previous process are voided, so records it was attempting
    /// are due again now.
    pub fn open(
        dir: &Path,
        settings: StoreSettings,
        headers: &HeaderMap,
        gauges: Option<StoreGauges>,
    ) -> Result<SqliteTier, StoreError> {
        let (conn, path) = db::open(dir)?;
        let fail = |context| StoreError::sqlite(&path, context);
        let resumed = db::release_leases(&conn).map_err(fail("voiding old leases"))?;
        let held = db::count_by_stream(&conn, Table::Records).map_err(fail("counting records"))?;
        let mut earliest = [NOTHING_DUE; 2];
        for stream in Stream::ALL {
            earliest[stream.index()] = db::earliest_due(&conn, stream, &Default::default())
                .map_err(fail("finding the next due record"))?
                .unwrap_or(NOTHING_DUE);
        }
        let total: u64 = held.iter().sum();
        if total > 0 {
            tracing::info!(records = total, leased_before = resumed, path = %path.display(), "resuming the retry store");
        }
        if let Some(gauges) = &gauges {
            for (gauge, count) in gauges.records.iter().zip(held) {
                gauge.increment(count as f64);
            }
        }
        let shared = Arc::new(Shared::new(earliest));
        let (commands, thread) = worker::spawn(
            conn,
            path.clone(),
            Arc::clone(&shared),
            gauges.clone(),
            CHANNEL_CAPACITY,
        )
        .map_err(|source| StoreError::Thread {
            path: path.clone(),
            source,
        })?;
        Ok(SqliteTier {
            commands,
            thread: Some(thread),
            shared,
            capacity: Capacity::new(
                settings.max_records,
                usize::try_from(total).unwrap_or(usize::MAX),
            ),
            settings,
            headers: headers_json(headers),
            leased: Mutex::default(),
            gauges,
            path,
        })
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

    /// `change` records of `stream` entered (or, negative, left) the store.
    fn count(&self, stream: Stream, change: f64) {
        if let Some(gauges) = &self.gauges {
            gauges.records[stream.index()].increment(change);
        }
    }

    /// Up to `limit` rows of each of `streams` from those the thread leased.
    fn take_ready(&self, streams: StreamSet, limit: usize) -> Vec<DueRecord> {
        let rows: Vec<LeasedRow> = {
            let mut ready = self.shared.ready();
            streams
                .iter()
                .flat_map(|stream| {
                    let queue = &mut ready[stream.index()];
                    let n = queue.len().min(limit);
                    queue.drain(..n).collect::<Vec<_>>()
                })
                .collect()
        };
        rows.into_iter().map(|row| self.hand_out(row)).collect()
    }

    fn hand_out(&self, row: LeasedRow) -> DueRecord {
        let id = u64::try_from(row.id).unwrap_or_default();
        if row.replayed {
            // `dead-letters replay` moved it back while this process ran: count it now.
            self.capacity.adopt();
            self.count(row.stream, 1.0);
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
            tried: row.tried,
            id,
        }
    }
}

#[async_trait]
impl RetryTier for SqliteTier {
    async fn enqueue(&self, record: FailedRecord) -> Result<Disposition, TierError> {
        let now = SystemTime::now();
        let due_at = self.next_due_at(record.attempts_made, record.retry_after, now);
        let reservation = match due_at {
            // Dead-lettered at once: takes no room among the waiting records.
            None => None,
            Some(_) => {
                let reservation = self.capacity.reserve_some(1, self.settings.when_full).await;
                if reservation.records == 0 {
                    return Err(TierError::Full {
                        max_records: self.capacity.max,
                    });
                }
                Some(reservation)
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
                self.count(stream, 1.0);
                Ok(Disposition::Rescheduled)
            }
            None => Ok(Disposition::DeadLettered),
        }
    }

    async fn absorb(&self, records: Vec<AbsorbedRecord>) -> Result<usize, TierError> {
        let mut records = records.into_iter().peekable();
        let mut stored = 0;
        // As much as there is room for at a time: a batch larger than the free room (or than
        // `max_records`) goes in as room frees.
        while records.peek().is_some() {
            let wanted = records.len();
            let reservation = self
                .capacity
                .reserve_some(wanted, self.settings.when_full)
                .await;
            if reservation.records == 0 {
                break;
            }
            let mut per_stream = [0u64; 2];
            let rows: Vec<AbsorbedRow> = records
                .by_ref()
                .take(reservation.records)
                .map(|record| {
                    per_stream[record.stream.index()] += 1;
                    AbsorbedRow {
                        stream: record.stream,
                        body: record.body,
                        received_at: to_ms(record.received_at),
                    }
                })
                .collect();
            let now = to_ms(SystemTime::now());
            let headers = Arc::clone(&self.headers);
            self.call(|reply| Command::Absorb {
                records: rows,
                headers,
                now,
                reply,
            })
            .await?;
            stored += reservation.records;
            reservation.keep();
            for stream in Stream::ALL {
                let n = per_stream[stream.index()];
                if n > 0 {
                    self.count(stream, n as f64);
                }
            }
        }
        Ok(stored)
    }

    async fn lease(&self, streams: StreamSet, limit: usize) -> Result<Vec<DueRecord>, TierError> {
        let ready = self.take_ready(streams, limit);
        if !ready.is_empty() || streams.is_empty() {
            return Ok(ready);
        }
        let now = to_ms(SystemTime::now());
        self.call(|reply| Command::Lease {
            now,
            streams,
            limit,
            reply,
        })
        .await?;
        Ok(self.take_ready(streams, limit))
    }

    async fn wait_due(&self, streams: StreamSet) {
        let changed = self.shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if streams.is_empty() {
            return std::future::pending().await;
        }
        if self
            .shared
            .ready()
            .iter()
            .enumerate()
            .any(|(i, rows)| !rows.is_empty() && streams.contains(Stream::ALL[i]))
        {
            return;
        }
        let due_at = self.shared.next_due(streams);
        let now = to_ms(SystemTime::now());
        if due_at <= now {
            return;
        }
        let wait = Duration::from_millis(u64::try_from(due_at - now).unwrap_or(u64::MAX))
            .min(POLL_INTERVAL);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut changed => {}
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
                self.commands
                    .send(Command::Delete { id: row_id })
                    .await
                    .map_err(|_| {
                        TierError::Store(format!(
                            "{}: the store thread stopped",
                            self.path.display()
                        ))
                    })?;
                self.capacity.release(1);
                self.count(stream, -1.0);
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
                        self.capacity.release(1);
                        self.count(stream, -1.0);
                        Ok(Some(Disposition::DeadLettered))
                    }
                }
            }
        }
    }

    async fn release(&self, id: u64) -> Result<(), TierError> {
        if self.leased().remove(&id).is_none() {
            return Ok(());
        }
        let row_id = i64::try_from(id).unwrap_or(i64::MAX);
        self.call(|reply| Command::Release { id: row_id, reply })
            .await
    }

    async fn outage_ended(&self, streams: StreamSet, began: SystemTime) -> Result<u64, TierError> {
        let since = to_ms(began);
        let now = to_ms(SystemTime::now());
        let hastened = self
            .call(|reply| Command::Hasten {
                streams,
                since,
                now,
                reply,
            })
            .await?;
        Ok(u64::try_from(hastened).unwrap_or(0))
    }

    async fn flush(&self) -> Result<(), TierError> {
        self.call(|reply| Command::Flush { reply }).await
    }

    fn finishing(&self) {
        self.capacity.finishing();
    }

    fn len(&self) -> usize {
        self.capacity.held()
    }
}

impl Drop for SqliteTier {
    /// Lets the writer thread finish the commands sent so far (at most a group commit).
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.commands, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    /// Set once the input ended: room is no longer waited for.
    finishing: AtomicBool,
    freed: Notify,
}

impl Capacity {
    fn new(max: usize, held: usize) -> Capacity {
        Capacity {
            max: max.max(1),
            held: AtomicUsize::new(held),
            finishing: AtomicBool::new(false),
            freed: Notify::new(),
        }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Takes room for up to `wanted` records now; returns how many it took.
    fn try_take(&self, wanted: usize) -> usize {
        let mut taken = 0;
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                taken = if self.finishing.load(Ordering::Acquire) {
                    wanted
                } else {
                    wanted.min(self.max.saturating_sub(held))
                };
                (taken > 0).then_some(held + taken)
            });
        taken
    }

    /// Room for up to `wanted` records: what is free now, waiting for at least one when
    /// blocking (none when dropping the newest and full).
    async fn reserve_some(&self, wanted: usize, when_full: WhenFull) -> Reservation<'_> {
        let mut reservation = Reservation {
            capacity: self,
            records: 0,
        };
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            reservation.records = self.try_take(wanted);
            if reservation.records > 0 || when_full == WhenFull::DropNewest || wanted == 0 {
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

    /// `records` left the waiting records.
    fn release(&self, records: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(records))
            });
        self.freed.notify_waiters();
    }

    fn finishing(&self) {
        self.finishing.store(true, Ordering::Release);
        self.freed.notify_waiters();
    }
}

/// Room taken for records being written; given back unless the write committed.
struct Reservation<'a> {
    capacity: &'a Capacity,
    records: usize,
}

impl Reservation<'_> {
    /// The records are stored: they keep their room until they leave.
    fn keep(mut self) {
        self.records = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.records > 0 {
            self.capacity.release(self.records);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A store in `dir` with `settings`, no headers and no gauges.
    fn open(dir: &Path, settings: StoreSettings) -> SqliteTier {
        SqliteTier::open(dir, settings, &HeaderMap::new(), None).expect("the store opens")
    }

    /// Waits for the next due record of either stream, the way the sink's feeders do.
    pub(in crate::retry) async fn next_due(tier: &SqliteTier) -> DueRecord {
        loop {
            tier.wait_due(StreamSet::ALL).await;
            let due = tier
                .lease(StreamSet::ALL, 1)
                .await
                .expect("the lease works");
            if let Some(due) = due.into_iter().next() {
                return due;
            }
        }
    }
    use crate::retry::dead_letters::{DeadLetters, Filter};
    use crate::retry::Schedule;

    fn settings(gaps_ms: &[u64], max_records: usize, when_full: WhenFull) -> StoreSettings {
        StoreSettings {
            schedule: Schedule::explicit(
                gaps_ms
                    .iter()
                    .map(|&ms| Duration::from_millis(ms))
                    .collect(),
            ),
            max_records,
            when_full,
            spill_after: None,
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
        let tier = open(dir.path(), settings(&[0], 10, WhenFull::Block));
        assert_eq!(
            tier.enqueue(record("a")).await.unwrap(),
            Disposition::Rescheduled
        );
        let leased = next_due(&tier).await;
        assert_eq!(leased.record.body, "a");
        // The process "crashes" mid-attempt: the lease is never completed.
        drop(tier);

        assert_eq!(DeadLetters::open(dir.path()).unwrap().waiting().unwrap(), 1);
        let tier = open(dir.path(), settings(&[0], 10, WhenFull::Block));
        assert_eq!(tier.len(), 1);
        let due = next_due(&tier).await;
        assert_eq!(due.record.body, "a");
        assert_eq!(due.record.stream, Stream::Users);
        assert_eq!(due.record.attempts_made, 1);
        assert_eq!(due.record.last_error, "http://x/ answered 500");
        assert_eq!(tier.complete(due.id, Ok(()), None).await.unwrap(), None);
        assert!(tier.is_empty());
        tier.flush().await.unwrap();
        drop(tier);

        let tier = open(dir.path(), settings(&[0], 10, WhenFull::Block));
        assert!(tier.is_empty());
    }

    #[tokio::test]
    async fn a_record_failing_every_attempt_becomes_a_dead_letter_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), settings(&[1, 1, 1], 10, WhenFull::Block));
        tier.enqueue(record("a")).await.unwrap();
        let mut dispositions = Vec::new();
        for n in 2..=4 {
            let due = next_due(&tier).await;
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
        let rows = dead.list(&Filter::ALL).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attempts, 4);
        assert_eq!(rows[0].stream, Stream::Users);
        assert_eq!(rows[0].last_error, "answered 504");
        let errors: Vec<_> = rows[0].history.iter().map(|h| h.error.as_str()).collect();
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

        assert_eq!(dead.replay(&Filter::ALL).unwrap(), 1);
        assert!(dead.list(&Filter::ALL).unwrap().is_empty());
        // The running tier notices the replayed record on its next look at the file.
        let due = tokio::time::timeout(Duration::from_secs(5), next_due(&tier))
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
        let tier = open(dir.path(), settings(&[], 1, WhenFull::DropNewest));
        for body in ["a", "b"] {
            assert_eq!(
                tier.enqueue(record(body)).await.unwrap(),
                Disposition::DeadLettered
            );
        }
        assert!(tier.is_empty());
        assert_eq!(
            DeadLetters::open(dir.path())
                .unwrap()
                .list(&Filter::ALL)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            DeadLetters::open(dir.path())
                .unwrap()
                .purge(&Filter::ALL)
                .unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn a_full_store_drops_or_blocks_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let dropping = open(
            &dir.path().join("drop"),
            settings(&[60_000], 1, WhenFull::DropNewest),
        );
        dropping.enqueue(record("a")).await.unwrap();
        assert!(matches!(
            dropping.enqueue(record("b")).await,
            Err(TierError::Full { max_records: 1 })
        ));

        let blocking = Arc::new(open(
            &dir.path().join("block"),
            settings(&[0], 1, WhenFull::Block),
        ));
        blocking.enqueue(record("a")).await.unwrap();
        let second = tokio::spawn({
            let blocking = Arc::clone(&blocking);
            async move { blocking.enqueue(record("b")).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished(), "waits for room");
        let due = next_due(&blocking).await;
        assert_eq!(due.record.body, "a");
        blocking.complete(due.id, Ok(()), None).await.unwrap();
        assert_eq!(second.await.unwrap().unwrap(), Disposition::Rescheduled);
        assert_eq!(blocking.len(), 1);
    }

    #[tokio::test]
    async fn records_stored_together_share_a_group_and_all_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let tier = Arc::new(open(dir.path(), settings(&[0], 10_000, WhenFull::Block)));
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
            let due = next_due(&tier).await;
            seen.insert(String::from_utf8(due.record.body.to_vec()).unwrap());
            tier.complete(due.id, Ok(()), None).await.unwrap();
        }
        assert_eq!(seen.len(), 500);
        assert!(tier.is_empty());
    }

    fn absorbed(body: &str) -> AbsorbedRecord {
        AbsorbedRecord {
            stream: Stream::Users,
            body: bytes::Bytes::from(body.to_owned()),
            received_at: SystemTime::now(),
        }
    }

    fn bodies(due: &[DueRecord]) -> Vec<String> {
        due.iter()
            .map(|d| String::from_utf8_lossy(&d.record.body).into_owned())
            .collect()
    }

    #[tokio::test]
    async fn leases_go_in_due_order_skip_what_is_in_flight_and_take_back_what_was_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(dir.path(), settings(&[3_600_000], 10, WhenFull::Block));
        let stored = tier
            .absorb(["a", "b", "c", "d", "e"].map(absorbed).to_vec())
            .await
            .unwrap();
        assert_eq!(stored, 5);
        let users = StreamSet::only(Stream::Users);
        assert!(tier
            .lease(StreamSet::only(Stream::Events), 5)
            .await
            .unwrap()
            .is_empty());
        let first = tier.lease(users, 2).await.unwrap();
        assert_eq!(bodies(&first), ["a", "b"]);
        assert!(!first[0].tried, "absorbed without an attempt");
        let second = tier.lease(users, 2).await.unwrap();
        assert_eq!(
            bodies(&second),
            ["c", "d"],
            "the records in flight are skipped"
        );
        // "a" goes back untried; "b" is delivered; "c" fails and waits an hour.
        tier.release(first[0].id).await.unwrap();
        tier.complete(first[1].id, Ok(()), None).await.unwrap();
        tier.complete(second[0].id, Err("answered 503".into()), None)
            .await
            .unwrap();
        let third = tier.lease(users, 5).await.unwrap();
        assert_eq!(
            bodies(&third),
            ["a", "e"],
            "given back, it is due again first"
        );
        assert!(tier.lease(users, 5).await.unwrap().is_empty());
        assert_eq!(tier.len(), 4);
    }

    #[tokio::test]
    async fn when_an_outage_ends_the_records_that_failed_during_it_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let tier = open(
            dir.path(),
            settings(&[3_600_000, 3_600_000], 10, WhenFull::Block),
        );
        let before = SystemTime::now() - Duration::from_secs(5);
        // Failed before the outage: its gap is kept.
        let mut earlier = record("failed before");
        earlier.received_at = before;
        tier.enqueue(earlier).await.unwrap();
        // Times are kept in milliseconds.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let outage_began = SystemTime::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        tier.enqueue(record("failed during")).await.unwrap();
        tier.absorb(vec![absorbed("stored while open")])
            .await
            .unwrap();
        let users = StreamSet::only(Stream::Users);
        assert_eq!(
            tier.outage_ended(users, outage_began).await.unwrap(),
            1,
            "only the one that failed during the outage"
        );
        let due = tier.lease(users, 5).await.unwrap();
        assert_eq!(bodies(&due), ["failed during", "stored while open"]);
        assert!(due[0].tried && due[0].record.attempts_made == 1);
    }
}
