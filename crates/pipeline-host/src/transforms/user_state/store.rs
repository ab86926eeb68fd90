//! Where resolved user state lives between events and across restarts.
//!
//! [`UserStore`] is the seam (a test or a later shared store can stand in); [`SqliteUserStore`]
//! keeps one row per key in `data_dir/<id>/user_state.sqlite`. A row holds either a state or an
//! alias: a device that was seen with a user id points at that user's row.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::transforms::state_db::{StateDb, StateError};

/// A user's resolved state: properties and group memberships.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    /// The user properties after every operation so far.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Group type -> group value(s), as the last event naming the type set it.
    #[serde(default)]
    pub groups: Map<String, Value>,
}

/// What is stored under one key.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// The key's own state.
    State(UserState),
    /// A device key whose events belong to this user key.
    Alias(String),
}

/// A durable map from key (`u:<user_id>` or `d:<device_id>`) to [`Entry`].
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The entries of those `keys` that exist, and how long the store took.
    async fn load(
        &self,
        keys: Vec<String>,
    ) -> Result<(HashMap<String, Entry>, Duration), StateError>;
    /// Writes `entries` durably before returning how long that took.
    async fn save(&self, entries: Vec<(String, Entry)>) -> Result<Duration, StateError>;
    /// How many keys hold a state of their own.
    async fn count_states(&self) -> Result<u64, StateError>;
}

/// The file name under the transform's folder.
pub const FILE_NAME: &str = "user_state.sqlite";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    key TEXT PRIMARY KEY NOT NULL,
    state TEXT,
    alias TEXT
) WITHOUT ROWID;";

/// [`UserStore`] in SQLite, through the transform's [`StateDb`] thread (group commits).
#[derive(Debug, Clone)]
pub struct SqliteUserStore {
    db: StateDb,
}

impl SqliteUserStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteUserStore, StateError> {
        Ok(SqliteUserStore {
            db: StateDb::open(dir, FILE_NAME, SCHEMA)?,
        })
    }
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn load(
        &self,
        keys: Vec<String>,
    ) -> Result<(HashMap<String, Entry>, Duration), StateError> {
        self.db
            .call(move |tx| {
                let mut select =
                    tx.prepare_cached("SELECT state, alias FROM users WHERE key = ?1")?;
                let mut found = HashMap::with_capacity(keys.len());
                for key in keys {
                    let row: Option<(Option<String>, Option<String>)> = select
                        .query_row([&key], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()?;
                    let entry = match row {
                        Some((_, Some(alias))) => Entry::Alias(alias),
                        Some((Some(state), None)) => Entry::State(decode(&state)?),
                        _ => continue,
                    };
                    found.insert(key, entry);
                }
                Ok(found)
            })
            .await
    }

    async fn save(&self, entries: Vec<(String, Entry)>) -> Result<Duration, StateError> {
        let ((), took) = self
            .db
            .call(move |tx| {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO users (key, state, alias) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET state = excluded.state, alias = excluded.alias",
                )?;
                for (key, entry) in &entries {
                    match entry {
                        Entry::State(state) => {
                            let text = serde_json::to_string(state)
                                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                            upsert.execute(params![key, text, Option::<&str>::None])?
                        }
                        Entry::Alias(user) => {
                            upsert.execute(params![key, Option::<&str>::None, user])?
                        }
                    };
                }
                Ok(())
            })
            .await?;
        Ok(took)
    }

    async fn count_states(&self) -> Result<u64, StateError> {
        let (count, _) = self
            .db
            .call(|tx| {
                tx.query_row(
                    "SELECT count(*) FROM users WHERE alias IS NULL",
                    [],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        Ok(count.max(0) as u64)
    }
}

fn decode(text: &str) -> rusqlite::Result<UserState> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn states_and_aliases_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let state = UserState {
            properties: json!({"email": "a@b.c", "logins": 3})
                .as_object()
                .cloned()
                .unwrap(),
            groups: json!({"org": ["acme"]}).as_object().cloned().unwrap(),
        };
        {
            let store = SqliteUserStore::open(dir.path()).unwrap();
            store
                .save(vec![
                    ("u:1".into(), Entry::State(state.clone())),
                    ("d:a".into(), Entry::Alias("u:1".into())),
                ])
                .await
                .unwrap();
        }
        let store = SqliteUserStore::open(dir.path()).unwrap();
        let (found, _) = store
            .load(vec!["u:1".into(), "d:a".into(), "u:missing".into()])
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["u:1"], Entry::State(state));
        assert_eq!(found["d:a"], Entry::Alias("u:1".into()));
        assert_eq!(store.count_states().await.unwrap(), 1);
    }
}
