//! The `user_state` transform: every event leaves carrying its user's resolved properties, as
//! Amplitude exports them, although the SDKs send only the changes.
//!
//! An app sets `email` once in an identify and tracks events without it; Amplitude's export
//! (and so the documentation's templates) shows `user_properties.email` on every later event.
//! This transform keeps each user's state, keyed by `user_id` (else `device_id`), applies the
//! operations an event carries ([`ops`]), and replaces the event's `user_properties` and
//! `groups` with the state after them: an identify too, so the user stream shows state, not
//! operations.
//!
//! A device seen first without a user id has its own state. When an event names both the user
//! and that device, the device's state joins the user's: adopted whole if the user has none,
//! otherwise added where the user has no value (the user's values win). From then on the device
//! is an alias of the user, so its device-only events read and change the user's state; a device
//! later seen with another user id becomes that user's alias (the latest user wins). Amplitude
//! itself merges user histories more thoroughly; this rule is the documented approximation.
//!
//! Batches are handled one at a time, in order, by the transform's one task, so the events of a
//! user keep their order. A batch's state changes are committed (one group commit) before the
//! batch goes downstream, so nothing acknowledged depends on state that was not durable. A crash
//! after that commit but before the acknowledgement makes the client resend: chain `dedupe`
//! before `user_state` so the resent events are recognised, or `$add` counts twice.

mod ops;
mod store;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;

use lru::LruCache;
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use pipeline_core::metrics_names::{error_type, ComponentMetrics};
use pipeline_core::{Event, EventArray};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::transforms::state_db::StateError;
pub use store::{Entry, SqliteUserStore, UserState, UserStore};

/// Users (and device aliases) kept in memory when the config does not say.
pub const DEFAULT_CACHE_SIZE: usize = 100_000;

/// Users with a state of their own (`gauge`).
pub const USERS_TRACKED: &str = "user_state_users_tracked";
/// Key lookups answered from memory (`counter`).
pub const CACHE_HITS_TOTAL: &str = "user_state_cache_hits_total";
/// Key lookups that went to the store (`counter`).
pub const CACHE_MISSES_TOTAL: &str = "user_state_cache_misses_total";
/// Seconds one load or save of a batch took in the store (`histogram`).
pub const STORE_SECONDS: &str = "user_state_store_seconds";

/// `[transforms.ID]` with `type = "user_state"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserStateConfig {
    /// How many keys (users and device aliases) are kept in memory in front of the store.
    #[serde(default = "default_cache_size")]
    pub cache_size: NonZeroUsize,
}

fn default_cache_size() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_CACHE_SIZE).unwrap_or(NonZeroUsize::MIN)
}

/// The running transform: a cache in front of a durable store.
pub struct UserStateTransform {
    store: Box<dyn UserStore>,
    cache: LruCache<String, Entry>,
    users: u64,
    figures: Figures,
}

/// The transform's own metrics, labelled like its component metrics.
struct Figures {
    users_tracked: Gauge,
    hits: Counter,
    misses: Counter,
    store_seconds: Histogram,
}

impl Figures {
    fn new(metrics: &ComponentMetrics) -> Figures {
        let labels = metrics.labels().to_vec();
        Figures {
            users_tracked: gauge!(USERS_TRACKED, labels.clone()),
            hits: counter!(CACHE_HITS_TOTAL, labels.clone()),
            misses: counter!(CACHE_MISSES_TOTAL, labels.clone()),
            store_seconds: histogram!(STORE_SECONDS, labels),
        }
    }
}

/// Where an event's state is read and written.
struct Keys {
    /// `u:<user_id>`, or `d:<device_id>` for an event without a user id.
    primary: String,
    /// `d:<device_id>` when the event names both.
    device: Option<String>,
}

impl UserStateTransform {
    /// Opens the state under `dir` (the transform's folder in `data_dir`).
    pub async fn open(
        config: &UserStateConfig,
        dir: &Path,
        metrics: &ComponentMetrics,
    ) -> Result<UserStateTransform, StateError> {
        let store = SqliteUserStore::open(dir)?;
        UserStateTransform::with_store(config, Box::new(store), metrics).await
    }

    /// The transform over any [`UserStore`].
    pub async fn with_store(
        config: &UserStateConfig,
        store: Box<dyn UserStore>,
        metrics: &ComponentMetrics,
    ) -> Result<UserStateTransform, StateError> {
        let users = store.count_states().await?;
        let figures = Figures::new(metrics);
        figures.users_tracked.set(users as f64);
        Ok(UserStateTransform {
            store,
            cache: LruCache::new(config.cache_size),
            users,
            figures,
        })
    }

    /// Resolves every event of `batch`. If the store fails, the batch's events are marked
    /// errored (their sources answer with an error, and clients resend) and none go on.
    pub async fn apply(&mut self, batch: EventArray, metrics: &ComponentMetrics) -> EventArray {
        match self.resolve(batch).await {
            Ok(batch) => batch,
            Err((error, batch)) => {
                super::fail_batch(batch, &error, error_type::WRITER_FAILED, metrics)
            }
        }
    }

    async fn resolve(
        &mut self,
        mut batch: EventArray,
    ) -> Result<EventArray, (StateError, EventArray)> {
        let keys: Vec<Option<Keys>> = batch.iter().map(|e| keys_of(e.fields())).collect();
        let mut working = match self.working_set(&keys).await {
            Ok(working) => working,
            Err(error) => return Err((error, batch)),
        };
        let mut dirty: Vec<String> = Vec::new();
        let mut new_users: i64 = 0;
        for (event, keys) in batch.iter_mut().zip(&keys) {
            let Some(keys) = keys else { continue };
            let user = resolve_alias(&working, &keys.primary);
            if let Some(device) = &keys.device {
                new_users += join_device(&mut working, device, &user, &mut dirty);
            }
            let slot = working.entry(user.clone()).or_default();
            if !matches!(slot, Some(Entry::State(_))) {
                new_users += 1;
                *slot = Some(Entry::State(UserState::default()));
            }
            if let Some(Entry::State(state)) = slot {
                update(state, event);
            }
            dirty.push(user);
        }
        dirty.sort_unstable();
        dirty.dedup();
        let changes: Vec<(String, Entry)> = dirty
            .iter()
            .filter_map(|key| Some((key.clone(), working.get(key)?.clone()?)))
            .collect();
        if !changes.is_empty() {
            match self.store.save(changes).await {
                Ok(took) => self.figures.store_seconds.record(took.as_secs_f64()),
                Err(error) => return Err((error, batch)),
            }
        }
        for (key, entry) in working {
            if let Some(entry) = entry {
                self.cache.put(key, entry);
            }
        }
        self.users = self.users.saturating_add_signed(new_users);
        self.figures.users_tracked.set(self.users as f64);
        Ok(batch)
    }

    /// Every entry the batch may read: from the cache, else from the store (one load, and one
    /// more for the users that aliased devices point at). `None` marks a key the store lacks.
    async fn working_set(
        &mut self,
        keys: &[Option<Keys>],
    ) -> Result<HashMap<String, Option<Entry>>, StateError> {
        let wanted = keys
            .iter()
            .flatten()
            .flat_map(|k| std::iter::once(&k.primary).chain(k.device.as_ref()));
        let mut working = HashMap::new();
        self.fill(&mut working, wanted.cloned().collect()).await?;
        let targets: Vec<String> = working
            .values()
            .filter_map(|entry| match entry {
                Some(Entry::Alias(user)) => Some(user.clone()),
                _ => None,
            })
            .collect();
        self.fill(&mut working, targets).await?;
        Ok(working)
    }

    async fn fill(
        &mut self,
        working: &mut HashMap<String, Option<Entry>>,
        keys: Vec<String>,
    ) -> Result<(), StateError> {
        let mut missing = Vec::new();
        for key in keys {
            if working.contains_key(&key) {
                continue;
            }
            // Taken out, not copied: every entry of the working set goes back in afterwards.
            match self.cache.pop(&key) {
                Some(entry) => {
                    self.figures.hits.increment(1);
                    working.insert(key, Some(entry));
                }
                None => {
                    self.figures.misses.increment(1);
                    working.insert(key.clone(), None);
                    missing.push(key);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let (found, took) = self.store.load(missing).await?;
        self.figures.store_seconds.record(took.as_secs_f64());
        for (key, entry) in found {
            working.insert(key, Some(entry));
        }
        Ok(())
    }
}

/// The keys of an event, or `None` for one without ids and for `$groupidentify` (which
/// describes a group, not a user).
fn keys_of(fields: &Map<String, Value>) -> Option<Keys> {
    if fields.get("event_type").and_then(Value::as_str) == Some("$groupidentify") {
        return None;
    }
    let id = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
    };
    let device = id("device_id").map(|d| format!("d:{d}"));
    match id("user_id") {
        Some(user) => Some(Keys {
            primary: format!("u:{user}"),
            device,
        }),
        None => Some(Keys {
            primary: device?,
            device: None,
        }),
    }
}

/// The key whose state `key` reads: the user a device is an alias of, else itself.
fn resolve_alias(working: &HashMap<String, Option<Entry>>, key: &str) -> String {
    match working.get(key) {
        Some(Some(Entry::Alias(user))) => user.clone(),
        _ => key.to_string(),
    }
}

/// Makes `device` an alias of `user`, merging a state the device had into the user's. Returns
/// the change in the number of keys holding a state of their own.
fn join_device(
    working: &mut HashMap<String, Option<Entry>>,
    device: &str,
    user: &str,
    dirty: &mut Vec<String>,
) -> i64 {
    let alias = Entry::Alias(user.to_string());
    let previous = working.insert(device.to_string(), Some(alias.clone()));
    let mut change = 0;
    match previous.flatten() {
        Some(Entry::Alias(current)) if current == user => return 0,
        Some(Entry::State(device_state)) => {
            change -= 1;
            let merged = match working.get(user) {
                Some(Some(Entry::State(user_state))) => merge(user_state.clone(), device_state),
                _ => {
                    change += 1;
                    device_state
                }
            };
            working.insert(user.to_string(), Some(Entry::State(merged)));
            dirty.push(user.to_string());
        }
        _ => {}
    }
    dirty.push(device.to_string());
    change
}

/// `user` with the properties and groups of `device` that it lacks.
fn merge(mut user: UserState, device: UserState) -> UserState {
    for (key, value) in device.properties {
        user.properties.entry(key).or_insert(value);
    }
    for (key, value) in device.groups {
        user.groups.entry(key).or_insert(value);
    }
    user
}

/// Applies the event's operations and groups to `state`, then writes the result back into the
/// event's `user_properties` and `groups`.
fn update(state: &mut UserState, event: &mut Event) {
    let fields = event.fields_mut();
    if let Some(Value::Object(update)) = fields.get("user_properties") {
        ops::apply(&mut state.properties, update);
    }
    if let Some(Value::Object(groups)) = fields.get("groups") {
        for (group_type, value) in groups {
            state.groups.insert(group_type.clone(), value.clone());
        }
    }
    fields.insert(
        "user_properties".into(),
        Value::Object(state.properties.clone()),
    );
    fields.insert("groups".into(), Value::Object(state.groups.clone()));
}

#[cfg(test)]
mod tests;
