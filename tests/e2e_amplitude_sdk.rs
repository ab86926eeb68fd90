//! End to end with the official Amplitude Python SDK (`amplitude-analytics`): the SDK's
//! `server_url` points at the real binary's `amplitude_http` source, and a local webhook
//! receiver must get every event and user payload, default and templated, exactly once.
//!
//! Fails when the SDK is missing and `pip install` cannot get it (`scripts/test-deps.sh`
//! installs it).

mod host_support;

use host_support::sdk::sdk_available;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use host_support::{collect, free_port, signal, wait_exit, wait_until, Workspace};
use serde_json::Value;
use webhook_receiver::Receiver;

const EVENTS: usize = 40;
const API_KEY: &str = "sdk-test-key-1";

fn config(source_port: u16, hook: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"

[sources.amplitude]
type = "amplitude_http"
address = "127.0.0.1:{source_port}"
api_keys = ["{API_KEY}"]

[sinks.default]
type = "webhook"
inputs = ["amplitude"]
url = "{hook}/default"

[sinks.default.acknowledgements]
enabled = true

[sinks.templated]
type = "webhook"
inputs = ["amplitude"]
url = "{hook}/templated"

[sinks.templated.events]
template = '''{{"kind":"event","type":"${{input.event_type}}","user":"${{input.user_id}}","insert_id":"${{input["$insert_id"]}}","carrier":"${{input.device_carrier}}","version":"${{input.version_name}}","at":"${{input.event_time}}"}}'''

[sinks.templated.users]
template = '''{{"kind":"user","user":"${{input.user_id}}","device":"${{input.device_id!"-"}}"}}'''

[sinks.templated.acknowledgements]
enabled = true
"#
    )
}

/// The JSON bodies the receiver got on `path`.
fn bodies_on(receiver: &Receiver, path: &str) -> Vec<Value> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| serde_json::from_slice(&r.body).expect("payload is JSON"))
        .collect()
}

/// How often each value of `key` occurs among `payloads`.
fn tally<'a>(payloads: &'a [Value], key: &str) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for payload in payloads {
        if let Some(value) = payload.get(key).and_then(Value::as_str) {
            *counts.entry(value).or_insert(0) += 1;
        }
    }
    counts
}

fn is_millisecond_time(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f").is_ok()
        && text.len() == "2024-01-01 00:00:00.000".len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_feeds_the_webhook_through_the_source() {
    assert!(
        sdk_available(),
        "the Amplitude Python SDK is not installed and `python3 -m pip install \
         amplitude-analytics` failed (scripts/test-deps.sh installs it)"
    );
    let receiver = Receiver::start().await.expect("start the webhook receiver");
    let hook = format!("http://{}", receiver.addr());
    let port = free_port();
    let workspace = Workspace::with_config(&config(port, &hook));
    let mut child = workspace.spawn_run();
    let stdout = collect(child.stdout.take().expect("stdout piped"));
    let stderr = collect(child.stderr.take().expect("stderr piped"));
    let listening = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    })
    .await
    .expect("wait task");
    assert!(listening, "the source never listened on port {port}");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/amplitude_sdk_client.py"
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(format!("http://127.0.0.1:{port}/2/httpapi"))
            .arg(API_KEY)
            .arg(EVENTS.to_string())
            .output()
    })
    .await
    .expect("SDK task")
    .expect("run the SDK client");
    let sdk_stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "SDK client failed: {sdk_stderr}");
    let codes: BTreeMap<String, Vec<u16>> =
        serde_json::from_slice(&output.stdout).expect("SDK client prints its callback codes");

    // Every request was acknowledged before its 200: the payloads are all there already.
    let per_sink = 2 * EVENTS + 1;
    assert!(
        receiver
            .wait_for(2 * per_sink as u64, Duration::from_secs(10))
            .await
    );
    signal(&child, "TERM");
    let status =
        tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(15)))
            .await
            .expect("wait task");
    let log = stderr.join().unwrap_or_default();
    let _ = stdout.join();
    assert!(
        status.is_some_and(|s| s.success()),
        "binary did not exit cleanly: {log}"
    );

    // The SDK saw one 200 per event and for the identify, never an error or a retry.
    let mut expected_codes: BTreeMap<String, Vec<u16>> = (0..EVENTS)
        .map(|i| (format!("sdk-{i}"), vec![200]))
        .collect();
    expected_codes.insert("sdk-identify".into(), vec![200]);
    assert_eq!(codes, expected_codes, "SDK callbacks; log: {sdk_stderr}");

    // Default payloads: the export-format event records, each insert id exactly once.
    let default = bodies_on(&receiver, "/default");
    assert_eq!(
        default.len(),
        per_sink,
        "default sink payloads: {default:?}"
    );
    let events: Vec<Value> = default
        .iter()
        .filter(|p| p.get("event_type").is_some())
        .cloned()
        .collect();
    let insert_ids = tally(&events, "$insert_id");
    let expected_ids: BTreeMap<String, usize> =
        (0..EVENTS).map(|i| (format!("sdk-{i}"), 1)).collect();
    let insert_ids: BTreeMap<String, usize> = insert_ids
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(insert_ids, expected_ids);
    for event in &events {
        let index = event["event_properties"]["index"].as_u64().expect("index") as usize;
        let expected_type = if index.is_multiple_of(2) {
            "Purchase"
        } else {
            "click event"
        };
        assert_eq!(event["event_type"], expected_type);
        assert_eq!(event["user_id"], format!("user-{index:05}"));
        assert_eq!(event["device_carrier"], "Acme Mobile");
        assert_eq!(event["version_name"], "3.2.1");
        let library = event["library"].as_str().unwrap_or_default();
        assert!(library.starts_with("amplitude-python/"), "{library}");
        for field in ["event_time", "client_event_time", "server_received_time"] {
            let time = event[field].as_str().unwrap_or_default();
            assert!(is_millisecond_time(time), "{field} = {time:?}");
        }
        assert_eq!(event["uuid"].as_str().map(str::len), Some(36));
    }
    // Default user payloads: one per event plus the identify, which carries its operation.
    let users: Vec<&Value> = default
        .iter()
        .filter(|p| p.get("event_type").is_none())
        .collect();
    assert_eq!(users.len(), EVENTS + 1);
    let identified: Vec<&&Value> = users
        .iter()
        .filter(|u| u["user_properties"]["$set"]["plan"] == "pro")
        .collect();
    assert_eq!(identified.len(), 1, "users: {users:?}");
    assert_eq!(identified[0]["user_id"], "user-00000");

    // Templated payloads: the same records through the sink's templates.
    let templated = bodies_on(&receiver, "/templated");
    assert_eq!(templated.len(), per_sink);
    let events: Vec<Value> = templated
        .iter()
        .filter(|p| p["kind"] == "event")
        .cloned()
        .collect();
    let ids: BTreeMap<String, usize> = tally(&events, "insert_id")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(ids, expected_ids);
    for event in &events {
        assert_eq!(event["carrier"], "Acme Mobile");
        assert_eq!(event["version"], "3.2.1");
        assert!(is_millisecond_time(
            event["at"].as_str().unwrap_or_default()
        ));
    }
    let mut user_counts = tally(&templated, "user");
    // user-00000 appears as an event, its user record and the identify's user record.
    assert_eq!(user_counts.remove("user-00000"), Some(3));
    assert_eq!(user_counts.len(), EVENTS - 1);
    assert!(user_counts.values().all(|&n| n == 2), "{user_counts:?}");
}
