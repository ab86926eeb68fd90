//! `examples/grafana-dashboard.json` against Debian's real `prometheus`: it scrapes a running
//! host on loopback, and every PromQL expression of the dashboard returns data through
//! Prometheus's query API; the delivered count matches what the webhook received.

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use host_support::{
    collect, free_port, http_get, kill, scrape, test_events, wait_until, Workspace,
};
use serde_json::Value;
use support::{numbers, Receiver, Reply};

const EVENTS: u32 = 300;
const BROKEN: u32 = 10;
/// The webhook's first answers are 503.
const REFUSED: usize = 8;

fn pipeline(api: u16, url: &str) -> String {
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
[sinks.hook.retry]
initial_backoff = "20ms"
"#
    )
}

/// Debian's Prometheus, scraping `target` every second, on `port`; a missing binary fails.
fn start_prometheus(dir: &std::path::Path, port: u16, target: u16) -> Child {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: webhook-sink\n    static_configs:\n      \
             - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("these tests need Debian's `prometheus` (apt-get install prometheus); .ci/run installs it")
}

/// `query` through Prometheus's instant-query API: its result vector.
fn query(port: u16, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/query?query={}", percent_encode(query));
    let Some((200, body)) = http_get(port, &path) else {
        return Vec::new();
    };
    let answer: Value = serde_json::from_str(&body).unwrap_or_default();
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sum of a result vector's values.
fn total(result: &[Value]) -> f64 {
    result
        .iter()
        .filter_map(|series| series["value"][1].as_str()?.parse::<f64>().ok())
        .sum()
}

/// Every target expression of the dashboard, with its panel's title, for sink `sink`.
fn dashboard_queries(sink: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/grafana-dashboard.json"
    ))
    .expect("examples/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        assert!(
            panel["datasource"]["uid"] == "${datasource}",
            "panel {title} does not use the datasource variable"
        );
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expr");
            queries.push((title.clone(), expr.replace("$sink", sink)));
        }
    }
    queries
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.script(std::iter::repeat_n(Reply::Status(503), REFUSED));
    let api = free_port();
    let workspace = Workspace::with_config(&pipeline(api, &receiver.url()));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    {
        let stdin = child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(test_events(0..EVENTS).as_bytes()).unwrap();
        for i in 0..BROKEN {
            writeln!(stdin, r#"{{"event_type":"Broken","user_id":"b{i}"}}"#).unwrap();
        }
        stdin.flush().unwrap();
    }
    let hook = [("component_id", "hook"), ("stream", "events")];
    assert!(wait_until(Duration::from_secs(60), || {
        scrape(
            api,
            "webhook_deliveries_total",
            &[hook[0], hook[1], ("outcome", "first_attempt")],
        ) + scrape(
            api,
            "webhook_deliveries_total",
            &[hook[0], hook[1], ("outcome", "after_retry")],
        ) == f64::from(EVENTS)
    }));
    let received: BTreeSet<u64> = numbers(&receiver).into_iter().collect();
    assert_eq!(received.len(), EVENTS as usize);

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut prometheus = start_prometheus(dir.path(), port, api);
    let prometheus_log = collect(prometheus.stderr.take().expect("piped stderr"));
    let queries = dashboard_queries("hook");
    assert!(queries.len() >= 14, "the dashboard lost panels");
    // Rates over [1m] need two scrapes: wait for every query to have data, then name those
    // that never did.
    let without_data = || -> Vec<String> {
        queries
            .iter()
            .filter(|(_, expr)| query(port, expr).is_empty())
            .map(|(title, expr)| format!("{title}: {expr}"))
            .collect()
    };
    wait_until(Duration::from_secs(60), || without_data().is_empty());
    let empty = without_data();
    let (_, delivered) = queries
        .iter()
        .find(|(title, _)| title == "Delivered")
        .expect("a Delivered panel");
    let delivered = total(&query(port, delivered));
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(
        empty.is_empty(),
        "queries without data: {empty:#?}\n{}",
        prometheus_log.join().unwrap_or_default()
    );
    // Every payload delivered (events and users) is one request the webhook answered 200.
    let answered_ok = receiver.received().len() - REFUSED;
    assert_eq!(delivered, answered_ok as f64);
    kill(child, stderr);
}
