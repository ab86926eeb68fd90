//! The dead-letter table as operators see it (`webhook-sink dead-letters`): list, show, replay
//! and purge, each narrowed by a [`Filter`] that becomes the statement's `WHERE` clause.
//!
//! These open the store file directly, so they work whether or not the sink is running (SQLite's
//! WAL lets the two processes share the file, and the opener's busy timeout waits out the sink's
//! commits). A running sink picks replayed records up within a second. The statements live here
//! rather than in the store's `db` module because only operators run them: the sink itself only
//! ever inserts into this table.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::{Map, Value};

use super::store::db::{self, stream_from, to_ms, StoreError, Table};
use crate::stream::Stream;

/// Which dead letters an operation applies to. Every condition set must hold (AND); a filter
/// with none ([`Filter::ALL`]) matches every dead letter.
///
/// Times compare against when the record became a dead letter (`dead_at`, the end of its last
/// attempt), so "since an hour ago" means "given up on in the last hour".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these ids (any of them); empty = any id.
    pub ids: Vec<i64>,
    /// Only this stream.
    pub stream: Option<Stream>,
    /// Only those dead-lettered strictly before this time (Unix ms).
    pub dead_before: Option<i64>,
    /// Only those dead-lettered at or after this time (Unix ms).
    pub dead_since: Option<i64>,
}

impl Filter {
    /// Every dead letter.
    pub const ALL: Filter = Filter {
        ids: Vec::new(),
        stream: None,
        dead_before: None,
        dead_since: None,
    };

    /// Whether the filter sets no condition (matches every dead letter).
    pub fn is_all(&self) -> bool {
        self == &Filter::ALL
    }

    /// The `WHERE ...` clause (empty when unfiltered) and its parameters, in order of their `?`.
    /// Values are always bound, never spliced into the SQL.
    fn where_clause(&self) -> (String, Vec<SqlValue>) {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if !self.ids.is_empty() {
            let marks = vec!["?"; self.ids.len()].join(", ");
            conditions.push(format!("id IN ({marks})"));
            values.extend(self.ids.iter().map(|&id| SqlValue::Integer(id)));
        }
        if let Some(stream) = self.stream {
            conditions.push("stream = ?".to_owned());
            values.push(SqlValue::Text(stream.as_str().to_owned()));
        }
        if let Some(before) = self.dead_before {
            conditions.push("dead_at < ?".to_owned());
            values.push(SqlValue::Integer(before));
        }
        if let Some(since) = self.dead_since {
            conditions.push("dead_at >= ?".to_owned());
            values.push(SqlValue::Integer(since));
        }
        if conditions.is_empty() {
            (String::new(), values)
        } else {
            (format!("WHERE {}", conditions.join(" AND ")), values)
        }
    }
}

/// One failed attempt in a dead letter's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Failure {
    /// When the attempt failed (Unix ms).
    pub at: i64,
    /// Its error (it names the status when the webhook answered).
    pub error: String,
}

/// What a payload says about the record it carries, read from its top-level JSON fields: the
/// default payloads (Amplitude's export format for events, the user record for users) have them
/// there; a template's own shape may not, and a payload that is not a JSON object has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadKeys {
    /// `$insert_id` (the export format's name), else `insert_id` (the ingestion APIs' name).
    pub insert_id: Option<String>,
    /// `event_type` (absent from user records).
    pub event_type: Option<String>,
    /// `user_id` (absent when a record has only a `device_id`).
    pub user_id: Option<String>,
}

impl PayloadKeys {
    /// The keys found in `body`; none when it is not a JSON object.
    pub fn from_body(body: &[u8]) -> PayloadKeys {
        let Ok(fields) = serde_json::from_slice::<Map<String, Value>>(body) else {
            return PayloadKeys::default();
        };
        let text = |name: &str| fields.get(name).and_then(scalar_text);
        PayloadKeys {
            insert_id: text("$insert_id").or_else(|| text("insert_id")),
            event_type: text("event_type"),
            user_id: text("user_id"),
        }
    }
}

/// A string as is, a number or boolean as written; `null`, arrays and objects as absent.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A dead letter without its request: what `dead-letters list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id in the dead-letter table.
    pub id: i64,
    /// Its stream.
    pub stream: Stream,
    /// The identifying fields of its payload.
    pub keys: PayloadKeys,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: String,
    /// When the record entered the pipeline (Unix ms).
    pub received_at: i64,
    /// When the first attempt failed (Unix ms).
    pub first_attempt_at: i64,
    /// When the last attempt failed (Unix ms).
    pub last_attempt_at: i64,
    /// When the record was given up on (Unix ms); the time filters compare against it.
    pub dead_at: i64,
    /// Every failed attempt, oldest first.
    pub history: Vec<Failure>,
}

/// The request a dead letter was sent as: what `dead-letters show` prints besides the letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    /// The headers as the store recorded them, in order. The store writes the sink's custom
    /// header values as `<redacted>` (a retry is sent with the sink's current headers).
    pub headers: Vec<(String, String)>,
    /// The payload, byte for byte.
    pub body: Vec<u8>,
}

/// The columns [`read_letter`] reads, in its order.
const COLUMNS: &str = "id, stream, body, attempts, last_error, received_at, first_attempt_at, \
                       last_attempt_at, dead_at, history";

/// A dead letter and its payload from a row selecting [`COLUMNS`].
fn read_letter(row: &Row<'_>) -> rusqlite::Result<(DeadLetter, Vec<u8>)> {
    let body: Vec<u8> = row.get(2)?;
    let history: String = row.get(9)?;
    let letter = DeadLetter {
        id: row.get(0)?,
        stream: stream_from(&row.get::<_, String>(1)?),
        keys: PayloadKeys::from_body(&body),
        attempts: row.get(3)?,
        last_error: row.get(4)?,
        received_at: row.get(5)?,
        first_attempt_at: row.get(6)?,
        last_attempt_at: row.get(7)?,
        dead_at: row.get(8)?,
        // Written by this code only; an unreadable history shows as none rather than failing
        // the whole listing.
        history: serde_json::from_str(&history).unwrap_or_default(),
    };
    Ok((letter, body))
}

/// The stored headers JSON object as name/value pairs (non-string values as JSON text).
fn parse_headers(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<Map<String, Value>>(json) {
        Ok(object) => object
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A sink's store opened for dead-letter operations.
pub struct DeadLetters {
    conn: Connection,
    path: PathBuf,
}

impl DeadLetters {
    /// Opens (or creates) the store in `dir` (`data_dir/<sink id>/`), migrating an older file;
    /// fails on a file from a newer build or one SQLite cannot open.
    pub fn open(dir: &Path) -> Result<DeadLetters, StoreError> {
        let (conn, path) = db::open(dir)?;
        Ok(DeadLetters { conn, path })
    }

    /// The dead letters `filter` matches, oldest first (by id).
    pub fn list(&self, filter: &Filter) -> Result<Vec<DeadLetter>, StoreError> {
        let (clause, values) = filter.where_clause();
        let sql = format!("SELECT {COLUMNS} FROM dead_letters {clause} ORDER BY id");
        let read = || -> rusqlite::Result<Vec<DeadLetter>> {
            self.conn
                .prepare(&sql)?
                .query_map(params_from_iter(values), |row| {
                    read_letter(row).map(|(letter, _)| letter)
                })?
                .collect()
        };
        read().map_err(self.fail("listing dead letters"))
    }

    /// The dead letter `id` with its request, or `None` when there is none.
    pub fn get(&self, id: i64) -> Result<Option<(DeadLetter, StoredRequest)>, StoreError> {
        let sql = format!("SELECT {COLUMNS}, headers FROM dead_letters WHERE id = ?1");
        self.conn
            .query_row(&sql, [id], |row| {
                let (letter, body) = read_letter(row)?;
                let headers = parse_headers(&row.get::<_, String>(10)?);
                Ok((letter, StoredRequest { headers, body }))
            })
            .optional()
            .map_err(self.fail("reading a dead letter"))
    }

    /// Moves the dead letters `filter` matches back to the waiting records, due now with their
    /// attempt count reset, so each gets a full new schedule starting at once. Returns how many
    /// moved.
    pub fn replay(&mut self, filter: &Filter) -> Result<usize, StoreError> {
        let now = to_ms(SystemTime::now());
        let fail = StoreError::sqlite(&self.path, "replaying dead letters");
        replay_matching(&mut self.conn, filter, now).map_err(fail)
    }

    /// Deletes the dead letters `filter` matches. Returns how many were deleted.
    pub fn purge(&self, filter: &Filter) -> Result<usize, StoreError> {
        let (clause, values) = filter.where_clause();
        self.conn
            .execute(
                &format!("DELETE FROM dead_letters {clause}"),
                params_from_iter(values),
            )
            .map_err(self.fail("purging dead letters"))
    }

    /// Records waiting for a later attempt (not dead letters).
    pub fn waiting(&self) -> Result<u64, StoreError> {
        db::count_by_stream(&self.conn, Table::Records)
            .map(|counts| counts.iter().sum())
            .map_err(self.fail("counting waiting records"))
    }

    fn fail(&self, context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, context)
    }
}

/// Copies the matching dead letters into `records` (marked `replayed`, so a running sink counts
/// them once it leases them) and deletes them, in one transaction. It takes the write lock
/// first, so a record the sink dead-letters meanwhile is neither copied nor deleted.
fn replay_matching(conn: &mut Connection, filter: &Filter, now: i64) -> rusqlite::Result<usize> {
    let (clause, values) = filter.where_clause();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // `now` is the first `?`: it comes before the WHERE clause's.
    let copy = format!(
        "INSERT INTO records (stream, body, headers, attempts, due_at, replayed, last_error,
         received_at, first_attempt_at, last_attempt_at, history)
         SELECT stream, body, headers, 0, ?, 1, last_error, received_at, first_attempt_at,
         last_attempt_at, history FROM dead_letters {clause} ORDER BY id"
    );
    let copied = tx.execute(
        &copy,
        params_from_iter(std::iter::once(SqlValue::Integer(now)).chain(values.iter().cloned())),
    )?;
    tx.execute(
        &format!("DELETE FROM dead_letters {clause}"),
        params_from_iter(values),
    )?;
    tx.commit()?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use db::NewRecord;

    /// Writes a dead letter of `stream` with `body`, dead-lettered at `dead_at` (Unix ms),
    /// through the store's own insert; returns its id.
    fn bury(dir: &Path, stream: Stream, body: &str, dead_at: i64) -> i64 {
        let (mut conn, _) = db::open(dir).unwrap();
        let tx = conn.transaction().unwrap();
        let id = db::insert(
            &tx,
            &NewRecord {
                stream,
                body: Bytes::from(body.to_owned()),
                headers: r#"{"content-type":"application/json","x-team":"<redacted>"}"#.into(),
                attempts: 1,
                error: "http://127.0.0.1:9/ answered 500".into(),
                received_at: dead_at - 10,
                attempted_at: dead_at,
                due_at: None,
            },
        )
        .unwrap();
        tx.commit().unwrap();
        id
    }

    fn ids(letters: &[DeadLetter]) -> Vec<i64> {
        letters.iter().map(|letter| letter.id).collect()
    }

    /// Three dead letters: events at 1000 and 3000, users at 2000.
    fn three(dir: &Path) -> [i64; 3] {
        [
            bury(
                dir,
                Stream::Events,
                r#"{"$insert_id":"i-1","event_type":"Purchase","user_id":"u-1"}"#,
                1000,
            ),
            bury(dir, Stream::Users, r#"{"user_id":"u-1"}"#, 2000),
            bury(dir, Stream::Events, "not json", 3000),
        ]
    }

    #[test]
    fn list_reads_the_payload_keys_and_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let [event, user, other] = three(dir.path());
        let store = DeadLetters::open(dir.path()).unwrap();
        let letters = store.list(&Filter::ALL).unwrap();
        assert_eq!(ids(&letters), [event, user, other]);
        assert_eq!(
            letters[0].keys,
            PayloadKeys {
                insert_id: Some("i-1".into()),
                event_type: Some("Purchase".into()),
                user_id: Some("u-1".into()),
            }
        );
        assert_eq!(letters[1].stream, Stream::Users);
        assert_eq!(letters[1].keys.insert_id, None);
        assert_eq!(letters[1].keys.user_id.as_deref(), Some("u-1"));
        assert_eq!(letters[2].keys, PayloadKeys::default());
        assert_eq!(letters[0].dead_at, 1000);
        assert_eq!(
            letters[0].history,
            [Failure {
                at: 1000,
                error: "http://127.0.0.1:9/ answered 500".into()
            }]
        );
    }

    #[test]
    fn the_ingestion_spelling_of_insert_id_and_numeric_ids_are_read_too() {
        let keys = PayloadKeys::from_body(br#"{"insert_id":"x-9","user_id":42,"event_type":null}"#);
        assert_eq!(keys.insert_id.as_deref(), Some("x-9"));
        assert_eq!(keys.user_id.as_deref(), Some("42"));
        assert_eq!(keys.event_type, None);
    }

    #[test]
    fn each_filter_narrows_and_they_combine_with_and() {
        let dir = tempfile::tempdir().unwrap();
        let [first, user, last] = three(dir.path());
        let store = DeadLetters::open(dir.path()).unwrap();
        let list = |filter: Filter| ids(&store.list(&filter).unwrap());
        let events = Some(Stream::Events);
        assert_eq!(
            list(Filter {
                ids: vec![last, first],
                ..Filter::ALL
            }),
            [first, last]
        );
        assert_eq!(
            list(Filter {
                stream: events,
                ..Filter::ALL
            }),
            [first, last]
        );
        assert_eq!(
            list(Filter {
                dead_before: Some(2000),
                ..Filter::ALL
            }),
            [first]
        );
        assert_eq!(
            list(Filter {
                dead_since: Some(2000),
                ..Filter::ALL
            }),
            [user, last]
        );
        let combined = Filter {
            ids: vec![first, user],
            stream: events,
            dead_since: Some(500),
            dead_before: Some(5000),
        };
        assert_eq!(list(combined), [first]);
        assert!(list(Filter {
            ids: vec![999],
            ..Filter::ALL
        })
        .is_empty());
    }

    #[test]
    fn replay_moves_only_the_matching_dead_letters_to_the_waiting_records() {
        let dir = tempfile::tempdir().unwrap();
        let [first, _, last] = three(dir.path());
        let mut store = DeadLetters::open(dir.path()).unwrap();
        let users = Filter {
            stream: Some(Stream::Users),
            ..Filter::ALL
        };
        assert_eq!(store.replay(&users).unwrap(), 1);
        assert_eq!(store.waiting().unwrap(), 1);
        assert_eq!(ids(&store.list(&Filter::ALL).unwrap()), [first, last]);
        assert_eq!(store.replay(&users).unwrap(), 0);
    }

    #[test]
    fn purge_deletes_only_the_matching_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let [first, user, last] = three(dir.path());
        let store = DeadLetters::open(dir.path()).unwrap();
        let by_id = Filter {
            ids: vec![user],
            ..Filter::ALL
        };
        assert_eq!(store.purge(&by_id).unwrap(), 1);
        assert_eq!(ids(&store.list(&Filter::ALL).unwrap()), [first, last]);
        assert_eq!(store.purge(&Filter::ALL).unwrap(), 2);
        assert!(store.list(&Filter::ALL).unwrap().is_empty());
    }

    #[test]
    fn get_returns_the_stored_headers_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let [first, ..] = three(dir.path());
        let store = DeadLetters::open(dir.path()).unwrap();
        let (letter, request) = store.get(first).unwrap().unwrap();
        assert_eq!(letter.id, first);
        assert_eq!(
            request.headers,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-team".to_owned(), "<redacted>".to_owned()),
            ]
        );
        assert!(request.body.starts_with(br#"{"$insert_id":"i-1""#));
        assert_eq!(store.get(first + 100).unwrap(), None);
    }
}
