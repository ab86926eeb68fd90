//! The retry store's SQLite file: schema, pragmas, and every statement the store runs.
//!
//! Two tables: `records` holds records waiting for (or leased to) a later attempt, `dead_letters`
//! holds records whose attempts are spent. Times are Unix milliseconds so they survive restarts.
//! The file carries its schema version in `PRAGMA user_version` ([`SCHEMA_VERSION`]); opening a
//! file written by an older build migrates it, one written by a newer build is refused.
//! The file runs in WAL mode with `synchronous = NORMAL`: a COMMIT is written to the WAL before it
//! returns, so a process crash (even SIGKILL) loses nothing committed; only a power loss or kernel
//! crash may lose the last transactions since the WAL was last synced (at checkpoints).
//! The operators' statements on the dead letters (filtered list, replay, purge) are in
//! `retry::dead_letters`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::leases::Leases;
use crate::stream::Stream;

/// The file name of a sink's store inside its directory (`data_dir/<sink id>/`).
pub const FILE_NAME: &str = "retry-store.sqlite3";

/// Why the store file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The sink's store directory could not be created.
    #[error("cannot create the retry store directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the retry store thread for {path}: {source}")]
    Thread {
        /// The store file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("retry store {path}: {context}: {source}")]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file's schema version is not one this build can read or migrate (a newer build wrote
    /// it); opening it anyway could lose the records it holds.
    #[error(
        "retry store {path} has schema version {found}, but this build knows versions up to \
         {supported}; it was written by a newer webhook-sink, run that one (or point data_dir \
         elsewhere)"
    )]
    UnknownSchemaVersion {
        /// The store file.
        path: PathBuf,
        /// The file's `user_version`.
        found: i64,
        /// The newest version this build knows ([`SCHEMA_VERSION`]).
        supported: i64,
    },
}

impl StoreError {
    /// Turns SQLite's error while doing `context` on the file at `path` into a store error.
    pub fn sqlite(
        path: &Path,
        context: &'static str,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = path.to_owned();
        move |source| StoreError::Sqlite {
            path,
            context,
            source,
        }
    }
}

/// The schema version this build writes, kept in `PRAGMA user_version`. Version 1 (files from
/// before versioning, `user_version` 0) lacked `records.replayed`; version 2 added it; version 3
/// indexes records by stream and due time (each stream's circuit opens on its own) and keeps
/// leases in memory: leasing a record writes nothing, which halves the pages a draining backlog
/// rewrites.
pub const SCHEMA_VERSION: i64 = 3;

/// Turns a version-1 file into version 2.
const MIGRATE_1_TO_2: &str = "ALTER TABLE records ADD COLUMN replayed INTEGER NOT NULL DEFAULT 0;";

/// Turns a version-2 file into version 3 (the new index comes with [`SCHEMA`]).
const MIGRATE_2_TO_3: &str = "DROP INDEX IF EXISTS records_due; UPDATE records SET leased = 0;";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    id               INTEGER PRIMARY KEY,
    stream           TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    headers          TEXT    NOT NULL,  -- JSON object: the headers sent with the body
    attempts         INTEGER NOT NULL,  -- attempts made so far (0: absorbed without one)
    due_at           INTEGER NOT NULL,  -- Unix ms of the next attempt
    leased           INTEGER NOT NULL DEFAULT 0,  -- unused since version 3: leases live in memory
    replayed         INTEGER NOT NULL DEFAULT 0,  -- re-queued by `dead-letters replay`, not yet counted
    last_error       TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,  -- 0 until the first attempt
    last_attempt_at  INTEGER NOT NULL,  -- 0 until the first attempt
    history          TEXT    NOT NULL   -- JSON array of {at, error}, one per failed attempt
);
CREATE INDEX IF NOT EXISTS records_by_due ON records (stream, due_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id               INTEGER PRIMARY KEY,
    stream           TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    headers          TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    last_error       TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    history          TEXT    NOT NULL,
    dead_at          INTEGER NOT NULL
);
";

/// Opens (creating if needed) the store file in `dir` and applies the schema and pragmas.
pub fn open(dir: &Path) -> Result<(Connection, PathBuf), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(FILE_NAME);
    let fail = |context| StoreError::sqlite(&path, context);
    let mut conn = Connection::open(&path).map_err(fail("opening"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(fail("setting the busy timeout"))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail("switching to WAL"))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(fail("setting synchronous"))?;
    // 32 MiB of pages (SQLite's default is 2 MiB): a draining backlog reads the pages its
    // leases and deletions touch from here instead of a system call each. A fixed size, so
    // memory stays flat however large the backlog grows.
    conn.pragma_update(None, "cache_size", -32 * 1024)
        .map_err(fail("setting the page cache size"))?;
    // Checkpoints every 64 MiB of WAL instead of 4 MiB: the pages a backlog's inserts, leases
    // and deletions keep rewriting are copied into the file once per checkpoint, not once per
    // write.
    conn.pragma_update(None, "wal_autocheckpoint", 16 * 1024)
        .map_err(fail("setting the checkpoint interval"))?;
    migrate(&mut conn, &path)?;
    Ok((conn, path))
}

/// Brings the file's schema to [`SCHEMA_VERSION`]: creates it in a new file, migrates an older
/// one, refuses a newer one. One write transaction, so a second process opening the same file
/// at the same time (`dead-letters` while the sink runs) waits and then finds it migrated.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |context| StoreError::sqlite(path, context);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail("locking the file to check its schema"))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(fail("reading the schema version"))?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(StoreError::UnknownSchemaVersion {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let version = match found {
        0 => unversioned_schema(&tx).map_err(fail("reading the schema"))?,
        known => known,
    };
    if version == 1 {
        tx.execute_batch(MIGRATE_1_TO_2)
            .map_err(fail("migrating the schema from version 1 to 2"))?;
    }
    if version <= 2 {
        tx.execute_batch(MIGRATE_2_TO_3)
            .map_err(fail("migrating the schema from version 2 to 3"))?;
    }
    tx.execute_batch(SCHEMA)
        .map_err(fail("creating the schema"))?;
    if found != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail("recording the schema version"))?;
    }
    tx.commit().map_err(fail("committing the schema"))
}

/// The schema version of a file without one (`user_version` 0): a new file is created at the
/// current version; a `records` table without `replayed` is version 1; one with it was written
/// by a version-2 build before versions were recorded.
fn unversioned_schema(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    let columns: i64 = tx.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('records')",
        [],
        |row| row.get(0),
    )?;
    let replayed: i64 = tx.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('records') WHERE name = 'replayed'",
        [],
        |row| row.get(0),
    )?;
    Ok(match (columns, replayed) {
        (0, _) => SCHEMA_VERSION,
        (_, 0) => 1,
        _ => 2,
    })
}

/// Milliseconds since the Unix epoch.
pub fn to_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The stream named in a row (unknown names, which this code never writes, read as events).
pub fn stream_from(name: &str) -> Stream {
    Stream::from_name(name).unwrap_or(Stream::Events)
}

/// A record entering the store after its first attempt failed.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Its stream.
    pub stream: Stream,
    /// The payload.
    pub body: Bytes,
    /// The headers as a JSON object.
    pub headers: std::sync::Arc<str>,
    /// Attempts made (1 for a fresh failure).
    pub attempts: u32,
    /// The first attempt's error.
    pub error: String,
    /// When the record entered the pipeline.
    pub received_at: i64,
    /// When the failed attempt ended.
    pub attempted_at: i64,
    /// When the next attempt is due, or `None` to dead-letter it at once.
    pub due_at: Option<i64>,
}

/// Inserts a record into `records` (or `dead_letters` when nothing follows) and returns its id.
pub fn insert(tx: &Transaction<'_>, record: &NewRecord) -> rusqlite::Result<i64> {
    let history = serde_json::json!([{ "at": record.attempted_at, "error": record.error }]);
    let history = history.to_string();
    match record.due_at {
        Some(due_at) => tx
            .prepare_cached(
                "INSERT INTO records (stream, body, headers, attempts, due_at, last_error,
                 received_at, first_attempt_at, last_attempt_at, history)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            )?
            .execute(params![
                record.stream.as_str(),
                &record.body[..],
                &*record.headers,
                record.attempts,
                due_at,
                record.error,
                record.received_at,
                record.attempted_at,
                history,
            ])?,
        None => tx
            .prepare_cached(
                "INSERT INTO dead_letters (stream, body, headers, attempts, last_error,
                 received_at, first_attempt_at, last_attempt_at, history, dead_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?7)",
            )?
            .execute(params![
                record.stream.as_str(),
                &record.body[..],
                &*record.headers,
                record.attempts,
                record.error,
                record.received_at,
                record.attempted_at,
                history,
            ])?,
    };
    Ok(tx.last_insert_rowid())
}

/// A record entering the store without an attempt (its stream's circuit was open, or it
/// spilled): due at once, no attempt made, no error yet.
#[derive(Debug, Clone)]
pub struct AbsorbedRow {
    /// Its stream.
    pub stream: Stream,
    /// The payload.
    pub body: Bytes,
    /// When the record entered the pipeline.
    pub received_at: i64,
}

/// Inserts records that were not attempted, due at `now`, sharing the `headers` JSON.
pub fn insert_absorbed(
    tx: &Transaction<'_>,
    records: &[AbsorbedRow],
    headers: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO records (stream, body, headers, attempts, due_at, last_error, received_at,
         first_attempt_at, last_attempt_at, history)
         VALUES (?1, ?2, ?3, 0, ?4, '', ?5, 0, 0, '[]')",
    )?;
    for record in records {
        insert.execute(params![
            record.stream.as_str(),
            &record.body[..],
            headers,
            now,
            record.received_at,
        ])?;
    }
    Ok(())
}

/// Removes a delivered record.
pub fn delete(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM records WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Records a failed later attempt: reschedules the record at `due_at`, or moves it to the dead
/// letters when `due_at` is `None`.
pub fn fail(
    tx: &Transaction<'_>,
    id: i64,
    attempts: u32,
    error: &str,
    at: i64,
    due_at: Option<i64>,
) -> rusqlite::Result<()> {
    let history = "json_insert(history, '$[#]', json_object('at', ?3, 'error', ?2))";
    // An absorbed record's first attempt sets its first attempt time.
    let first = "CASE first_attempt_at WHEN 0 THEN ?3 ELSE first_attempt_at END";
    match due_at {
        Some(due_at) => {
            let sql = format!(
                "UPDATE records SET attempts = ?1, last_error = ?2, last_attempt_at = ?3,
                 first_attempt_at = {first}, history = {history}, due_at = ?5 WHERE id = ?4"
            );
            tx.prepare_cached(&sql)?
                .execute(params![attempts, error, at, id, due_at])?;
        }
        None => {
            let sql = format!(
                "INSERT INTO dead_letters (stream, body, headers, attempts, last_error,
                 received_at, first_attempt_at, last_attempt_at, history, dead_at)
                 SELECT stream, body, headers, ?1, ?2, received_at, {first}, ?3,
                 {history}, ?3 FROM records WHERE id = ?4"
            );
            tx.prepare_cached(&sql)?
                .execute(params![attempts, error, at, id])?;
            delete(tx, id)?;
        }
    }
    Ok(())
}

/// A record leased for its next attempt.
#[derive(Debug, Clone)]
pub struct LeasedRow {
    /// Its id.
    pub id: i64,
    /// Its stream.
    pub stream: Stream,
    /// The payload.
    pub body: Bytes,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: String,
    /// When it entered the pipeline (Unix ms).
    pub received_at: i64,
    /// Re-queued from the dead letters by another process since this one counted its records.
    pub replayed: bool,
    /// Whether it was ever attempted.
    pub tried: bool,
}

/// Up to `limit` records of `stream` due at `now`, earliest first, that are not leased, and
/// leases them in `leases`. Nothing is written but the rare replayed mark.
pub fn lease_due(
    tx: &Transaction<'_>,
    stream: Stream,
    now: i64,
    limit: usize,
    leases: &mut Leases,
) -> rusqlite::Result<Vec<LeasedRow>> {
    let cursor = leases.cursor(stream);
    let found: Vec<(i64, i64)> = match cursor {
        // Reads on after the last record leased: nothing in between to skip.
        Some((due_at, id)) => tx
            .prepare_cached(
                "SELECT id, due_at FROM records WHERE stream = ?1 AND due_at >= ?2
                 AND (due_at > ?2 OR id > ?3) AND due_at <= ?4 ORDER BY due_at, id LIMIT ?5",
            )?
            .query_map(
                params![
                    stream.as_str(),
                    due_at,
                    id,
                    now,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?,
        // From the start, stepping over the records leased.
        None => {
            let scan = i64::try_from(limit + leases.count(stream)).unwrap_or(i64::MAX);
            tx.prepare_cached(
                "SELECT id, due_at FROM records WHERE stream = ?1 AND due_at <= ?2
                 ORDER BY due_at, id LIMIT ?3",
            )?
            .query_map(params![stream.as_str(), now, scan], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        }
    };
    let mut read = tx.prepare_cached(
        "SELECT id, stream, body, attempts, last_error, received_at, replayed,
         first_attempt_at != 0 FROM records WHERE id = ?1",
    )?;
    let mut rows = Vec::with_capacity(limit.min(found.len()));
    let mut furthest = None;
    for (id, due_at) in found {
        if rows.len() == limit {
            break;
        }
        if leases.contains(id) {
            continue;
        }
        rows.push(read.query_row([id], |row| {
            Ok(LeasedRow {
                id: row.get(0)?,
                stream: stream_from(&row.get::<_, String>(1)?),
                body: Bytes::from(row.get::<_, Vec<u8>>(2)?),
                attempts: row.get(3)?,
                last_error: row.get(4)?,
                received_at: row.get(5)?,
                replayed: row.get(6)?,
                tried: row.get(7)?,
            })
        })?);
        leases.add(stream, id, (due_at, id));
        furthest = Some((due_at, id));
    }
    match cursor {
        Some(_) => {
            if let Some(position) = furthest {
                leases.advance(stream, position);
            }
        }
        None => leases.settle_cursor(stream, furthest),
    }
    let mut counted = tx.prepare_cached("UPDATE records SET replayed = 0 WHERE id = ?1")?;
    for row in rows.iter().filter(|row| row.replayed) {
        counted.execute([row.id])?;
    }
    Ok(rows)
}

/// Makes the waiting records of `stream` that are due after `now` and whose last attempt failed
/// at or after `since` due at `since`, ahead of what was stored since then (only records whose
/// attempt failed are due in the future, so the due index finds them). Returns how many.
pub fn hasten(
    tx: &Transaction<'_>,
    stream: Stream,
    since: i64,
    now: i64,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE records SET due_at = ?2 WHERE stream = ?1 AND leased = 0 AND due_at > ?3
         AND last_attempt_at >= ?2",
    )?
    .execute(params![stream.as_str(), since, now])
}

/// When the earliest record of `stream` that is not leased is due.
pub fn earliest_due(
    conn: &Connection,
    stream: Stream,
    leases: &Leases,
) -> rusqlite::Result<Option<i64>> {
    if let Some((due_at, id)) = leases.cursor(stream) {
        return conn
            .prepare_cached(
                "SELECT due_at FROM records WHERE stream = ?1 AND due_at >= ?2
                 AND (due_at > ?2 OR id > ?3) ORDER BY due_at, id LIMIT 1",
            )?
            .query_row(params![stream.as_str(), due_at, id], |row| row.get(0))
            .optional();
    }
    let scan = i64::try_from(leases.count(stream) + 1).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT id, due_at FROM records WHERE stream = ?1 ORDER BY due_at, id LIMIT ?2",
    )?;
    let mut rows = statement.query(params![stream.as_str(), scan])?;
    while let Some(row) = rows.next()? {
        if !leases.contains(row.get::<_, i64>(0)?) {
            return row.get(1).map(Some);
        }
    }
    Ok(None)
}

/// When the oldest record of `stream` waiting in the store entered the pipeline (Unix ms): the
/// older of the record next due and those due later (records whose attempt failed; usually
/// few, and found by the due index). A dead letter replayed behind newer records is missed.
pub fn oldest_received(
    conn: &Connection,
    stream: Stream,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT received_at FROM records WHERE stream = ?1 ORDER BY due_at, id LIMIT 1",
        )?
        .query_row([stream.as_str()], |row| row.get(0))
        .optional()?;
    let later: Option<i64> = conn
        .prepare_cached("SELECT MIN(received_at) FROM records WHERE stream = ?1 AND due_at > ?2")?
        .query_row(params![stream.as_str(), now], |row| row.get(0))?;
    Ok(next.into_iter().chain(later).min())
}

/// Voids the leases a file of version 2 or older recorded (those attempts never completed, so
/// the records are due again) and counts replayed records as ordinary ones from now on.
pub fn release_leases(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("UPDATE records SET replayed = 0 WHERE replayed = 1", [])?;
    conn.execute("UPDATE records SET leased = 0 WHERE leased = 1", [])
}

/// Rows per stream in `table` (`records` or `dead_letters`).
pub fn count_by_stream(conn: &Connection, table: Table) -> rusqlite::Result<[u64; 2]> {
    let sql = format!(
        "SELECT stream, COUNT(*) FROM {} GROUP BY stream",
        table.name()
    );
    let mut counts = [0u64; 2];
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let stream = stream_from(&row.get::<_, String>(0)?);
        let n: i64 = row.get(1)?;
        counts[stream.index()] += u64::try_from(n).unwrap_or(0);
    }
    Ok(counts)
}

/// The store's two tables.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    /// Records waiting for a later attempt.
    Records,
    /// Records whose attempts are spent.
    DeadLetters,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Records => "records",
            Table::DeadLetters => "dead_letters",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::dead_letters::{DeadLetters, Filter};
    use crate::retry::store::tests::next_due;
    use crate::retry::store::SqliteTier;
    use crate::retry::{Disposition, FailedRecord, RetryTier, Schedule, StoreSettings, WhenFull};

    /// The schema of the first release of the store (commit a17b70b): `records` without
    /// `replayed`, no `user_version`.
    const SCHEMA_V1: &str = "
CREATE TABLE records (
    id               INTEGER PRIMARY KEY,
    stream           TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    headers          TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    leased           INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    history          TEXT    NOT NULL
);
CREATE INDEX records_due ON records (due_at) WHERE leased = 0;
CREATE TABLE dead_letters (
    id               INTEGER PRIMARY KEY,
    stream           TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    headers          TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    last_error       TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    history          TEXT    NOT NULL,
    dead_at          INTEGER NOT NULL
);
";

    /// A version-1 store file in `dir` holding one waiting record (leased by the process that
    /// wrote it) and one dead letter, both with body `old`.
    fn write_v1_store(dir: &Path) {
        let conn = Connection::open(dir.join(FILE_NAME)).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        let history = r#"[{"at":1000,"error":"http://x/ answered 503"}]"#;
        conn.execute(
            "INSERT INTO records (stream, body, headers, attempts, due_at, leased, last_error,
             received_at, first_attempt_at, last_attempt_at, history)
             VALUES ('events', ?1, '{}', 1, 0, 1, 'http://x/ answered 503', 900, 1000, 1000, ?2)",
            params![&b"old"[..], history],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO dead_letters (stream, body, headers, attempts, last_error, received_at,
             first_attempt_at, last_attempt_at, history, dead_at)
             VALUES ('users', ?1, '{}', 3, 'http://x/ answered 500', 900, 1000, 3000, ?2, 3000)",
            params![&b"dead"[..], history],
        )
        .unwrap();
    }

    fn user_version(dir: &Path) -> i64 {
        Connection::open(dir.join(FILE_NAME))
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    fn has_replayed_column(dir: &Path) -> bool {
        Connection::open(dir.join(FILE_NAME))
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('records') WHERE name = 'replayed'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    }

    fn settings() -> StoreSettings {
        StoreSettings {
            schedule: Schedule::explicit(vec![Duration::ZERO]),
            max_records: 10,
            when_full: WhenFull::Block,
            spill_after: None,
        }
    }

    fn open_tier(dir: &Path) -> Result<SqliteTier, StoreError> {
        SqliteTier::open(dir, settings(), &http::HeaderMap::new(), None)
    }

    #[test]
    fn a_new_file_gets_the_current_schema_and_version() {
        let dir = tempfile::tempdir().unwrap();
        DeadLetters::open(dir.path()).unwrap();
        assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
        assert!(has_replayed_column(dir.path()));
    }

    #[tokio::test]
    async fn a_version_1_file_is_migrated_and_its_records_still_work() {
        let dir = tempfile::tempdir().unwrap();
        write_v1_store(dir.path());
        assert!(!has_replayed_column(dir.path()));

        let tier = open_tier(dir.path()).unwrap();
        assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
        assert!(has_replayed_column(dir.path()));
        // The old process's record is due again and completes.
        assert_eq!(tier.len(), 1);
        let old = next_due(&tier).await;
        assert_eq!(old.record.body, "old");
        assert_eq!(old.record.attempts_made, 1);
        assert_eq!(old.record.last_error, "http://x/ answered 503");
        assert_eq!(tier.complete(old.id, Ok(()), None).await.unwrap(), None);
        // A new record goes in and out.
        let new = FailedRecord {
            stream: Stream::Events,
            body: Bytes::from_static(b"new"),
            attempts_made: 1,
            last_error: "http://x/ answered 500".into(),
            retry_after: None,
            received_at: SystemTime::now(),
        };
        assert_eq!(tier.enqueue(new).await.unwrap(), Disposition::Rescheduled);
        let new = next_due(&tier).await;
        assert_eq!(new.record.body, "new");
        assert_eq!(tier.complete(new.id, Ok(()), None).await.unwrap(), None);
        assert!(tier.is_empty());
        drop(tier);

        // The old dead letter replays into the migrated table (which writes `replayed`).
        let mut dead = DeadLetters::open(dir.path()).unwrap();
        assert_eq!(dead.list(&Filter::ALL).unwrap()[0].attempts, 3);
        assert_eq!(dead.replay(&Filter::ALL).unwrap(), 1);
        assert_eq!(dead.waiting().unwrap(), 1);
        drop(dead);
        let tier = open_tier(dir.path()).unwrap();
        assert_eq!(next_due(&tier).await.record.body, "dead");
    }

    #[test]
    fn an_unversioned_file_that_has_replayed_is_only_marked_current() {
        let dir = tempfile::tempdir().unwrap();
        Connection::open(dir.path().join(FILE_NAME))
            .unwrap()
            .execute_batch(SCHEMA)
            .unwrap();
        assert_eq!(user_version(dir.path()), 0);
        let dead = DeadLetters::open(dir.path()).unwrap();
        assert_eq!(dead.waiting().unwrap(), 0);
        assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);

        for error in [
            open_tier(dir.path()).err().unwrap(),
            DeadLetters::open(dir.path()).err().unwrap(),
        ] {
            match &error {
                StoreError::UnknownSchemaVersion {
                    path,
                    found,
                    supported,
                } => {
                    assert_eq!(path, &file);
                    assert_eq!(*found, SCHEMA_VERSION + 1);
                    assert_eq!(*supported, SCHEMA_VERSION);
                }
                other => panic!("unexpected error: {other}"),
            }
            let message = error.to_string();
            assert!(message.contains(&file.display().to_string()), "{message}");
            assert!(
                message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
                "{message}"
            );
            assert!(
                message.contains(&format!("versions up to {SCHEMA_VERSION}")),
                "{message}"
            );
        }
        assert_eq!(user_version(dir.path()), SCHEMA_VERSION + 1);
    }
}
