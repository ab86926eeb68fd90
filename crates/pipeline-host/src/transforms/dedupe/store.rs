//! The durable record of the keys `dedupe` has seen delivered: `data_dir/<id>/dedupe.sqlite`,
//! one row per key with the time it was recorded, pruned by age and by count.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::params;

use crate::transforms::state_db::{StateDb, StateError};

/// The file name under the transform's folder.
pub const FILE_NAME: &str = "dedupe.sqlite";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_at ON seen (at);";

/// Seen keys in SQLite, shared by the transform and the tasks that record deliveries.
#[derive(Clone, Debug)]
pub struct SeenStore {
    db: StateDb,
    /// Rows in the table, kept in step by every write (the `max_entries` bound needs it).
    rows: Arc<AtomicU64>,
    max_entries: u64,
}

impl SeenStore {
    /// Opens (or creates) the store in `dir`, holding at most `max_entries` keys.
    pub async fn open(dir: &Path, max_entries: u64) -> Result<SeenStore, StateError> {
        let db = StateDb::open(dir, FILE_NAME, SCHEMA)?;
        let (rows, _) = db
            .call(|tx| tx.query_row("SELECT count(*) FROM seen", [], |r| r.get::<_, i64>(0)))
            .await?;
        Ok(SeenStore {
            db,
            rows: Arc::new(AtomicU64::new(rows.max(0) as u64)),
            max_entries,
        })
    }

    /// Keys stored now.
    pub fn stored(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Those of `keys` recorded at `since` (epoch ms) or later.
    pub async fn seen_since(
        &self,
        keys: Vec<String>,
        since: i64,
    ) -> Result<(HashSet<String>, Duration), StateError> {
        self.db
            .call(move |tx| {
                let mut select = tx.prepare_cached("SELECT at FROM seen WHERE key = ?1")?;
                let mut seen = HashSet::new();
                for key in keys {
                    let mut rows = select.query([&key])?;
                    if let Some(row) = rows.next()? {
                        if row.get::<_, i64>(0)? >= since {
                            seen.insert(key);
                        }
                    }
                }
                Ok(seen)
            })
            .await
    }

    /// Records `keys` as delivered at `now` (epoch ms), drops keys recorded before `expired`,
    /// and the oldest keys beyond `max_entries`.
    pub async fn record(
        &self,
        keys: Vec<String>,
        now: i64,
        expired: i64,
    ) -> Result<Duration, StateError> {
        let max = self.max_entries;
        let rows = Arc::clone(&self.rows);
        let ((), took) = self
            .db
            .call(move |tx| {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO seen (key, at) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET at = excluded.at",
                )?;
                let mut count = rows.load(Ordering::Relaxed);
                let mut exists = tx.prepare_cached("SELECT 1 FROM seen WHERE key = ?1")?;
                for key in &keys {
                    if !exists.exists([key])? {
                        count += 1;
                    }
                    insert.execute(params![key, now])?;
                }
                count -= tx.execute("DELETE FROM seen WHERE at < ?1", [expired])? as u64;
                if count > max {
                    count -= tx.execute(
                        "DELETE FROM seen WHERE key IN (SELECT key FROM seen ORDER BY at LIMIT ?1)",
                        [count - max],
                    )? as u64;
                }
                rows.store(count, Ordering::Relaxed);
                Ok(())
            })
            .await?;
        Ok(took)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|k| k.to_string()).collect()
    }

    #[tokio::test]
    async fn keys_expire_by_age_and_the_oldest_go_beyond_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = SeenStore::open(dir.path(), 3).await.unwrap();
        store.record(keys(&["a", "b"]), 1_000, 0).await.unwrap();
        store.record(keys(&["c"]), 2_000, 0).await.unwrap();
        let (seen, _) = store
            .seen_since(keys(&["a", "c", "x"]), 1_500)
            .await
            .unwrap();
        assert_eq!(seen, HashSet::from(["c".to_string()]));

        // Two more keys: the bound of 3 pushes out the oldest.
        store.record(keys(&["d", "e"]), 3_000, 0).await.unwrap();
        assert_eq!(store.stored(), 3);
        let (seen, _) = store
            .seen_since(keys(&["a", "b", "c", "d", "e"]), 0)
            .await
            .unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen.contains("e") && seen.contains("d"));

        // Age: everything recorded before 3000 goes; a reopened store counts what is left.
        store.record(keys(&["f"]), 4_000, 3_000).await.unwrap();
        drop(store);
        let store = SeenStore::open(dir.path(), 3).await.unwrap();
        assert_eq!(store.stored(), 3);
        let (seen, _) = store
            .seen_since(keys(&["c", "d", "e", "f"]), 0)
            .await
            .unwrap();
        assert_eq!(seen, HashSet::from(["d".into(), "e".into(), "f".into()]));
    }
}
