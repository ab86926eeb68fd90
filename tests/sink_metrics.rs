//! The sink's metrics as Prometheus shows them: component counters and the `webhook_*` series.

mod support;

use serde_json::json;
use support::{acked_batch, start_sink, Receiver, Reply};

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
    let handle = pipeline_host::install_prometheus_recorder().unwrap();
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
            &[("stream", "events"), ("status", "503")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "webhook_requests_total",
            &[("stream", "events"), ("status", "200")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "webhook_deliveries_total",
            &[("stream", "events"), ("outcome", "first_attempt")]
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
