//! Shared helpers for the sink's integration tests: a dispatch stack aimed at a local receiver.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use webhook_sink::dispatch::{
    build_client, build_stack, AttemptSettings, Concurrency, DispatchService, HttpService,
    StackSettings, Target,
};
use webhook_sink::telemetry::SinkMetrics;

pub use webhook_sink::receiver::{Receiver, Reply};

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
    let http = HttpService::new(build_client(16), Arc::new(target), Arc::clone(&metrics));
    build_stack(http, settings, metrics)
}

/// A loopback URL on which nothing listens (the port was bound, then released).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/webhook")
}
