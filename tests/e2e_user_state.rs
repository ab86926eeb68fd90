//! End to end with the official Amplitude Python SDK through the `user_state` transform:
//! `amplitude_http` source -> `user_state` -> two webhook sinks, one with the templates the
//! product documentation gives (examples/templates/), one with the default payloads.
//!
//! Proves that user-property operations sent with `identify()` (`$set`, `$setOnce`, `$add`) and
//! `set_group()` are resolved into user state that later events carry although they send no user
//! properties of their own: the documented event template renders the user's email, user payloads
//! hold the resolved properties and groups (never the raw operations), each record exactly once.
//! Then the binary is SIGKILLed and started again on the same `data_dir`: the state survived, and
//! an `$add` continues from the counter's value before the kill.
//!
//! Fails when the SDK is missing and `pip install` cannot get it (`scripts/test-deps.sh`
//! installs it).

mod host_support;

use host_support::sdk::{run_plan, sdk_available, Host};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use host_support::{free_port, scrape, Workspace};
use serde_json::{json, Value};
use webhook_receiver::Receiver;

const API_KEY: &str = "user-state-key-1";
const USER: &str = "user-00001";
const DEVICE: &str = "device-00001";
const EMAIL: &str = "ada@example.com";

/// The pipeline, listening on `source_port` (its API on `api_port`), with `data_dir` already
/// substituted.
fn config(data_dir: &Path, source_port: u16, api_port: u16, hook: &str) -> String {
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/templates");
    format!(
        r#"
data_dir = "{data_dir}"

[api]
address = "127.0.0.1:{api_port}"

[sources.amplitude]
type = "amplitude_http"
address = "127.0.0.1:{source_port}"
api_keys = ["{API_KEY}"]

[transforms.users]
type = "user_state"
inputs = ["amplitude"]

[sinks.templated]
type = "webhook"
inputs = ["users"]
url = "{hook}/templated"

[sinks.templated.events]
template_file = "{templates}/event.ftl"

[sinks.templated.users]
template_file = "{templates}/user.ftl"

[sinks.templated.acknowledgements]
enabled = true

[sinks.default]
type = "webhook"
inputs = ["users"]
url = "{hook}/default"

[sinks.default.acknowledgements]
enabled = true
"#,
        data_dir = data_dir.display()
    )
}

/// Every insert id of `plan`, each reported once with 200.
fn all_accepted(plan: &Value) -> BTreeMap<String, Vec<u16>> {
    plan.as_array()
        .into_iter()
        .flatten()
        .flat_map(|step| step.as_array().into_iter().flatten())
        .filter_map(|action| action.as_object()?.values().next()?["insert_id"].as_str())
        .map(|id| (id.to_string(), vec![200]))
        .collect()
}

fn track(insert_id: &str, event_type: &str) -> Value {
    json!({"track": {
        "event_type": event_type, "insert_id": insert_id, "user_id": USER, "device_id": DEVICE,
        "event_properties": {"source": "e2e"},
    }})
}

/// The JSON bodies the receiver got on `path`, after skipping the first `skip` of them.
fn bodies_on(receiver: &Receiver, path: &str, skip: usize) -> Vec<Value> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .skip(skip)
        .map(|r| serde_json::from_slice(&r.body).expect("payload is JSON"))
        .collect()
}

/// Splits payloads into (events, users), each in event-time order. A step of the plan starts
/// only after the previous one was acknowledged, so time order is step order.
fn split_by_stream(payloads: Vec<Value>, time_field: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut events, mut users): (Vec<Value>, Vec<Value>) = payloads
        .into_iter()
        .partition(|p| p.get("event_type").is_some() || p.get("name").is_some());
    // Within a step, times may tie: the insert id (where there is one) settles the order.
    let key = |p: &Value| {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        (text(&p[time_field]), text(&p["$insert_id"]))
    };
    events.sort_by_key(key);
    users.sort_by_key(key);
    (events, users)
}

/// `(user_properties, groups)` of each payload.
fn states(payloads: &[Value]) -> Vec<(Value, Value)> {
    payloads
        .iter()
        .map(|p| (p["user_properties"].clone(), p["groups"].clone()))
        .collect()
}

/// The templated payloads' `properties.email`.
fn emails(payloads: &[Value]) -> Vec<&str> {
    payloads
        .iter()
        .map(|p| p["properties"]["email"].as_str().unwrap_or("<missing>"))
        .collect()
}

/// Writes the config for `source_port` into `workspace` and starts the binary on it.
async fn start(workspace: &Workspace, source_port: u16, api_port: u16, hook: &str) -> Host {
    let data_dir = workspace.dir.path().join("data");
    std::fs::write(
        workspace.config_path(),
        config(&data_dir, source_port, api_port, hook),
    )
    .expect("write config");
    Host::start(workspace, source_port).await
}

/// Runs the SDK driver on `plan` against the source on `source_port`.
async fn run_sdk(source_port: u16, plan: &Value) -> BTreeMap<String, Vec<u16>> {
    run_plan(
        format!("http://127.0.0.1:{source_port}/2/httpapi"),
        API_KEY,
        plan,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_operations_become_user_state_that_events_carry_and_a_kill_keeps() {
    assert!(
        sdk_available(),
        "the Amplitude Python SDK is not installed and `python3 -m pip install \
         amplitude-analytics` failed (scripts/test-deps.sh installs it)"
    );
    let receiver = Receiver::start().await.expect("start the webhook receiver");
    let hook = format!("http://{}", receiver.addr());
    let workspace = Workspace::with_config("");
    let port = free_port();
    let host = start(&workspace, port, free_port(), &hook).await;

    // Before the kill: identify, events, a second identify, a group, more events.
    let plan = json!([
        [{"identify": {
            "insert_id": "identify-1", "user_id": USER, "device_id": DEVICE,
            "set": {"email": EMAIL, "plan": "pro"},
            "set_once": {"first_seen": "2024-01-01"},
            "add": {"logins": 1},
        }}],
        [track("ev-1", "Purchase"), track("ev-2", "click event"), track("ev-3", "Purchase")],
        [{"identify": {
            "insert_id": "identify-2", "user_id": USER, "device_id": DEVICE,
            "set_once": {"first_seen": "2099-12-31"},
            "add": {"logins": 5},
        }}],
        [{"set_group": {
            "insert_id": "group-1", "user_id": USER, "device_id": DEVICE,
            "group_type": "org", "group_name": "acme",
        }}],
        [track("ev-4", "click event"), track("ev-5", "Purchase")],
    ]);
    assert_eq!(run_sdk(port, &plan).await, all_accepted(&plan));
    // 5 events (event + user payload each) and 3 identifies (user payload only), per sink.
    let before_kill = 5 * 2 + 3;
    assert!(
        receiver
            .wait_for(2 * before_kill as u64, Duration::from_secs(10))
            .await,
        "payloads before the kill: {}",
        receiver.count()
    );

    let after_first = json!({
        "email": EMAIL, "plan": "pro", "first_seen": "2024-01-01", "logins": 1,
    });
    let after_add = json!({
        "email": EMAIL, "plan": "pro", "first_seen": "2024-01-01", "logins": 6,
    });
    let after_group = json!({
        "email": EMAIL, "plan": "pro", "first_seen": "2024-01-01", "logins": 6, "org": "acme",
    });
    let no_groups = json!({});
    let acme = json!({"org": "acme"});

    // Default payloads: the resolved state, in step order.
    let default = bodies_on(&receiver, "/default", 0);
    assert_eq!(default.len(), before_kill, "default payloads: {default:#?}");
    let (events, users) = split_by_stream(default, "event_time");
    let insert_ids: Vec<&str> = events
        .iter()
        .map(|e| e["$insert_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(insert_ids, ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5"]);
    assert_eq!(
        states(&events),
        [
            (after_first.clone(), no_groups.clone()),
            (after_first.clone(), no_groups.clone()),
            (after_first.clone(), no_groups.clone()),
            (after_group.clone(), acme.clone()),
            (after_group.clone(), acme.clone()),
        ],
        "event payloads' user_properties and groups"
    );
    assert_eq!(
        states(&users),
        [
            (after_first.clone(), no_groups.clone()), // identify-1
            (after_first.clone(), no_groups.clone()), // ev-1..ev-3
            (after_first.clone(), no_groups.clone()),
            (after_first.clone(), no_groups.clone()),
            (after_add.clone(), no_groups.clone()), // identify-2
            (after_group.clone(), acme.clone()),    // group-1
            (after_group.clone(), acme.clone()),    // ev-4, ev-5
            (after_group.clone(), acme.clone()),
        ],
        "user payloads' user_properties and groups"
    );
    assert!(users.iter().all(|u| u["user_id"] == USER), "{users:#?}");

    // Templated payloads: the documented templates render the email the events never sent.
    let templated = bodies_on(&receiver, "/templated", 0);
    assert_eq!(templated.len(), before_kill, "templated: {templated:#?}");
    let (events, users) = split_by_stream(templated, "time");
    assert_eq!(emails(&events), [EMAIL; 5], "templated events: {events:#?}");
    assert!(events.iter().all(|e| e["external_id"] == USER));
    assert_eq!(emails(&users), [EMAIL; 8], "templated users: {users:#?}");
    assert!(users
        .iter()
        .all(|u| u["external_id"] == USER && u["device_id"] == DEVICE));

    // SIGKILL: no drain, no shutdown hook. The state must already be on disk.
    let (status, _) = host.stop("KILL").await;
    assert!(status.is_some(), "the binary survived SIGKILL");
    let port = free_port();
    let api_port = free_port();
    let host = start(&workspace, port, api_port, &hook).await;

    let plan = json!([
        [track("ev-6", "click event")],
        [{"identify": {
            "insert_id": "identify-3", "user_id": USER, "device_id": DEVICE,
            "add": {"logins": 2},
        }}],
        [track("ev-7", "Purchase")],
    ]);
    assert_eq!(run_sdk(port, &plan).await, all_accepted(&plan));
    let after_restart = 2 * 2 + 1;
    assert!(
        receiver
            .wait_for(
                2 * (before_kill + after_restart) as u64,
                Duration::from_secs(10)
            )
            .await,
        "payloads after the restart: {}",
        receiver.count()
    );
    // The restarted transform counts the user it found on disk (the device is its alias), read
    // it from the store once, and answered the later events from memory.
    let users = [("component_id", "users")];
    assert_eq!(scrape(api_port, "user_state_users_tracked", &users), 1.0);
    assert_eq!(
        scrape(api_port, "user_state_cache_misses_total", &users),
        2.0
    );
    assert!(scrape(api_port, "user_state_cache_hits_total", &users) >= 4.0);
    assert!(scrape(api_port, "user_state_store_seconds_count", &users) >= 3.0);
    let (status, log) = host.stop("TERM").await;
    assert!(
        status.is_some_and(|s| s.success()),
        "binary did not exit cleanly: {log}"
    );

    let after_restart_add = json!({
        "email": EMAIL, "plan": "pro", "first_seen": "2024-01-01", "logins": 8, "org": "acme",
    });
    let default = bodies_on(&receiver, "/default", before_kill);
    assert_eq!(
        default.len(),
        after_restart,
        "default payloads: {default:#?}"
    );
    let (events, users) = split_by_stream(default, "event_time");
    assert_eq!(
        states(&events),
        [
            (after_group.clone(), acme.clone()),       // ev-6
            (after_restart_add.clone(), acme.clone()), // ev-7
        ],
        "event payloads after the restart: {events:#?}"
    );
    assert_eq!(
        states(&users),
        [
            (after_group.clone(), acme.clone()),       // ev-6
            (after_restart_add.clone(), acme.clone()), // identify-3
            (after_restart_add.clone(), acme.clone()), // ev-7
        ],
        "user payloads after the restart"
    );
    let templated = bodies_on(&receiver, "/templated", before_kill);
    assert_eq!(templated.len(), after_restart, "templated: {templated:#?}");
    let (events, users) = split_by_stream(templated, "time");
    assert_eq!(emails(&events), [EMAIL; 2]);
    assert_eq!(emails(&users), [EMAIL; 3]);
}
