//! The sink's metrics as Prometheus shows them: component counters and the `webhook_*` series.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use support::{acked_batch, start_sink, start_sink_as, Receiver, Reply};

/// The process's recorder, installed once for all tests here (each test uses its own component id).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| pipeline_host::install_prometheus_recorder().expect("recorder installs"))
}

/// Waits up to `limit` for the series to read `expected`; returns the last value seen.
async fn settles(
    name: &str,
    labels: &[(&str, &str)],
    expected: f64,
    limit: Duration,
) -> Option<f64> {
    let started = Instant::now();
    loop {
        let seen = value(&recorder().render(), name, labels);
        if seen == Some(expected) || started.elapsed() > limit {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the first series named `name` whose labels include every `labels` pair.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn deliveries_retries_and_discards_are_counted() {
    let handle = recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Status(503)]);
    let config = format!("url = \"{}\"\n[users]\nenabled = false\n", receiver.url());
    let sink = start_sink(&config, 4);
    let (batch, ack) = acked_batch(vec![
        json!({"event_type": "a"}),
        json!({"event_type": "b"}),
        json!({"event_type": "$groupidentify"}),
    ]);
    sink.input.send(batch).await.unwrap();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    ack.await;

    let text = handle.render();
    let sink_labels = [("component_id", "hook"), ("component_kind", "sink")];
    let events = [("component_id", "hook"), ("stream", "events")];
    // Received events are the host's to count (it counts them for every sink); a sink that
    // counted them too would double them in a pipeline (see tests/store_cli.rs).
    assert_eq!(
        value(&text, "component_received_events_total", &sink_labels),
        None
    );
    assert_eq!(
        value(
            &text,
            "component_discarded_events_total",
            &[("component_id", "hook"), ("intentional", "true")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "component_sent_events_total", &events),
        Some(2.0)
    );
    assert_eq!(
        value(&text, "component_sent_event_bytes_total", &events),
        Some(r#"{"event_type":"a"}{"event_type":"b"}"#.len() as f64)
    );
    assert_eq!(
        value(
            &text,
            "webhook_requests_total",
            &[
                ("component_id", "hook"),
                ("stream", "events"),
                ("status", "503")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "webhook_requests_total",
            &[
                ("component_id", "hook"),
                ("stream", "events"),
                ("status", "200")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "webhook_deliveries_total",
            &[
                ("component_id", "hook"),
                ("stream", "events"),
                ("outcome", "first_attempt")
            ]
        ),
        Some(2.0)
    );
    // Three answered tries of 18-byte bodies, the 503 included.
    assert_eq!(
        value(
            &text,
            "component_sent_bytes_total",
            &[("component_id", "hook"), ("protocol", "http")]
        ),
        Some(54.0)
    );
    assert!(text.contains("webhook_request_duration_seconds"), "{text}");
    assert!(text.contains("webhook_delivery_latency_seconds"), "{text}");
}

#[tokio::test]
async fn counts_show_while_the_sink_runs_and_a_timed_out_try_is_no_longer_in_flight() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Hang]);
    let config = format!(
        "url = \"{}\"\n[users]\nenabled = false\n[request]\ntimeout = \"300ms\"\n[retry]\ninitial_backoff = \"10ms\"\n",
        receiver.url()
    );
    let sink = start_sink_as("live", &config, 4);
    let records = (0..6).map(|n| json!({"event_type": "e", "n": n})).collect();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    ack.await;

    // The sink still runs (its input is open): the lanes' tallies reach the metrics on their own.
    let events = [("component_id", "live"), ("stream", "events")];
    let wait = Duration::from_secs(2);
    assert_eq!(
        settles("component_sent_events_total", &events, 6.0, wait).await,
        Some(6.0)
    );
    let timeouts = [("component_id", "live"), ("status", "timeout")];
    assert_eq!(
        settles("webhook_requests_total", &timeouts, 1.0, wait).await,
        Some(1.0)
    );
    // The try the timeout gave up on left the in-flight gauge, as the answered ones did.
    assert_eq!(
        settles("webhook_in_flight_requests", &events, 0.0, wait).await,
        Some(0.0)
    );

    receiver.release();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}
