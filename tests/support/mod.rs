//! Shared helpers for the sink's integration tests: a dispatch stack aimed at a local receiver.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use webhook_sink::dispatch::{
    build_client, build_stack, AttemptSettings, Concurrency, DispatchService, HttpService,
    StackSettings, Target,
};
use webhook_sink::telemetry::{HotCounts, SinkMetrics};

pub use webhook_receiver::{Receiver, Reply};

/// Stack settings with the sink's defaults (3 tries, 100 ms doubling, ±50 %, 4 s budget).
pub fn default_settings() -> StackSettings {
    StackSettings {
        timeout: Duration::from_secs(10),
        concurrency: Concurrency::Fixed(16),
        rate_limit: 0,
        attempt: AttemptSettings::default(),
    }
}

/// A dispatch stack posting to `url` with the preset headers.
pub fn stack_to(url: &str, settings: &StackSettings) -> DispatchService {
    let metrics = SinkMetrics::new("test");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static("Amplitude/Webhook/1.0"),
    );
    let target = Target {
        uri: url.parse().expect("test URL parses"),
        headers,
    };
    let http = HttpService::new(build_client(16), Arc::new(target), 16);
    build_stack(http, settings, HotCounts::direct(metrics))
}

/// A loopback URL on which nothing listens (the port was bound, then released).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/webhook")
}

use pipeline_core::{BatchNotifier, BatchStatusReceiver, Event, EventArray, StreamSink};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webhook_sink::WebhookSinkConfig;

/// A sink running on its own task, fed through a bounded channel, its retry store in a
/// temporary directory.
pub struct RunningSink {
    /// Send batches here; drop it to end the sink's input.
    pub input: mpsc::Sender<EventArray>,
    /// Resolves when the sink finished draining.
    pub done: JoinHandle<Result<(), ()>>,
    /// Holds the store's directory (`data/<id>/`) for as long as the test needs it.
    pub data: tempfile::TempDir,
}

/// Starts a `webhook` sink configured by `config` (the `[sinks.ID]` table as TOML).
pub fn start_sink(config: &str, channel_capacity: usize) -> RunningSink {
    start_sink_as("hook", config, channel_capacity)
}

/// [`start_sink`] with the component id `id` (its metrics' `component_id` label).
pub fn start_sink_as(id: &str, config: &str, channel_capacity: usize) -> RunningSink {
    let config = WebhookSinkConfig::from_toml_str(config).expect("test config is valid");
    let data = tempfile::tempdir().expect("a temporary directory");
    let sink = config.build_sink(id, data.path()).expect("the sink builds");
    let (input, receiver) = mpsc::channel(channel_capacity);
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let sink: Box<dyn StreamSink> = Box::new(sink);
    let done = tokio::spawn(async move { sink.run(Box::pin(stream)).await });
    RunningSink { input, done, data }
}

/// An event with the given JSON fields.
pub fn event(fields: Value) -> Event {
    match fields {
        Value::Object(map) => Event::new(map),
        other => panic!("an event must be a JSON object, got {other}"),
    }
}

/// A batch of events sharing one acknowledgement receiver.
pub fn acked_batch(records: Vec<Value>) -> (EventArray, BatchStatusReceiver) {
    let (notifier, receiver) = BatchNotifier::new_with_receiver();
    let batch = records
        .into_iter()
        .map(|fields| event(fields).with_batch_notifier(&notifier))
        .collect();
    (batch, receiver)
}

/// The received bodies as strings, in arrival order.
pub fn bodies(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

/// A JSON object's text with its keys in the given order.
pub fn json_text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

/// The `n` field of every request body the receiver got, in arrival order.
pub fn numbers(receiver: &Receiver) -> Vec<u64> {
    receiver
        .received()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|body| body["n"].as_u64())
        .collect()
}
