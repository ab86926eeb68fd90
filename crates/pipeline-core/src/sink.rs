//! The sink side of the host interface: a sink's configuration builds a running [`StreamSink`]
//! and a healthcheck, given the [`SinkContext`] the host provides.

use std::path::PathBuf;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::event::EventArray;
use crate::health::HealthHandle;

/// A running sink: consumes batches until the input ends, then finishes its in-flight work and
/// returns.
///
/// The host ends the input stream when every upstream component has finished (all sources done,
/// or a shutdown was requested); returning is the sink's signal that everything it took is
/// finalized. Pulling from `input` only when it can take more work is how a sink exerts
/// backpressure on its sources.
///
/// Metrics: the host counts `component_received_events_total` and
/// `component_received_event_bytes_total` for the sink as batches leave its input channel; the
/// sink counts what it sent, its errors and what it discarded
/// ([`crate::metrics_names::ComponentMetrics`]).
#[async_trait]
pub trait StreamSink: Send {
    /// Run until `input` ends. `Err(())` means the sink failed; it has logged why.
    async fn run(self: Box<Self>, input: BoxStream<'_, EventArray>) -> Result<(), ()>;
}

/// What the host gives a sink when building it.
#[derive(Clone, Debug)]
pub struct SinkContext {
    /// The sink's id in the config (`hook` for `[sinks.hook]`), used as the `component_id` label.
    pub component_id: String,
    /// The directory for durable state (`data_dir` of the config); the sink makes its own
    /// subdirectory under it.
    pub data_dir: PathBuf,
    /// Where the sink says how it is (the host's `/health` reads it).
    pub health: HealthHandle,
}

impl SinkContext {
    /// A context for the sink `component_id` storing its state under `data_dir`.
    pub fn new(component_id: impl Into<String>, data_dir: impl Into<PathBuf>) -> SinkContext {
        SinkContext {
            component_id: component_id.into(),
            data_dir: data_dir.into(),
            health: HealthHandle::default(),
        }
    }

    /// The same context reporting health through `health`.
    pub fn with_health(mut self, health: HealthHandle) -> SinkContext {
        self.health = health;
        self
    }
}

/// A check, run once at start, that the sink's destination is reachable. Failing it is logged;
/// the pipeline still runs.
pub type Healthcheck = BoxFuture<'static, Result<(), BuildError>>;

/// A sink's validated configuration: what a registry factory returns for a `[sinks.ID]` table.
#[async_trait]
pub trait SinkConfig: Send + Sync + std::fmt::Debug {
    /// Build the running sink and its healthcheck. Fails when a resource cannot be opened
    /// (e.g. the retry store under `data_dir`).
    async fn build(
        &self,
        cx: SinkContext,
    ) -> Result<(Box<dyn StreamSink>, Healthcheck), BuildError>;

    /// Whether sources should wait for this sink's acknowledgements (end-to-end acks).
    fn acknowledgements(&self) -> bool {
        false
    }
}

/// Why a sink could not be built, or why its healthcheck failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BuildError {
    /// An error described by `message` alone.
    pub fn new(message: impl Into<String>) -> BuildError {
        BuildError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with its cause; `context` says what was being done (e.g. the file being opened).
    pub fn with_source(
        context: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> BuildError {
        BuildError {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }
}
