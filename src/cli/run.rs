//! `webhook-sink run --config FILE`: run the pipeline until its sources finish, or until
//! SIGINT/SIGTERM stops the sources; either way the sinks drain before the process exits 0.
//! A second signal, or the drain outlasting `--drain-timeout`, exits 1 at once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pipeline_host::{
    install_prometheus_recorder, spawn_upkeep, Api, ApiServer, Config, HealthBoard,
    PrometheusHandle, RunningTopology,
};
use webhook_sink::dashboard::{self, Dashboard};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline config (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// After a shutdown signal, how many seconds to wait for in-flight work to drain before
    /// giving up (exit 1).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    drain_timeout: u64,
}

/// Run the pipeline on a fresh Tokio runtime.
pub fn execute(args: RunArgs) -> ExitCode {
    let runtime = match super::runtime::build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args));
    // Standard input is read on a blocking thread that may never return; don't wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run(args: RunArgs) -> ExitCode {
    // Listen from the start, so a signal during startup is not fatal.
    let mut signals = match Signals::listen() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGINT/SIGTERM");
            return ExitCode::FAILURE;
        }
    };
    let config = match Config::from_path(&args.config, &super::registry()) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("invalid config {}: {error}", args.config.display());
            return ExitCode::FAILURE;
        }
    };
    let handle = match install_prometheus_recorder() {
        Ok(handle) => handle,
        Err(error) => {
            tracing::error!(%error);
            return ExitCode::FAILURE;
        }
    };
    spawn_upkeep(handle.clone());
    let health = HealthBoard::new();
    let api = match &config.api {
        Some(api) => match ApiServer::start(api.address, api_pages(handle, &health)).await {
            Ok(server) => Some(server),
            Err(error) => {
                tracing::error!(%error);
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let topology = match RunningTopology::start_reporting(config, health).await {
        Ok(topology) => topology,
        Err(error) => {
            tracing::error!(%error, "cannot start the pipeline");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = topology.shutdown_handle();
    let finished = topology.wait();
    tokio::pin!(finished);
    let result = tokio::select! {
        result = &mut finished => result,
        signal = signals.next() => {
            tracing::info!(signal, "shutting down: sources stopped, draining in-flight work");
            shutdown.shutdown();
            tokio::select! {
                result = &mut finished => result,
                signal = signals.next() => {
                    tracing::error!(signal, "second signal: exiting without draining");
                    return ExitCode::FAILURE;
                }
                () = tokio::time::sleep(Duration::from_secs(args.drain_timeout)) => {
                    tracing::error!(seconds = args.drain_timeout, "drain timed out; exiting without draining");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    if let Some(api) = api {
        api.stop();
    }
    match result {
        Ok(()) => {
            tracing::info!("pipeline finished");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "pipeline finished with errors");
            ExitCode::FAILURE
        }
    }
}

/// What `[api]` serves: `/metrics`, `/health`, and the delivery dashboard (`/` and
/// `/dashboard`, fed by `/api/figures`).
fn api_pages(metrics: PrometheusHandle, health: &HealthBoard) -> Api {
    let figures = {
        let metrics = metrics.clone();
        Dashboard::new(move || metrics.render())
    };
    figures.spawn_sampler();
    let html = "text/html; charset=utf-8";
    Api::new(metrics, health.clone())
        .page("/", html, || dashboard::PAGE.to_owned())
        .page("/dashboard", html, || dashboard::PAGE.to_owned())
        .page("/api/figures", "application/json", move || {
            figures.figures_json()
        })
}

/// SIGINT and SIGTERM, listened for from creation on.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves with the name of the next signal received.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
