//! A small real pipeline host: reads the TOML config, builds the topology
//! `sources -> transforms -> sinks` with bounded channels, runs it, and serves `/health` and
//! `/metrics`.
//!
//! Typical use (what `webhook-sink run` does):
//! 1. [`install_prometheus_recorder`] once per process;
//! 2. [`Config::from_path`] with a [`pipeline_core::Registry`] holding the plugin sinks;
//! 3. [`ApiServer::start`] if the config has `[api]`;
//! 4. [`RunningTopology::start`], then [`RunningTopology::wait`] — or
//!    [`ShutdownHandle::shutdown`] on a signal, then `wait` to drain.

pub mod api;
pub mod config;
pub mod health;
pub mod metrics;
pub mod sinks;
pub mod sources;
pub mod topology;
pub mod transforms;

pub use api::{Api, ApiError, ApiServer};
pub use config::{ApiConfig, Config};
pub use health::{HealthBoard, HealthReport, Phase};
pub use metrics::{install_prometheus_recorder, spawn_upkeep, RecorderError};
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use sinks::register_builtins;
pub use topology::{RunningTopology, ShutdownHandle, StartError, TopologyError, CHANNEL_CAPACITY};
