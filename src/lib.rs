//! The `webhook` sink: streams analytics events and users to a webhook, one HTTP request per record.
//!
//! Data flows one way: the host hands the sink batches; the sink classifies each record
//! ([`record`]), filters it per stream, renders its payload ([`payload`]), and sends it through
//! the [`dispatch`] stack; an attempt that fails goes to the outer retry tier ([`outer`]).

pub mod dispatch;
pub mod outer;
pub mod receiver;
pub mod record;
pub mod stream;
pub mod telemetry;
pub mod time;
