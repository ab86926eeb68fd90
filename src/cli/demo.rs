//! `webhook-sink demo`: the whole job on an embedded default, in one command.
//!
//! Starts a webhook receiver on a free loopback port, runs `demo` source -> `filter` -> `webhook`
//! sink (with the product documentation's two templates) against it, shows live progress
//! (requests received, rate, failures) and ends with a summary and one sample payload of each
//! stream exactly as the receiver got it.

use std::io::Write;
use std::time::{Duration, Instant};

use pipeline_core::Registry;
use pipeline_host::{Config, RunningTopology};

use webhook_receiver::Receiver;

/// The event template of the product documentation.
pub const EVENT_TEMPLATE: &str = include_str!("../../examples/templates/event.ftl");
/// The user template of the product documentation.
pub const USER_TEMPLATE: &str = include_str!("../../examples/templates/user.ftl");

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Records the demo source emits.
    pub count: u64,
    /// Records per second (0 = as fast as the sink takes them).
    pub rate: f64,
    /// Answer every n-th request with 503 to show retries (0 = never; each payload at most once).
    pub fail_every: u64,
    /// How often progress is printed.
    pub progress_interval: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            count: 2000,
            rate: 1000.0,
            fail_every: 50,
            progress_interval: Duration::from_millis(500),
        }
    }
}

/// What the demo observed.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    /// Requests the receiver got (including retried ones).
    pub requests: u64,
    /// Requests answered with a failure status by design.
    pub failures: u64,
    /// Distinct payloads delivered.
    pub delivered: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The first event payload received, if any.
    pub sample_event: Option<String>,
    /// The first user payload received, if any.
    pub sample_user: Option<String>,
    /// Records still waiting in the retry store at the end (discarded with the demo's state).
    pub waiting_for_retry: u64,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded receiver could not start.
    #[error("cannot start the embedded webhook receiver: {0}")]
    Receiver(std::io::Error),
    /// The embedded pipeline config was refused (a bug: the demo's own config).
    #[error("the demo pipeline config was refused: {0}")]
    Config(pipeline_core::ConfigError),
    /// The pipeline failed to start or run.
    #[error("the demo pipeline failed: {0}")]
    Pipeline(String),
    /// Writing progress failed.
    #[error("cannot write progress: {0}")]
    Output(std::io::Error),
}

/// The demo's pipeline config aimed at `url`, keeping its state under `data_dir`.
pub fn pipeline_config(url: &str, options: &DemoOptions, data_dir: &std::path::Path) -> String {
    format!(
        r#"data_dir = {data_dir:?}

[sources.amplitude]
type = "demo"
count = {count}
rate = {rate:?}

[transforms.no_page_views]
type = "filter"
inputs = ["amplitude"]
condition = {{ not = {{ field = "event_type", op = "is", value = "Page Viewed" }} }}

[sinks.hook]
type = "webhook"
inputs = ["no_page_views"]
url = "{url}"
headers = {{ X-Demo = "webhook-sink" }}

[sinks.hook.events]
template = '''{event}'''

[sinks.hook.users]
template = '''{user}'''

[sinks.hook.retry]
tries = 5
initial_backoff = "20ms"
schedule = ["200ms", "500ms", "1s"]
"#,
        count = options.count,
        rate = options.rate,
        event = EVENT_TEMPLATE,
        user = USER_TEMPLATE,
    )
}

/// Runs the demo, printing progress and the summary to `out`.
pub async fn run(options: DemoOptions, out: &mut impl Write) -> Result<DemoSummary, DemoError> {
    let receiver = Receiver::start().await.map_err(DemoError::Receiver)?;
    receiver.fail_every(options.fail_every, 503);
    let mut registry = Registry::new();
    webhook_sink::register(&mut registry);
    // A fresh state directory: a run never sees an earlier run's retry store.
    let data_dir = std::env::temp_dir().join(format!(
        "webhook-sink-demo-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    let text = pipeline_config(&receiver.url(), &options, &data_dir);
    let config = Config::from_toml_str(&text, &registry).map_err(DemoError::Config)?;
    let mut result = run_pipeline(config, &receiver, &options, out).await;
    // Say so when records still wait for a retry: the state directory only served this run.
    let store = webhook_sink::retry::dead_letters::DeadLetters::open(&data_dir.join("hook"));
    let waiting = store.and_then(|store| store.waiting()).unwrap_or(0);
    if let Ok(summary) = &mut result {
        summary.waiting_for_retry = waiting;
        if waiting > 0 {
            writeln!(
                out,
                "\nnote: {waiting} record(s) were still waiting for a retry; they are discarded with the demo's temporary state"
            )
            .map_err(DemoError::Output)?;
        }
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn run_pipeline(
    config: Config,
    receiver: &Receiver,
    options: &DemoOptions,
    out: &mut impl Write,
) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    writeln!(
        out,
        "webhook-sink demo: {} synthetic Amplitude records -> filter (no page views) -> webhook sink -> {}",
        options.count,
        receiver.url()
    )
    .map_err(DemoError::Output)?;
    let topology = RunningTopology::start(config)
        .await
        .map_err(|e| DemoError::Pipeline(e.to_string()))?;
    let wait = topology.wait();
    tokio::pin!(wait);
    let mut ticker = tokio::time::interval(options.progress_interval);
    let mut last = (Instant::now(), 0u64);
    let result = loop {
        tokio::select! {
            result = &mut wait => break result,
            _ = ticker.tick() => {
                let count = receiver.count();
                let rate = (count - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
                last = (Instant::now(), count);
                write!(
                    out,
                    "\r  requests {count:>7}   rate {rate:>8.0}/s   failures answered {:>5}   ",
                    receiver.failures()
                )
                .map_err(DemoError::Output)?;
                out.flush().map_err(DemoError::Output)?;
            }
        }
    };
    result.map_err(|e| DemoError::Pipeline(e.to_string()))?;
    let elapsed = started.elapsed();

    let received = receiver.received();
    let failures = receiver.failures();
    let mut bodies: Vec<&[u8]> = received.iter().map(|r| r.body.as_ref()).collect();
    bodies.sort_unstable();
    bodies.dedup();
    let text = |body: &bytes::Bytes| String::from_utf8_lossy(body).into_owned();
    let sample_event = received
        .iter()
        .find(|r| r.body.windows(8).any(|w| w == b"\"name\" :"))
        .map(|r| text(&r.body));
    let sample_user = received
        .iter()
        .find(|r| !r.body.windows(8).any(|w| w == b"\"name\" :"))
        .map(|r| text(&r.body));
    let summary = DemoSummary {
        requests: received.len() as u64,
        failures,
        delivered: bodies.len() as u64,
        elapsed,
        sample_event,
        sample_user,
        waiting_for_retry: 0,
    };
    writeln!(
        out,
        "\n\ndone in {:.1} s: {} requests, {} distinct payloads delivered, {} answered 503 on purpose and retried",
        elapsed.as_secs_f64(),
        summary.requests,
        summary.delivered,
        summary.failures
    )
    .map_err(DemoError::Output)?;
    for (title, sample) in [
        ("event", &summary.sample_event),
        ("user", &summary.sample_user),
    ] {
        if let Some(sample) = sample {
            writeln!(out, "\na sample {title} payload as received:\n{sample}")
                .map_err(DemoError::Output)?;
        }
    }
    Ok(summary)
}

/// Arguments of `webhook-sink demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many synthetic Amplitude records the demo source emits.
    #[arg(long, default_value_t = 2000)]
    pub count: u64,
    /// Records per second (0 = as fast as the webhook takes them).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Have the receiver answer every n-th request with 503, to show retries (0 = never).
    #[arg(long, default_value_t = 50)]
    pub fail_every: u64,
}

/// Runs `webhook-sink demo` on a fresh runtime, printing to standard output.
pub fn execute(args: DemoArgs) -> std::process::ExitCode {
    let runtime = match super::runtime::build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let options = DemoOptions {
        count: args.count,
        rate: args.rate,
        fail_every: args.fail_every,
        ..DemoOptions::default()
    };
    let mut out = std::io::stdout();
    match runtime.block_on(run(options, &mut out)) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
