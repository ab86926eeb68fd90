//! `/health` through the real binary: healthy once serving; degraded (still 200) while the
//! webhook fails and the circuit is open, healthy again when it recovers; 503 while draining
//! after SIGTERM; 503 with the component named when a component failed.

mod host_support;
mod support;

use std::time::Duration;

use host_support::{
    collect, free_port, http_get, kill, signal, wait_exit, wait_until, write_events, Workspace,
};
use serde_json::Value;
use support::{Receiver, Reply};

fn pipeline(api: u16, url: &str, extra: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{api}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
[sinks.hook.events]
template = '{{"n": ${{input.n?c}}}}'
[sinks.hook.users]
enabled = false
[sinks.hook.retry]
initial_backoff = "20ms"
attempts = 9
window = "10s"
[sinks.hook.circuit]
probe_interval = "100ms"
max_probe_interval = "200ms"
{extra}
"#
    )
}

/// `/health`'s status code and JSON body (`None` while nothing answers).
fn health(api: u16) -> Option<(u16, Value)> {
    let (status, body) = http_get(api, "/health")?;
    Some((status, serde_json::from_str(&body).ok()?))
}

/// The component `id`'s entry in a `/health` body.
fn component<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["components"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no component {id} in {report}"))
}

#[test]
fn a_failing_webhook_degrades_the_sink_and_the_host_keeps_serving() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let api = free_port();
    let workspace = Workspace::with_config(&pipeline(api, &receiver.url(), ""));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));

    let healthy = |api| {
        health(api).is_some_and(|(code, report)| code == 200 && report["status"] == "healthy")
    };
    assert!(wait_until(Duration::from_secs(10), || healthy(api)));
    let (_, report) = health(api).unwrap();
    assert_eq!(report["serving"], true);
    assert_eq!(report["phase"], "serving");
    assert_eq!(component(&report, "hook")["kind"], "sink");
    assert_eq!(component(&report, "in")["status"], "healthy");

    receiver.set_default(Reply::Status(503));
    write_events(&mut child, 0..50);
    let degraded = wait_until(Duration::from_secs(15), || {
        health(api).is_some_and(|(code, report)| code == 200 && report["status"] == "degraded")
    });
    assert!(
        degraded,
        "the sink never showed degraded: {:?}",
        health(api)
    );
    let (_, report) = health(api).unwrap();
    let hook = component(&report, "hook");
    assert_eq!(hook["status"], "degraded");
    let reason = hook["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("circuit open for events"), "{reason}");
    assert_eq!(report["serving"], true, "degraded still serves");

    receiver.set_default(Reply::Status(200));
    assert!(
        wait_until(Duration::from_secs(15), || healthy(api)),
        "the sink stayed degraded after the webhook recovered: {:?}\n{}",
        health(api),
        http_get(api, "/metrics")
            .map(|(_, text)| text)
            .unwrap_or_default()
    );
    kill(child, stderr);
}

#[test]
fn draining_answers_503() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.set_default(Reply::Hang);
    let api = free_port();
    let workspace = Workspace::with_config(&pipeline(api, &receiver.url(), ""));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    assert!(wait_until(Duration::from_secs(10), || {
        health(api).is_some_and(|(code, _)| code == 200)
    }));
    write_events(&mut child, 0..3);
    assert!(runtime.block_on(receiver.wait_for(1, Duration::from_secs(10))));

    // The webhook holds the requests: after SIGTERM the host drains, and says so.
    signal(&child, "TERM");
    let draining = wait_until(Duration::from_secs(5), || {
        health(api).is_some_and(|(code, report)| code == 503 && report["phase"] == "draining")
    });
    assert!(draining, "no 503 while draining: {:?}", health(api));
    receiver.set_default(Reply::Status(200));
    receiver.release();
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{}",
        kill(child, stderr)
    );
}

#[test]
fn a_failed_component_makes_the_host_unhealthy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    // A second source whose address is taken: it fails at start; the rest keeps running.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let extra =
        format!("[sources.api]\ntype = \"amplitude_http\"\naddress = \"127.0.0.1:{port}\"\n");
    let api = free_port();
    let text = pipeline(api, &receiver.url(), &extra)
        .replace("inputs = [\"in\"]", "inputs = [\"in\", \"api\"]");
    let workspace = Workspace::with_config(&text);
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let failed = wait_until(Duration::from_secs(10), || {
        health(api).is_some_and(|(code, report)| code == 503 && report["status"] == "failed")
    });
    assert!(failed, "{:?}", health(api));
    let (_, report) = health(api).unwrap();
    assert_eq!(report["serving"], false);
    let source = component(&report, "api");
    assert_eq!(
        (&source["kind"], &source["status"]),
        (&"source".into(), &"failed".into())
    );
    assert_eq!(component(&report, "hook")["status"], "healthy");
    // The other source still delivers.
    write_events(&mut child, 0..5);
    assert!(runtime.block_on(receiver.wait_for(5, Duration::from_secs(10))));
    drop(taken);
    kill(child, stderr);
}
