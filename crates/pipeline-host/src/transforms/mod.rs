//! The built-in transforms, and the one shape the topology runs them in.
//!
//! - `filter` ([`filter`]): keeps the events matching a condition;
//! - `dedupe` ([`dedupe`]): drops resent events by `device_id` + `$insert_id`, durably;
//! - `user_state` ([`user_state`]): gives every event its user's resolved properties, durably.
//!
//! The stateful two keep their files under `data_dir/<transform id>/`, each through one SQLite
//! thread ([`state_db`]).

pub mod dedupe;
pub mod filter;
mod state_db;
pub mod user_state;

use std::path::Path;

use pipeline_core::metrics_names::{stage, ComponentMetrics};
use pipeline_core::{EventArray, EventStatus};

pub use dedupe::{DedupeConfig, DedupeTransform};
pub use filter::FilterConfig;
pub use state_db::StateError;
pub use user_state::{UserStateConfig, UserStateTransform};

use crate::config::TransformConfig;

/// A transform ready to run: its config, and for the stateful ones their open state.
pub enum Transform {
    /// `filter`.
    Filter(FilterConfig),
    /// `dedupe`.
    Dedupe(DedupeTransform),
    /// `user_state`.
    UserState(Box<UserStateTransform>),
}

impl Transform {
    /// Builds transform `id`, opening its state under `data_dir/<id>/`.
    pub async fn build(
        id: &str,
        config: &TransformConfig,
        data_dir: &Path,
        metrics: &ComponentMetrics,
    ) -> Result<Transform, StateError> {
        let dir = data_dir.join(id);
        Ok(match config {
            TransformConfig::Filter(filter) => Transform::Filter(filter.clone()),
            TransformConfig::Dedupe(dedupe) => {
                Transform::Dedupe(DedupeTransform::open(dedupe, &dir, metrics).await?)
            }
            TransformConfig::UserState(users) => Transform::UserState(Box::new(
                UserStateTransform::open(users, &dir, metrics).await?,
            )),
        })
    }

    /// The batch after this transform (possibly empty).
    pub async fn apply(&mut self, batch: EventArray, metrics: &ComponentMetrics) -> EventArray {
        match self {
            Transform::Filter(filter) => filter.apply(batch, metrics),
            Transform::Dedupe(dedupe) => dedupe.apply(batch, metrics).await,
            Transform::UserState(users) => users.apply(batch, metrics).await,
        }
    }

    /// Called once the input has ended: waits for what the transform still owes its sources.
    pub async fn finish(self) {
        if let Transform::Dedupe(dedupe) = self {
            dedupe.settled().await;
        }
    }
}

/// A batch a stateful transform could not handle because its store failed: every event is
/// marked errored (its source answers with an error, so the client resends), counted, and none
/// goes on.
fn fail_batch(
    batch: EventArray,
    error: &StateError,
    error_type: &'static str,
    metrics: &ComponentMetrics,
) -> EventArray {
    tracing::error!(%error, events = batch.len(), "state store failed; the batch fails");
    metrics.error(error_type, stage::PROCESSING);
    metrics.discarded(batch.len(), false);
    for event in batch.iter() {
        event
            .metadata()
            .finalizers()
            .update_status(EventStatus::Errored);
    }
    EventArray::new(Vec::new())
}
