//! The store's writer thread: owns the SQLite connection and runs commands in group commits.
//!
//! rusqlite is synchronous, so one dedicated thread does every database operation. Commands
//! arrive over a bounded channel; the thread takes the first, then every command already waiting
//! (up to [`MAX_GROUP`]), runs them all in one transaction, commits, and only then answers them.
//! A write therefore resolves after the COMMIT that made it durable, and a dead endpoint at full
//! input rate costs one commit per group rather than one per record. Between groups, at most once
//! a second, the thread refreshes the store's gauges (dead letters, the oldest record's age).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use pipeline_core::log_limit::LogLimiter;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::db::{self, AbsorbedRow, LeasedRow, NewRecord, Table};
use super::leases::Leases;
use crate::stream::{Stream, StreamSet};
use crate::telemetry::StoreGauges;

/// At most this many commands share one transaction.
pub const MAX_GROUP: usize = 2048;

/// "No record is waiting" in [`Shared::next_due_at`].
pub const NOTHING_DUE: i64 = i64::MAX;

/// How often the gauges the thread owns are refreshed from the file.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A failed SQLite operation, as the commands of one group see it.
pub type WorkerResult<T> = Result<T, String>;

/// One unit of work for the thread.
pub enum Command {
    /// Store a record whose attempt failed; answers with its id.
    Insert {
        record: NewRecord,
        reply: oneshot::Sender<WorkerResult<i64>>,
    },
    /// Store records that were not attempted, due at `now`.
    Absorb {
        records: Vec<AbsorbedRow>,
        headers: Arc<str>,
        now: i64,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Remove a delivered record. Nobody waits for it: the record is acknowledged already, and
    /// a crash before the commit only sends it once more after the restart.
    Delete { id: i64 },
    /// Record a failed later attempt (reschedule, or dead-letter when `due_at` is `None`).
    Fail {
        id: i64,
        attempts: u32,
        error: String,
        at: i64,
        due_at: Option<i64>,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Make the records of `streams` due at `now` whose attempt failed since `since`.
    Hasten {
        streams: StreamSet,
        since: i64,
        now: i64,
        reply: oneshot::Sender<WorkerResult<i64>>,
    },
    /// Answer once everything sent before is committed.
    Flush {
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Give a leased record back without an attempt.
    Release {
        id: i64,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Lease up to `limit` records of each of `streams` due at `now` into [`Shared::ready`].
    Lease {
        now: i64,
        streams: StreamSet,
        limit: usize,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
}

/// State the thread and the async side share.
pub struct Shared {
    /// Records leased by the thread, per stream, waiting to be handed to the sink. They wait
    /// here rather than in a reply so that a caller that stops waiting loses none of them.
    pub ready: Mutex<[VecDeque<LeasedRow>; 2]>,
    /// When the earliest waiting record of each stream is due (Unix ms), or [`NOTHING_DUE`].
    pub next_due_at: [AtomicI64; 2],
    /// Signalled after every group (a new earliest due time).
    pub changed: Notify,
}

impl Shared {
    /// Nothing leased yet; the earliest due times as found in the file.
    pub fn new(next_due_at: [i64; 2]) -> Shared {
        Shared {
            ready: Mutex::default(),
            next_due_at: next_due_at.map(AtomicI64::new),
            changed: Notify::new(),
        }
    }

    /// Locks the ready rows (a poisoned lock still holds valid rows).
    pub fn ready(&self) -> MutexGuard<'_, [VecDeque<LeasedRow>; 2]> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The earliest due time among `streams`.
    pub fn next_due(&self, streams: StreamSet) -> i64 {
        streams
            .iter()
            .map(|s| self.next_due_at[s.index()].load(Ordering::Acquire))
            .min()
            .unwrap_or(NOTHING_DUE)
    }
}

/// Starts the thread on `conn`; it ends, once the commands sent are done, when every sender of
/// the returned channel is dropped.
pub fn spawn(
    conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    gauges: Option<StoreGauges>,
    capacity: usize,
) -> std::io::Result<(mpsc::Sender<Command>, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::channel(capacity);
    let thread = std::thread::Builder::new()
        .name("retry-store".into())
        .spawn(move || {
            let worker = Worker {
                conn,
                path,
                shared,
                gauges,
                last_upkeep: None,
                leases: Leases::default(),
                logs: LogLimiter::default(),
            };
            worker.run(receiver);
        })?;
    Ok((sender, thread))
}

const TRANSACTION_FAILED: &str = "retry store transaction failed";

struct Worker {
    conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    gauges: Option<StoreGauges>,
    last_upkeep: Option<Instant>,
    /// Records handed to the sink whose attempt has not ended.
    leases: Leases,
    /// A broken disk fails every group commit: one log line per interval says so.
    logs: LogLimiter,
}

impl Worker {
    fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        // Waits for commands with a timeout, so the gauges stay fresh while nothing happens.
        let clock = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(clock) => clock,
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "the retry store thread cannot wait for commands");
                return;
            }
        };
        let mut group = Vec::with_capacity(MAX_GROUP);
        loop {
            let first = clock
                .block_on(async { tokio::time::timeout(UPKEEP_INTERVAL, receiver.recv()).await });
            match first {
                Ok(Some(command)) => group.push(command),
                Ok(None) => return,
                Err(_) => {
                    self.upkeep(false);
                    continue;
                }
            }
            while group.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(command) => group.push(command),
                    Err(_) => break,
                }
            }
            let dead_lettered = group.iter().any(|command| {
                matches!(command, Command::Fail { due_at: None, .. })
                    || matches!(command, Command::Insert { record, .. } if record.due_at.is_none())
            });
            if let Err(error) = self.run_group(&mut group) {
                self.logs.log(&TRANSACTION_FAILED, Instant::now(), |repeated| {
                    if let Some(repeated) = repeated {
                        tracing::error!(repeated = repeated.count, "{repeated}");
                    }
                    tracing::error!(path = %self.path.display(), %error, "{TRANSACTION_FAILED}");
                });
                let message = format!("{}: {error}", self.path.display());
                for command in group.drain(..) {
                    answer(command, Err(message.clone()));
                }
            }
            self.shared.changed.notify_waiters();
            self.upkeep(dead_lettered);
        }
    }

    /// Runs a group in one transaction. On success every command is answered and `group` is
    /// empty; on failure nothing is committed and the caller answers the commands with the error.
    fn run_group(&mut self, group: &mut Vec<Command>) -> rusqlite::Result<()> {
        let mut leased = Vec::new();
        let mut ended = Vec::new();
        let result = self.run_commands(group, &mut leased, &mut ended);
        match &result {
            Ok(()) => {
                for (id, hole) in ended {
                    if let Some(stream) = self.leases.end(id) {
                        if hole {
                            self.leases.reset(stream);
                        }
                    }
                }
            }
            // Rolled back: what this group leased is not leased.
            Err(_) => {
                for row in &leased {
                    self.leases.end(row.id);
                }
                self.leases.reset_all();
            }
        }
        result
    }

    fn run_commands(
        &mut self,
        group: &mut Vec<Command>,
        leased: &mut Vec<LeasedRow>,
        ended: &mut Vec<(i64, bool)>,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let mut answers = Vec::with_capacity(group.len());
        for command in group.iter() {
            let answer = match command {
                Command::Insert { record, .. } => Answer::Id(db::insert(&tx, record)?),
                Command::Absorb {
                    records,
                    headers,
                    now,
                    ..
                } => {
                    db::insert_absorbed(&tx, records, headers, *now)?;
                    Answer::Done
                }
                Command::Delete { id } => {
                    db::delete(&tx, *id)?;
                    ended.push((*id, false));
                    Answer::Done
                }
                Command::Fail {
                    id,
                    attempts,
                    error,
                    at,
                    due_at,
                    ..
                } => {
                    db::fail(&tx, *id, *attempts, error, *at, *due_at)?;
                    ended.push((*id, false));
                    Answer::Done
                }
                // Given back, it waits before the cursor again.
                Command::Release { id, .. } => {
                    ended.push((*id, true));
                    Answer::Done
                }
                Command::Flush { .. } => Answer::Done,
                Command::Hasten {
                    streams,
                    since,
                    now,
                    ..
                } => {
                    let mut hastened = 0;
                    for stream in streams.iter() {
                        hastened += db::hasten(&tx, stream, *since, *now)?;
                        // Moved ahead of the cursor.
                        self.leases.reset(stream);
                    }
                    Answer::Id(i64::try_from(hastened).unwrap_or(i64::MAX))
                }
                Command::Lease {
                    now,
                    streams,
                    limit,
                    ..
                } => {
                    for stream in streams.iter() {
                        leased.extend(db::lease_due(&tx, stream, *now, *limit, &mut self.leases)?);
                    }
                    Answer::Done
                }
            };
            answers.push(answer);
        }
        let earliest = Stream::ALL.map(|stream| db::earliest_due(&tx, stream, &self.leases));
        tx.commit()?;
        for (slot, earliest) in self.shared.next_due_at.iter().zip(earliest) {
            slot.store(earliest?.unwrap_or(NOTHING_DUE), Ordering::Release);
        }
        if !leased.is_empty() {
            let mut ready = self.shared.ready();
            for row in leased.drain(..) {
                ready[row.stream.index()].push_back(row);
            }
        }
        for (command, result) in group.drain(..).zip(answers) {
            answer_with(command, result);
        }
        Ok(())
    }

    /// Refreshes the dead-letter and oldest-age gauges, at most once per [`UPKEEP_INTERVAL`]
    /// unless `now` (a record just became a dead letter).
    fn upkeep(&mut self, now: bool) {
        if !now
            && self
                .last_upkeep
                .is_some_and(|at| at.elapsed() < UPKEEP_INTERVAL)
        {
            return;
        }
        self.last_upkeep = Some(Instant::now());
        // Once a second the next lease reads from the start: a clock step, or a record another
        // process put into the file, may have left one behind a cursor.
        self.leases.reset_all();
        let Some(gauges) = &self.gauges else {
            return;
        };
        if let Ok(counts) = db::count_by_stream(&self.conn, Table::DeadLetters) {
            for (gauge, count) in gauges.dead_letters.iter().zip(counts) {
                gauge.set(count as f64);
            }
        }
        let now_ms = db::to_ms(SystemTime::now());
        for stream in Stream::ALL {
            if let Ok(oldest) = db::oldest_received(&self.conn, stream, now_ms) {
                let age = oldest.map_or(0, |at| now_ms.saturating_sub(at).max(0));
                gauges.oldest_age[stream.index()].set(age as f64 / 1000.0);
            }
        }
    }
}

/// What a command answers on success.
enum Answer {
    Id(i64),
    Done,
}

fn answer_with(command: Command, result: Answer) {
    match (command, result) {
        (Command::Insert { reply, .. } | Command::Hasten { reply, .. }, Answer::Id(id)) => {
            let _ = reply.send(Ok(id));
        }
        (command, _) => answer(command, Ok(())),
    }
}

/// Answers one command with `result` (a caller that stopped waiting is not an error).
fn answer(command: Command, result: WorkerResult<()>) {
    match command {
        Command::Insert { reply, .. } | Command::Hasten { reply, .. } => {
            let _ = reply.send(result.map(|()| 0));
        }
        Command::Delete { .. } => {}
        Command::Absorb { reply, .. }
        | Command::Lease { reply, .. }
        | Command::Fail { reply, .. }
        | Command::Release { reply, .. }
        | Command::Flush { reply } => {
            let _ = reply.send(result);
        }
    }
}
