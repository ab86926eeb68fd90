//! `webhook-sink demo` as a library call: the pipeline runs against its embedded receiver and
//! every payload arrives once, including those first answered 503.

use std::time::Duration;

use webhook_sink::demo::{self, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_delivers_everything_and_shows_samples_of_both_streams() {
    let options = DemoOptions {
        count: 300,
        rate: 0.0,
        fail_every: 10,
        progress_interval: Duration::from_millis(100),
    };
    let mut out = Vec::new();
    let summary = tokio::time::timeout(Duration::from_secs(20), demo::run(options, &mut out))
        .await
        .expect("the demo finishes")
        .expect("the demo runs");
    let text = String::from_utf8(out).unwrap();

    assert!(summary.failures > 0, "some requests were answered 503");
    // Every 503 cost one extra request; every other request delivered a distinct payload.
    assert_eq!(summary.requests - summary.failures, summary.delivered);
    assert_eq!(
        summary.waiting_for_retry, 0,
        "nothing left waiting for a retry"
    );
    assert!(summary.delivered > 300, "events and users: {summary:?}");
    let event: serde_json::Value =
        serde_json::from_str(summary.sample_event.as_deref().unwrap()).unwrap();
    assert!(event["name"].is_string() && event["time"].is_string());
    let user: serde_json::Value =
        serde_json::from_str(summary.sample_user.as_deref().unwrap()).unwrap();
    assert!(user.get("name").is_none() && user["time"].is_string());
    assert!(text.contains("requests"), "{text}");
    assert!(
        text.contains("a sample event payload as received:"),
        "{text}"
    );
    assert!(
        text.contains("a sample user payload as received:"),
        "{text}"
    );
}
