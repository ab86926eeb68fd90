//! The `webhook` sink: streams analytics events and users to a webhook, one HTTP request per record.
//!
//! Data flows one way: the host hands the sink batches; the sink classifies each record
//! ([`record`]), filters it per stream, renders its payload ([`payload`]), and sends it through
//! the [`dispatch`] stack; an attempt that fails goes to the outer retry tier ([`outer`]).

mod attempt;
pub mod component;
pub mod config;
pub mod demo;
pub mod dispatch;
pub(crate) mod lanes;
pub mod outer;
pub mod payload;
pub mod preview;
pub mod receiver;
pub mod record;
pub mod runtime;
pub(crate) mod scheduling;
pub mod select;
pub mod sink;
pub mod store;
pub mod stream;
pub mod tally;
pub mod telemetry;
pub mod template;
pub mod time;

pub use component::{register, WebhookSinkConfig, SINK_TYPE};
