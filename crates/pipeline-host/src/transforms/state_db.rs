//! The SQLite file behind a stateful transform, and the one thread that uses it.
//!
//! rusqlite is synchronous, so a dedicated thread owns the connection. Work arrives as closures
//! over a bounded channel; the thread takes the first, then every closure already waiting (up
//! to [`MAX_GROUP`]), runs them in one transaction, commits, and only then answers them: a
//! write resolves after the COMMIT that made it durable, and many writers share one commit (the
//! retry store does the same). WAL with `synchronous = NORMAL` survives a killed process; a
//! power cut may lose the last commits, as for the retry store.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction};
use tokio::sync::{mpsc, oneshot};

/// At most this many closures share one transaction.
const MAX_GROUP: usize = 256;

/// A state file could not be opened or used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state file {path}: {message}")]
pub struct StateError {
    /// The file.
    pub path: String,
    /// What failed.
    pub message: String,
}

/// Called with the commit's outcome once the group a job ran in has committed (or not).
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One unit of work: runs inside the group's transaction and says how to answer its caller,
/// or is answered with an error without running.
trait Job: Send {
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Answer;
    fn fail(self: Box<Self>, message: String);
}

/// A caller's closure and where its result goes.
struct Call<W, R> {
    work: W,
    reply: oneshot::Sender<Result<R, String>>,
}

impl<W, R> Job for Call<W, R>
where
    W: FnOnce(&Transaction<'_>) -> rusqlite::Result<R> + Send,
    R: Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Answer {
        let result = (self.work)(tx).map_err(|e| e.to_string());
        let reply = self.reply;
        Box::new(move |committed: Result<(), String>| {
            let _ = reply.send(committed.and(result));
        })
    }

    fn fail(self: Box<Self>, message: String) {
        let _ = self.reply.send(Err(message));
    }
}

/// A handle to a state file's thread. Dropping every handle ends the thread once its queue
/// is done.
#[derive(Clone, Debug)]
pub struct StateDb {
    jobs: mpsc::Sender<Box<dyn Job>>,
    path: PathBuf,
}

impl StateDb {
    /// Opens (creating if needed) `dir/file_name`, runs `schema` once, and starts the thread.
    pub fn open(dir: &Path, file_name: &str, schema: &str) -> Result<StateDb, StateError> {
        let path = dir.join(file_name);
        let error = |message: String| StateError {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| error(format!("cannot create the folder: {e}")))?;
        let conn = Connection::open(&path).map_err(|e| error(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.pragma_update(None, "cache_size", -16 * 1024))
            .and_then(|()| conn.execute_batch(schema))
            .map_err(|e| error(e.to_string()))?;
        let (jobs, receiver) = mpsc::channel(1024);
        std::thread::Builder::new()
            .name(format!("state-{file_name}"))
            .spawn(move || run(conn, receiver))
            .map_err(|e| error(format!("cannot start its thread: {e}")))?;
        Ok(StateDb { jobs, path })
    }

    /// Runs `work` in the thread's next transaction and returns its result once that
    /// transaction has committed, with how long the caller waited.
    pub async fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<(R, Duration), StateError> {
        let started = Instant::now();
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Call { work, reply });
        let gone = || self.error("its thread has stopped".into());
        self.jobs.send(job).await.map_err(|_| gone())?;
        let result = answer.await.map_err(|_| gone())?;
        result
            .map(|value| (value, started.elapsed()))
            .map_err(|message| self.error(message))
    }

    fn error(&self, message: String) -> StateError {
        StateError {
            path: self.path.display().to_string(),
            message,
        }
    }
}

/// The thread: group, run, commit, answer, until every handle is dropped.
fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Box<dyn Job>>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = jobs.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(error) => {
                let message = format!("cannot begin a transaction: {error}");
                for job in group.drain(..) {
                    job.fail(message.clone());
                }
                continue;
            }
        };
        let answers: Vec<Answer> = group.drain(..).map(|job| job.run(&tx)).collect();
        let committed = tx.commit().map_err(|e| format!("commit failed: {e}"));
        for answer in answers {
            answer(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_is_in_the_file_once_its_call_returns() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(
            dir.path(),
            "t.sqlite",
            "CREATE TABLE IF NOT EXISTS t (v INTEGER)",
        )
        .unwrap();
        let writes: Vec<_> = (0..50)
            .map(|v| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.call(move |tx| tx.execute("INSERT INTO t VALUES (?1)", [v]))
                        .await
                })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        // Another connection, as after a restart, sees every row.
        let other = Connection::open(dir.path().join("t.sqlite")).unwrap();
        let count: i64 = other
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 50);
    }

    #[tokio::test]
    async fn a_failing_statement_fails_only_its_own_call() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(
            dir.path(),
            "t.sqlite",
            "CREATE TABLE IF NOT EXISTS t (v INTEGER)",
        )
        .unwrap();
        let bad = db.call(|tx| tx.execute("INSERT INTO missing VALUES (1)", []));
        let good = db.call(|tx| tx.execute("INSERT INTO t VALUES (1)", []));
        let (bad, good) = tokio::join!(bad, good);
        assert!(bad.unwrap_err().message.contains("missing"));
        assert_eq!(good.unwrap().0, 1);
    }
}
