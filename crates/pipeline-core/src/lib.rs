//! The host interface of the pipeline, modeled on vector-core but small: events and their
//! acknowledgements, the sink traits, the component registry, the condition language and the
//! component metric names.
//!
//! A plugin (such as the `webhook` sink) depends only on this crate; the host (`pipeline-host`)
//! drives it. Everything a plugin needs is re-exported here.

pub mod condition;
pub mod config;
pub mod event;
pub mod finalization;
pub mod health;
pub mod json;
pub mod log_limit;
pub mod manifest;
pub mod metrics_names;
pub mod registry;
pub mod sink;

pub use config::{deserialize_table, ConfigError};
pub use event::{Event, EventArray, EventMetadata};
pub use finalization::{
    BatchNotifier, BatchStatus, BatchStatusReceiver, EventFinalizer, EventFinalizers, EventStatus,
};
pub use health::{Health, HealthHandle};
pub use registry::{FactoryContext, Registry, SinkFactory};
pub use sink::{BuildError, Healthcheck, SinkConfig, SinkContext, StreamSink};

/// The version of the host interface a plugin is built against.
///
/// `plugin-manifest.toml` repeats it, and a test keeps the two in step: a host refuses a plugin
/// whose manifest names another version, so bump it whenever a public item of this crate changes
/// in a way a plugin can notice.
pub const HOST_API_VERSION: &str = "0.3";
