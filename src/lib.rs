//! The `webhook` sink: streams analytics events and users to a webhook, one HTTP request per
//! record, with Amplitude's payloads or FreeMarker templates and a durable two-tier retry.
//!
//! The folders follow one record's path:
//! - [`config`]: the `[sinks.ID]` table, validated with key paths;
//! - [`sink`]: the running sink (batches in -> prepared jobs -> lanes or store -> settlement);
//! - [`prepare`]: classify, filter, normalize times, render payloads;
//! - [`dispatch`]: the HTTP stack (rate limit, concurrency, in-attempt retry, timeout, pool) and
//!   the lanes that drive it;
//! - [`retry`]: the retry store, its schedule, dead letters and the circuit breakers;
//! - [`telemetry`]: every metric the sink emits;
//! - [`dashboard`]: the delivery dashboard the host serves, read from those metrics.

pub mod config;
pub mod dashboard;
pub mod dispatch;
pub mod prepare;
pub mod retry;
pub mod sink;
pub mod stream;
pub mod telemetry;

pub use sink::{register, WebhookSinkConfig, SINK_TYPE};
