//! The built-in sources (`stdin`, `demo`, `amplitude_http`, `http_server`) and what every source is given to run: its output,
//! the shutdown signal, its metrics, and whether to request acknowledgements. The two HTTP sources
//! share CORS ([`cors`]) and HTTPS ([`tls`]).

mod amplitude_http;
mod client_limit;
pub mod cors;
mod demo;
pub mod http_server;
mod secret;
mod stdin;
pub mod tls;

use std::sync::Arc;

use pipeline_core::log_limit::LogLimiter;
use pipeline_core::metrics_names::ComponentMetrics;
use pipeline_core::{BatchNotifier, BatchStatus, Event, EventArray};
use tokio_util::sync::CancellationToken;

use crate::topology::fanout::Fanout;

pub use amplitude_http::AmplitudeHttpConfig;
pub use demo::{generate as generate_demo_record, DemoConfig};
pub use stdin::StdinConfig;

const NOT_DELIVERED: &str = "batch not delivered";

/// Everything a running source needs.
pub(crate) struct SourceContext {
    pub id: Arc<str>,
    pub out: Fanout,
    pub shutdown: CancellationToken,
    pub metrics: ComponentMetrics,
    /// Whether a downstream sink asked for end-to-end acknowledgements.
    pub acknowledgements: bool,
    /// Limits the "batch not delivered" lines (one per batch during an outage otherwise).
    pub logs: Arc<LogLimiter>,
}

impl SourceContext {
    /// Stamp `events` with this source and, when acknowledgements are on, a batch notifier
    /// whose outcome is logged; then send them downstream. Returns false when no downstream
    /// component is left.
    pub async fn emit(&mut self, events: Vec<Event>) -> bool {
        if events.is_empty() {
            return !self.out.is_closed();
        }
        let count = events.len();
        let notifier = self.acknowledgements.then(|| {
            let (notifier, receiver) = BatchNotifier::new_with_receiver();
            let id = Arc::clone(&self.id);
            let logs = Arc::clone(&self.logs);
            tokio::spawn(async move {
                match receiver.await {
                    BatchStatus::Delivered => {
                        tracing::trace!(component_id = %id, count, "batch acknowledged")
                    }
                    status => logs.log(&NOT_DELIVERED, std::time::Instant::now(), |repeated| {
                        if let Some(repeated) = repeated {
                            tracing::warn!(component_id = %id, repeated = repeated.count, "{repeated}");
                        }
                        tracing::warn!(component_id = %id, count, ?status, "{NOT_DELIVERED}");
                    }),
                }
            });
            notifier
        });
        let batch: EventArray = events
            .into_iter()
            .map(|event| {
                let event = event.with_source_id(Arc::clone(&self.id));
                match &notifier {
                    Some(notifier) => event.with_batch_notifier(notifier),
                    None => event,
                }
            })
            .collect();
        drop(notifier);
        let bytes = batch.json_byte_size();
        if self.out.send(batch).await {
            self.metrics.sent_events(count, bytes);
            true
        } else {
            self.metrics.discarded(count, false);
            false
        }
    }
}

/// Run the source described by `config` until it finishes or `cx.shutdown` fires.
pub(crate) async fn run(config: crate::config::SourceConfig, cx: SourceContext) -> Result<(), ()> {
    match config {
        crate::config::SourceConfig::Stdin(config) => {
            stdin::run(config, tokio::io::stdin(), cx).await
        }
        crate::config::SourceConfig::Demo(config) => demo::run(config, cx).await,
        crate::config::SourceConfig::AmplitudeHttp(config) => amplitude_http::run(config, cx).await,
        crate::config::SourceConfig::HttpServer(config) => http_server::run(config, cx).await,
    }
}
