//! The process-wide Prometheus recorder behind the `metrics` facade, installed once and
//! rendered by the `/metrics` endpoint.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Another recorder was installed first, so ours cannot see the metrics.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the Prometheus metrics recorder: {0}")]
pub struct RecorderError(String);

/// Install the Prometheus recorder as the global `metrics` recorder (once per process; later
/// calls return the same handle). Call it before building components.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, RecorderError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| RecorderError(error.to_string()))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Keep histograms bounded by running the recorder's upkeep periodically, for as long as the
/// runtime lives.
pub fn spawn_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}
