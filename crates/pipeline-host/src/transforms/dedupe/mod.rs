//! The `dedupe` transform: an event whose key (by default `device_id` + `$insert_id`) was
//! delivered within the window is dropped, as Amplitude ignores a resent event for seven days.
//!
//! SDKs resend a batch when its response is lost, with the same insert ids; without this, the
//! webhook gets those events twice. The config follows Vector's `dedupe` (`fields.match`,
//! `cache.num_events`), plus the durable `window` and `max_entries` Amplitude's rule needs.
//!
//! A key is recorded as seen only once its event is acknowledged downstream, and before the
//! source learns of it: the transform takes the event's acknowledgement over, waits for the
//! sink's verdict, commits the key, and only then passes the verdict on. So a crash before
//! delivery leaves the key unrecorded and the client's resend passes, while a resend after the
//! client's 200 is recognised. While an event is in flight its key counts as seen (a resend
//! racing the first delivery is dropped); if that delivery fails, the key is released and the
//! client's next resend passes. Events lacking any key field pass untouched.

mod store;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use lru::LruCache;
use metrics::{gauge, histogram, Gauge, Histogram};
use pipeline_core::config::ConfigDuration;
use pipeline_core::metrics_names::{error_type, stage, ComponentMetrics};
use pipeline_core::{BatchNotifier, BatchStatus, Event, EventArray, EventStatus};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::task::TaskTracker;

use crate::transforms::state_db::StateError;
pub use store::SeenStore;

/// Keys held in the durable store (`gauge`).
pub const KEYS_STORED: &str = "dedupe_keys_stored";
/// Seconds one lookup or record in the store took (`histogram`).
pub const STORE_SECONDS: &str = "dedupe_store_seconds";

/// `[transforms.ID]` with `type = "dedupe"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    /// Which fields make the key.
    #[serde(default)]
    pub fields: FieldsConfig,
    /// How long a delivered key keeps later events out.
    #[serde(default = "default_window")]
    pub window: ConfigDuration,
    /// The most keys kept on disk; beyond it the oldest go first.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
    /// The keys kept in memory in front of the store.
    #[serde(default)]
    pub cache: CacheConfig,
}

/// `fields` of a `dedupe` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FieldsConfig {
    /// The key fields, top-level names, in order.
    #[serde(rename = "match", default = "default_match")]
    pub match_fields: Vec<String>,
}

impl Default for FieldsConfig {
    fn default() -> FieldsConfig {
        FieldsConfig {
            match_fields: default_match(),
        }
    }
}

/// `cache` of a `dedupe` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How many recently delivered keys are answered from memory.
    #[serde(default = "default_num_events")]
    pub num_events: NonZeroUsize,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            num_events: default_num_events(),
        }
    }
}

fn default_match() -> Vec<String> {
    vec!["device_id".into(), "$insert_id".into()]
}

fn default_window() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(7 * 86_400))
}

fn default_max_entries() -> u64 {
    10_000_000
}

fn default_num_events() -> NonZeroUsize {
    NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN)
}

impl DedupeConfig {
    /// Refuses settings that cannot work, naming the key.
    pub fn validate(&self) -> Result<(), pipeline_core::ConfigError> {
        if self.fields.match_fields.is_empty() {
            return Err(pipeline_core::ConfigError::new(
                "fields.match",
                "name at least one field",
            ));
        }
        if self.window.0.is_zero() {
            return Err(pipeline_core::ConfigError::new(
                "window",
                "must be longer than 0",
            ));
        }
        if self.max_entries == 0 {
            return Err(pipeline_core::ConfigError::new(
                "max_entries",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The running transform.
pub struct DedupeTransform {
    fields: Vec<String>,
    window: Duration,
    shared: Arc<Shared>,
    /// The tasks waiting for deliveries, awaited before the transform ends.
    pending: TaskTracker,
}

/// What the transform and its delivery tasks share.
struct Shared {
    store: SeenStore,
    /// Delivered keys recently recorded, with when (epoch ms).
    cache: Mutex<LruCache<String, i64>>,
    /// Keys whose events are between this transform and their acknowledgement.
    in_flight: Mutex<HashSet<String>>,
    keys_stored: Gauge,
    store_seconds: Histogram,
    metrics: ComponentMetrics,
}

impl DedupeTransform {
    /// Opens the seen keys under `dir` (the transform's folder in `data_dir`).
    pub async fn open(
        config: &DedupeConfig,
        dir: &Path,
        metrics: &ComponentMetrics,
    ) -> Result<DedupeTransform, StateError> {
        let store = SeenStore::open(dir, config.max_entries).await?;
        let labels = metrics.labels().to_vec();
        let keys_stored = gauge!(KEYS_STORED, labels.clone());
        keys_stored.set(store.stored() as f64);
        Ok(DedupeTransform {
            fields: config.fields.match_fields.clone(),
            window: config.window.0,
            shared: Arc::new(Shared {
                store,
                cache: Mutex::new(LruCache::new(config.cache.num_events)),
                in_flight: Mutex::new(HashSet::new()),
                keys_stored,
                store_seconds: histogram!(STORE_SECONDS, labels),
                metrics: metrics.clone(),
            }),
            pending: TaskTracker::new(),
        })
    }

    /// Drops the events of `batch` already delivered (or in flight) and takes over the
    /// acknowledgement of the others.
    pub async fn apply(&mut self, batch: EventArray, metrics: &ComponentMetrics) -> EventArray {
        let now = epoch_ms(SystemTime::now());
        let since = now.saturating_sub(self.window.as_millis() as i64);
        let keys: Vec<Option<String>> = batch.iter().map(|e| self.key_of(e.fields())).collect();
        let stored = match self.lookup(&keys, since).await {
            Ok(stored) => stored,
            Err(error) => {
                return super::fail_batch(batch, &error, error_type::READER_FAILED, metrics)
            }
        };
        let mut kept = Vec::with_capacity(batch.len());
        let mut watched = Vec::new();
        let mut duplicates = 0;
        {
            let mut in_flight = lock(&self.shared.in_flight);
            for (event, key) in batch.into_events().into_iter().zip(keys) {
                let Some(key) = key else {
                    kept.push(event);
                    continue;
                };
                if stored.contains(&key) || !in_flight.insert(key.clone()) {
                    duplicates += 1;
                    continue;
                }
                let (event, watch) = watch(event, key);
                kept.push(event);
                watched.push(watch);
            }
        }
        if duplicates > 0 {
            metrics.discarded(duplicates, true);
        }
        if !watched.is_empty() {
            let shared = Arc::clone(&self.shared);
            let window = self.window;
            self.pending.spawn(settle(shared, watched, window));
        }
        EventArray::new(kept)
    }

    /// Waits until the verdicts of every event passed so far have been recorded and passed on.
    pub async fn settled(&self) {
        self.pending.close();
        self.pending.wait().await;
        self.pending.reopen();
    }

    /// The event's key: the match fields' values, or `None` if one is missing or null.
    fn key_of(&self, fields: &Map<String, Value>) -> Option<String> {
        let mut key = String::new();
        for (index, name) in self.fields.iter().enumerate() {
            if index > 0 {
                key.push('\u{1f}');
            }
            match fields.get(name)? {
                Value::Null => return None,
                Value::String(text) => key.push_str(text),
                other => key.push_str(&other.to_string()),
            }
        }
        Some(key)
    }

    /// The keys of this batch delivered since `since`: from the cache, else the store.
    async fn lookup(
        &self,
        keys: &[Option<String>],
        since: i64,
    ) -> Result<HashSet<String>, StateError> {
        let mut seen = HashSet::new();
        let mut ask = Vec::new();
        {
            let mut cache = lock(&self.shared.cache);
            for key in keys.iter().flatten() {
                match cache.get(key) {
                    Some(at) if *at >= since => {
                        seen.insert(key.clone());
                    }
                    _ => ask.push(key.clone()),
                }
            }
        }
        if !ask.is_empty() {
            let (found, took) = self.shared.store.seen_since(ask, since).await?;
            self.shared.store_seconds.record(took.as_secs_f64());
            seen.extend(found);
        }
        Ok(seen)
    }
}

/// An event whose acknowledgement this transform holds: its key, the source's finalizers, and
/// the verdict of the copy that went on.
struct Watched {
    key: String,
    original: pipeline_core::EventFinalizers,
    verdict: pipeline_core::BatchStatusReceiver,
}

/// Swaps the event's finalizers for one of ours, so its verdict comes here first.
fn watch(mut event: Event, key: String) -> (Event, Watched) {
    let original = event.take_finalizers();
    let (notifier, verdict) = BatchNotifier::new_with_receiver();
    let event = event.with_batch_notifier(&notifier);
    (
        event,
        Watched {
            key,
            original,
            verdict,
        },
    )
}

/// Waits for the verdicts of one batch's events, records the delivered keys, releases the rest,
/// then tells the sources.
async fn settle(shared: Arc<Shared>, watched: Vec<Watched>, window: Duration) {
    let (rest, verdicts): (Vec<_>, Vec<_>) = watched
        .into_iter()
        .map(|w| ((w.key, w.original), w.verdict))
        .unzip();
    let verdicts = join_all(verdicts).await;
    let delivered: Vec<String> = rest
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| **verdict == BatchStatus::Delivered)
        .map(|((key, _), _)| key.clone())
        .collect();
    let now = epoch_ms(SystemTime::now());
    let expired = now.saturating_sub(window.as_millis() as i64);
    let mut failed_record = false;
    if !delivered.is_empty() {
        match shared.store.record(delivered.clone(), now, expired).await {
            Ok(took) => {
                shared.store_seconds.record(took.as_secs_f64());
                shared.keys_stored.set(shared.store.stored() as f64);
                let mut cache = lock(&shared.cache);
                for key in delivered {
                    cache.put(key, now);
                }
            }
            Err(error) => {
                // The delivery happened, but a resend would pass: say so to the source.
                tracing::error!(%error, "delivered keys not recorded");
                shared
                    .metrics
                    .error(error_type::WRITER_FAILED, stage::PROCESSING);
                failed_record = true;
            }
        }
    }
    let mut in_flight = lock(&shared.in_flight);
    for ((key, original), verdict) in rest.into_iter().zip(verdicts) {
        in_flight.remove(&key);
        let status = match verdict {
            BatchStatus::Delivered if failed_record => EventStatus::Errored,
            BatchStatus::Delivered => EventStatus::Delivered,
            BatchStatus::Errored => EventStatus::Errored,
            BatchStatus::Rejected => EventStatus::Rejected,
        };
        original.update_status(status);
    }
}

fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
