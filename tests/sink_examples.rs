//! Every example under `examples/` is exercised: its config validates with the host, and it does
//! what its comment says against a local receiver (or, for stdin, through `preview`).

mod support;

use std::time::Duration;

use pipeline_core::Registry;
use pipeline_host::{Config, RunningTopology};
use serde_json::Value;
use support::Receiver;

fn registry() -> Registry {
    let mut registry = Registry::new();
    webhook_sink::register(&mut registry);
    registry
}

/// The example's text aimed at `url`, keeping state in `data_dir`, without its fixed `[api]` port.
fn example_aimed_at(path: &str, url: &str, data_dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text
        .replace("http://127.0.0.1:8080/webhook", url)
        .replace("data_dir = \"./data\"", &format!("data_dir = {data_dir:?}"));
    text.replace("[api]\naddress = \"127.0.0.1:9598\"\n", "")
}

#[test]
fn every_example_config_validates() {
    for path in [
        "examples/stdin-to-webhook.toml",
        "examples/amplitude-to-webhook.toml",
        "examples/sdk-to-webhook.toml",
    ] {
        if let Err(error) = Config::from_path(std::path::Path::new(path), &registry()) {
            panic!("{path}: {error}");
        }
    }
}

#[test]
fn the_stdin_example_previews_its_golden_output() {
    let text = std::fs::read_to_string("examples/stdin-to-webhook.toml").unwrap();
    let sink = webhook_sink::prepare::preview::sink_config(&text, "hook").unwrap();
    let input = std::fs::read("examples/events.ndjson").unwrap();
    let mut out = Vec::new();
    webhook_sink::prepare::preview::run(&sink, input.as_slice(), &mut out).unwrap();
    let golden_path = "examples/expected/stdin-to-webhook.preview";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, &out).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), golden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_amplitude_example_sends_selected_events_and_users_with_emails() {
    let receiver = Receiver::start().await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let text = example_aimed_at(
        "examples/amplitude-to-webhook.toml",
        &receiver.url(),
        data_dir.path(),
    )
    .replace("count = 1000\nrate = 200", "count = 400\nrate = 0");
    // Its template paths are relative to its own directory.
    let config =
        Config::from_toml_str_in(&text, &registry(), std::path::Path::new("examples")).unwrap();
    let topology = RunningTopology::start(config).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), topology.wait())
        .await
        .expect("the pipeline finishes")
        .unwrap();

    let received = receiver.received();
    assert!(received.len() > 50, "{} requests", received.len());
    let (mut events, mut users) = (0, 0);
    for request in &received {
        assert_eq!(request.headers["x-team"], "growth");
        let body: Value = serde_json::from_slice(&request.body).expect("templates give JSON");
        assert!(
            body["time"].as_str().is_some_and(|t| t.len() == 23),
            "{body}"
        );
        match body.get("name").and_then(Value::as_str) {
            Some(name) => {
                events += 1;
                assert!(name == "Purchase" || name == "click event", "{body}");
            }
            None => {
                users += 1;
                assert!(
                    body["properties"]["email"]
                        .as_str()
                        .is_some_and(|e| e.contains('@')),
                    "{body}"
                );
            }
        }
    }
    assert!(events > 0 && users > 0, "events {events}, users {users}");
}
