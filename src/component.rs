//! The sink as a host component: the `webhook` type's factory and its [`SinkConfig`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pipeline_core::{
    BuildError, ConfigError, FactoryContext, Healthcheck, Registry, SinkConfig, SinkContext,
    StreamSink,
};

use crate::config::WebhookConfig;
use crate::dispatch::http::build_client_trusting;
use crate::dispatch::{build_stack, Concurrency, HttpService, StackSettings, Target};
use crate::lanes::LaneStack;
use crate::outer::{MemoryTier, RetryTier};
use crate::payload::Payloads;
use crate::select::Selector;
use crate::sink::{Shared, WebhookSink};
use crate::store::SqliteTier;
use crate::tally::HotCounts;
use crate::telemetry::SinkMetrics;

/// The config `type` of this sink.
pub const SINK_TYPE: &str = "webhook";

/// Makes the `webhook` sink type available to a host.
pub fn register(registry: &mut Registry) {
    registry.register_sink(SINK_TYPE, factory);
}

/// The `webhook` factory: validates a `[sinks.ID]` table (without `type` and `inputs`), reading
/// relative file paths from the config file's directory.
pub fn factory(
    table: toml::Table,
    cx: &FactoryContext,
) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(WebhookSinkConfig::from_table_in(
        table,
        cx.config_dir.as_deref(),
    )?))
}

/// A validated sink config with its templates compiled.
#[derive(Debug, Clone)]
pub struct WebhookSinkConfig {
    /// The validated settings.
    pub config: WebhookConfig,
    /// The compiled payload formats.
    pub payloads: Payloads,
}

impl WebhookSinkConfig {
    /// Parses, validates and compiles a `[sinks.ID]` table (without `type` and `inputs`);
    /// relative file paths are taken from the working directory.
    pub fn from_table(table: toml::Table) -> Result<WebhookSinkConfig, ConfigError> {
        Self::from_table_in(table, None)
    }

    /// [`WebhookSinkConfig::from_table`], resolving relative file paths against `config_dir`.
    pub fn from_table_in(
        table: toml::Table,
        config_dir: Option<&std::path::Path>,
    ) -> Result<WebhookSinkConfig, ConfigError> {
        let config = WebhookConfig::from_table_in(table, config_dir)?;
        let payloads = Payloads::compile(&config)?;
        Ok(WebhookSinkConfig { config, payloads })
    }

    /// The same from TOML text.
    pub fn from_toml_str(text: &str) -> Result<WebhookSinkConfig, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new("", e.message().to_owned()))?;
        Self::from_table(table)
    }

    /// Builds the running sink for `component_id`, with an in-memory outer retry tier.
    pub fn build_sink(&self, component_id: &str) -> WebhookSink {
        let tier = Arc::new(MemoryTier::new(
            self.config.outer.schedule.clone(),
            self.config.outer.max_records,
            self.config.outer.when_full,
        ));
        self.build_sink_with(SinkMetrics::new(component_id), tier)
    }

    /// Builds the running sink around an outer retry tier.
    fn build_sink_with(&self, metrics: Arc<SinkMetrics>, tier: Arc<dyn RetryTier>) -> WebhookSink {
        let config = &self.config;
        let concurrency = match config.stack.concurrency {
            Concurrency::Fixed(n) | Concurrency::Adaptive(n) => n,
        };
        let lanes = lane_count(&config.stack, concurrency);
        let stacks = (0..lanes)
            .map(|lane| {
                // Each lane's share of the permits, its own connections and its own stack, and
                // its own copies of what every request references (a reference count that both
                // cores bump per request costs a cache-line transfer each time).
                let metrics = Arc::new(SinkMetrics::clone(&metrics));
                let target = Arc::new(Target {
                    uri: config.uri.clone(),
                    headers: config.headers.clone(),
                });
                let share = lane_share(concurrency, lanes, lane);
                let mut settings = config.stack.clone();
                settings.concurrency = match config.stack.concurrency {
                    Concurrency::Fixed(_) => Concurrency::Fixed(share),
                    Concurrency::Adaptive(_) => Concurrency::Adaptive(share),
                };
                let client = build_client_trusting(share, &config.extra_roots);
                let counts = HotCounts::tallied(Arc::clone(&metrics));
                let http =
                    HttpService::new(client, Arc::clone(&target), Arc::clone(&metrics), share)
                        .with_counts(counts.clone());
                LaneStack {
                    stack: build_stack(http, &settings, Arc::clone(&metrics)),
                    counts,
                    metrics,
                }
            })
            .collect();
        let selector = Selector::new(config, &self.payloads, Arc::clone(&metrics));
        let shared = Shared {
            url: config.url.clone(),
            tier,
            metrics,
        };
        WebhookSink::new(selector, stacks, shared, concurrency)
    }
}

/// How many dispatch lanes (threads) a sink uses: one per core, at most one per permit, and one
/// when a rate limit is set (a limit shared by lanes would need a lock per request).
fn lane_count(stack: &StackSettings, concurrency: usize) -> usize {
    if stack.rate_limit > 0 {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(concurrency).max(1)
}

/// Lane `lane`'s share of `concurrency` permits: as even as possible, summing to the whole.
fn lane_share(concurrency: usize, lanes: usize, lane: usize) -> usize {
    concurrency / lanes + usize::from(lane < concurrency % lanes)
}

#[async_trait]
impl SinkConfig for WebhookSinkConfig {
    async fn build(
        &self,
        cx: SinkContext,
    ) -> Result<(Box<dyn StreamSink>, Healthcheck), BuildError> {
        // The durable retry store lives under `data_dir/<sink id>/`.
        let metrics = SinkMetrics::new(&cx.component_id);
        let dir = cx.data_dir.join(&cx.component_id);
        let tier = SqliteTier::open(&dir, self.config.outer.clone(), &self.config.headers)
            .map_err(|e| BuildError::with_source("cannot open the retry store", e))?
            .with_metrics(&cx.component_id, &metrics);
        let sink = self.build_sink_with(metrics, Arc::new(tier));
        let healthcheck = healthcheck(self.config.uri.clone());
        Ok((Box::new(sink), healthcheck))
    }

    fn acknowledgements(&self) -> bool {
        self.config.acknowledgements
    }
}

/// Checks that the webhook's host accepts TCP connections (any HTTP answer would need a request
/// the webhook might count).
fn healthcheck(uri: http::Uri) -> Healthcheck {
    Box::pin(async move {
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(BuildError::with_source(
                format!("cannot connect to {host}:{port}"),
                error,
            )),
            Err(_) => Err(BuildError::new(format!(
                "no connection to {host}:{port} within 5s"
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::AttemptSettings;

    fn settings(rate_limit: u64) -> StackSettings {
        StackSettings {
            timeout: Duration::from_secs(1),
            concurrency: Concurrency::Fixed(64),
            rate_limit,
            attempt: AttemptSettings::default(),
        }
    }

    #[test]
    fn lanes_split_the_permits_without_losing_or_adding_one() {
        for concurrency in 1..40 {
            for lanes in 1..=concurrency.min(8) {
                let shares: Vec<usize> = (0..lanes)
                    .map(|lane| lane_share(concurrency, lanes, lane))
                    .collect();
                assert_eq!(shares.iter().sum::<usize>(), concurrency);
                assert!(
                    shares.iter().all(|&s| s >= 1),
                    "{concurrency}/{lanes}: {shares:?}"
                );
            }
        }
    }

    #[test]
    fn one_lane_per_core_but_never_more_than_permits_and_one_under_a_rate_limit() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(lane_count(&settings(0), 64), cores.min(64));
        assert_eq!(lane_count(&settings(0), 1), 1);
        assert_eq!(lane_count(&settings(100), 64), 1);
    }
}
