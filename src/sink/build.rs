//! The sink as a host component: the `webhook` type's factory, its [`SinkConfig`], and the
//! assembly of a running sink (lanes and their stacks, the retry store, the circuits).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pipeline_core::{
    BuildError, ConfigError, FactoryContext, HealthHandle, Healthcheck, Registry, SinkConfig,
    SinkContext, StreamSink,
};

use super::attempt::{LaneContext, Shared};
use super::settle::Ledger;
use super::WebhookSink;
use crate::config::WebhookConfig;
use crate::dispatch::connect::resolve_allowed;
use crate::dispatch::http::build_client_with;
use crate::dispatch::lanes::{LaneStack, CHUNKS_QUEUED_PER_LANE};
use crate::dispatch::network::NetworkPolicy;
use crate::dispatch::{build_stack, Concurrency, HttpService, Signer, StackSettings, Target};
use crate::prepare::payload::Payloads;
use crate::prepare::Preparer;
use crate::retry::circuit::Circuits;
use crate::retry::store::SqliteTier;
use crate::telemetry::{HotCounts, SinkMetrics};

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

    /// Builds the running sink `component_id`, its retry store under `data_dir/<component_id>/`.
    pub fn build_sink(
        &self,
        component_id: &str,
        data_dir: &Path,
    ) -> Result<WebhookSink, BuildError> {
        let metrics = SinkMetrics::new(component_id);
        let dir = data_dir.join(component_id);
        let store = SqliteTier::open(
            &dir,
            self.config.store.clone(),
            &self.config.headers,
            Some(metrics.store_gauges()),
        )
        .map_err(|e| BuildError::with_source("cannot open the retry store", e))?;
        let circuits = Circuits::new(&self.config.circuit, metrics.circuits());
        let shared = Shared {
            url: self.config.url.clone(),
            store: Arc::new(store),
            circuits: Arc::new(circuits),
            ledger: Ledger::new(Arc::clone(&metrics)),
        };
        let signer = Signer::new(&self.config.signing_secrets, component_id);
        Ok(self.assemble(metrics, shared, signer))
    }

    /// The running sink around `shared`: one dispatch lane per core, each with its stack, and
    /// its copy of `signer` when requests are signed.
    fn assemble(
        &self,
        metrics: Arc<SinkMetrics>,
        shared: Shared,
        signer: Option<Signer>,
    ) -> WebhookSink {
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
                let policy = Arc::new(config.network.clone());
                let client = build_client_with(share, &config.tls, Arc::clone(&policy));
                let counts = HotCounts::tallied(Arc::clone(&metrics));
                let http =
                    HttpService::under_policy(client, target, share, policy).signed(signer.clone());
                LaneStack {
                    stack: build_stack(http, &settings, counts.clone()),
                    counts: counts.clone(),
                    lane: LaneContext {
                        shared: Arc::new(shared.for_lane(metrics)),
                        counts,
                    },
                }
            })
            .collect();
        // A lane's share of the permits per chunk: a lane goes back to the queue (and may wake
        // the loop) once per share of requests. Measured against half a share: 10% more
        // events/s through the host, the same fed directly.
        let chunk = (concurrency / lanes).max(1);
        // Room for every record the lanes can hold (in flight, a chunk in each lane's hands,
        // the queued chunks) and the chunk being placed: the lanes' queue, not these slots, is
        // what the router waits for while the webhook keeps up. A record whose attempt failed
        // keeps its slot until the store took it, so a full store stops the input.
        let slots = concurrency + (lanes + lanes * CHUNKS_QUEUED_PER_LANE + 1) * chunk;
        WebhookSink {
            preparer: Preparer::new(config, &self.payloads),
            stacks,
            shared: Arc::new(shared),
            chunk,
            slots,
            timeout: config.stack.timeout,
            spill_after: config.store.spill_after,
            health: HealthHandle::default(),
            max_records: config.store.max_records,
        }
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
        let sink = self
            .build_sink(&cx.component_id, &cx.data_dir)?
            .with_health(cx.health);
        let healthcheck = healthcheck(self.config.uri.clone(), self.config.network.clone());
        Ok((Box::new(sink), healthcheck))
    }

    fn acknowledgements(&self) -> bool {
        self.config.acknowledgements
    }
}

/// Checks that the webhook's host accepts TCP connections (any HTTP answer would need a request
/// the webhook might count).
/// The address is checked against the network policy first: a refused one is never dialled.
fn healthcheck(uri: http::Uri, policy: NetworkPolicy) -> Healthcheck {
    Box::pin(async move {
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        // `Uri::host` keeps an IPv6 literal's brackets, which `host:port` needs.
        let host_port = format!("{host}:{port}");
        let connect = async {
            let addresses = resolve_allowed(&host_port, &policy).await?;
            tokio::net::TcpStream::connect(addresses.as_slice()).await
        };
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
