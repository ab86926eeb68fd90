//! The store's writer thread: owns the SQLite connection and runs commands in group commits.
//!
//! rusqlite is synchronous, so one dedicated thread does every database operation. Commands
//! arrive over a bounded channel; the thread takes the first, then every command already waiting
//! (up to [`MAX_GROUP`]), runs them all in one transaction, commits, and only then answers them.
//! An enqueue therefore resolves after the COMMIT that made it durable, and a dead endpoint at
//! full input rate costs one commit per group rather than one per record.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::db::{self, LeasedRow, NewRecord};

/// At most this many commands share one transaction.
pub const MAX_GROUP: usize = 2048;

/// "No record is waiting" in [`Shared::next_due_at`].
pub const NOTHING_DUE: i64 = i64::MAX;

/// How often the dead letters are recounted from the file.
const DEAD_COUNT_INTERVAL: Duration = Duration::from_secs(2);

/// A failed SQLite operation, as the commands of one group see it.
pub type WorkerResult<T> = Result<T, String>;

/// One unit of work for the thread.
pub enum Command {
    /// Store a record whose first attempt failed; answers with its id.
    Insert {
        record: NewRecord,
        reply: oneshot::Sender<WorkerResult<i64>>,
    },
    /// Remove a delivered record.
    Delete {
        id: i64,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Record a failed later attempt (reschedule, or dead-letter when `due_at` is `None`).
    Fail {
        id: i64,
        attempts: u32,
        error: String,
        at: i64,
        due_at: Option<i64>,
        reply: oneshot::Sender<WorkerResult<()>>,
    },
    /// Lease up to `limit` records due at `now` into [`Shared::ready`].
    Lease { now: i64, limit: usize },
}

/// State the thread and the async side share.
pub struct Shared {
    /// Records leased by the thread, waiting to be handed to the sink.
    pub ready: Mutex<VecDeque<LeasedRow>>,
    /// When the earliest waiting record is due (Unix ms), or [`NOTHING_DUE`].
    pub next_due_at: AtomicI64,
    /// A lease command is queued or running.
    pub lease_pending: AtomicBool,
    /// Signalled after every group (new leases, a new earliest due time).
    pub changed: Notify,
    /// Dead letters per stream as last counted in the file (`dead-letters purge` from another
    /// process changes them behind the sink's back); `dead_counted` says a new count is there.
    pub dead_letters: [AtomicU64; 2],
    /// Set when `dead_letters` holds a count the async side has not published yet.
    pub dead_counted: AtomicBool,
}

impl Shared {
    /// Locks the ready queue (a poisoned lock still holds valid rows).
    pub fn ready(&self) -> MutexGuard<'_, VecDeque<LeasedRow>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the thread on `conn`; it ends when every sender of the returned channel is dropped.
pub fn spawn(
    conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    capacity: usize,
) -> std::io::Result<mpsc::Sender<Command>> {
    let (sender, receiver) = mpsc::channel(capacity);
    std::thread::Builder::new()
        .name("retry-store".into())
        .spawn(move || run(conn, path, shared, receiver))?;
    Ok(sender)
}

fn run(
    mut conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    mut receiver: mpsc::Receiver<Command>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut last_count: Option<Instant> = None;
    while let Some(first) = receiver.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(command) => group.push(command),
                Err(_) => break,
            }
        }
        let had_lease = group.iter().any(|c| matches!(c, Command::Lease { .. }));
        run_group(&mut conn, &shared, &mut group).unwrap_or_else(|error| {
            tracing::error!(path = %path.display(), %error, "retry store transaction failed");
            let message = format!("{}: {error}", path.display());
            for command in group.drain(..) {
                answer(command, Err(message.clone()));
            }
        });
        if had_lease {
            // Leases come at least once per poll interval: recount the dead letters then, at
            // most once per DEAD_COUNT_INTERVAL (a count scans the table).
            if last_count.is_none_or(|at| at.elapsed() >= DEAD_COUNT_INTERVAL) {
                last_count = Some(Instant::now());
                if let Ok(counts) = db::count_by_stream(&conn, db::Table::DeadLetters) {
                    for (slot, count) in shared.dead_letters.iter().zip(counts) {
                        slot.store(count, Ordering::Release);
                    }
                    shared.dead_counted.store(true, Ordering::Release);
                }
            }
            shared.lease_pending.store(false, Ordering::Release);
        }
        shared.changed.notify_waiters();
    }
}

/// Runs a group in one transaction. On success every command is answered and `group` is empty;
/// on failure nothing is committed and the caller answers the commands with the error.
fn run_group(
    conn: &mut Connection,
    shared: &Shared,
    group: &mut Vec<Command>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut ids = Vec::with_capacity(group.len());
    let mut leased = Vec::new();
    for command in group.iter() {
        let id = match command {
            Command::Insert { record, .. } => db::insert(&tx, record)?,
            Command::Delete { id, .. } => {
                db::delete(&tx, *id)?;
                *id
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
                *id
            }
            Command::Lease { now, limit } => {
                leased.extend(db::lease_due(&tx, *now, *limit)?);
                0
            }
        };
        ids.push(id);
    }
    let earliest = db::earliest_due(&tx)?;
    tx.commit()?;
    shared
        .next_due_at
        .store(earliest.unwrap_or(NOTHING_DUE), Ordering::Release);
    if !leased.is_empty() {
        shared.ready().extend(leased);
    }
    for (command, id) in group.drain(..).zip(ids) {
        answer(command, Ok(id));
    }
    Ok(())
}

/// Answers one command (a caller that stopped waiting is not an error).
fn answer(command: Command, result: WorkerResult<i64>) {
    match command {
        Command::Insert { reply, .. } => {
            let _ = reply.send(result);
        }
        Command::Delete { reply, .. } | Command::Fail { reply, .. } => {
            let _ = reply.send(result.map(|_| ()));
        }
        Command::Lease { .. } => {}
    }
}
