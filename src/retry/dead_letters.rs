//! The dead-letter table as operators see it: list, replay and purge (`webhook-sink dead-letters`).
//!
//! These open the store file directly, so they work whether or not the sink is running (SQLite's
//! WAL lets the two processes share the file). A running sink picks replayed records up within a
//! second.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::Connection;

use super::store::db::{self, to_ms, DeadLetterRow, StoreError, Table};

/// A sink's store opened for dead-letter operations.
pub struct DeadLetters {
    conn: Connection,
    path: PathBuf,
}

impl DeadLetters {
    /// Opens (or creates) the store in `dir` (`data_dir/<sink id>/`).
    pub fn open(dir: &Path) -> Result<DeadLetters, StoreError> {
        let (conn, path) = db::open(dir)?;
        Ok(DeadLetters { conn, path })
    }

    /// Every dead letter, oldest first.
    pub fn list(&self) -> Result<Vec<DeadLetterRow>, StoreError> {
        db::dead_letters(&self.conn).map_err(self.fail("listing dead letters"))
    }

    /// Moves every dead letter back to the waiting records, due now with a fresh schedule.
    /// Returns how many were re-queued.
    pub fn replay(&mut self) -> Result<usize, StoreError> {
        let now = to_ms(SystemTime::now());
        db::replay_dead_letters(&mut self.conn, now)
            .map_err(StoreError::sqlite(&self.path, "replaying dead letters"))
    }

    /// Deletes every dead letter. Returns how many were deleted.
    pub fn purge(&self) -> Result<usize, StoreError> {
        db::purge_dead_letters(&self.conn).map_err(self.fail("purging dead letters"))
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
