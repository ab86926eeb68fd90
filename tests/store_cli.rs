//! The durable retry store through the real binary: nothing acknowledged is lost to SIGKILL,
//! a record failing every attempt ends as a dead letter that `replay` sends again, and a full
//! store with `when_full = "block"` stops the input until space frees.

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::time::Duration;

use host_support::{
    bin, collect, free_port, kill, rows, scrape, store_file, wait_until, write_events, Workspace,
};
use support::{numbers, Receiver, Reply};

/// A sink sending `{"n": N}` per event (users off), one try per attempt, nine later attempts
/// `gap` apart, plus `extra` TOML lines for the sink table.
fn sink_config(source: &str, url: &str, gap: &str, extra: &str) -> String {
    let schedule = vec![format!("{gap:?}"); 9].join(", ");
    format!(
        r#"
data_dir = "{{data_dir}}"
{source}
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
{extra}
[sinks.hook.events]
template = '{{"n": ${{input.n!0?c}}}}'
[sinks.hook.users]
enabled = false
[sinks.hook.retry]
tries = 1
schedule = [{schedule}]
"#
    )
}

const STDIN: &str = "[sources.in]\ntype = \"stdin\"";

/// `run`, with its stdin kept open by the caller and its stderr drained in the background.
fn spawn(workspace: &Workspace) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = workspace.spawn_run();
    let stderr = child.stderr.take().expect("piped stderr");
    (child, collect(stderr))
}

/// `dead-letters ARGS... --config pipeline.toml --sink hook`, which must succeed.
fn dead_letters(workspace: &Workspace, args: &[&str]) -> String {
    let output = Command::new(bin())
        .arg("dead-letters")
        .args(args)
        .arg("--config")
        .arg(workspace.config_path())
        .args(["--sink", "hook"])
        .output()
        .expect("run dead-letters");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn records_acknowledged_into_the_store_survive_sigkill() {
    const N: u32 = 300;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let workspace = Workspace::with_config(&sink_config(STDIN, &url, "1s", ""));
    let file = store_file(&workspace, "hook");

    // The receiver is down: every first attempt is refused and the record goes to the store.
    let (mut child, stderr) = spawn(&workspace);
    write_events(&mut child, 0..N);
    let stored = wait_until(Duration::from_secs(30), || {
        rows(&file, "records") == u64::from(N)
    });
    let log = kill(child, stderr);
    assert!(stored, "{N} records never reached the store; log:\n{log}");
    assert_eq!(
        rows(&file, "records"),
        u64::from(N),
        "SIGKILL lost committed records"
    );

    // Restarted with the receiver up, every record arrives (at least once).
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let receiver = runtime.block_on(Receiver::start_on(listener)).unwrap();
    let (child, stderr) = spawn(&workspace);
    let all_arrived = wait_until(Duration::from_secs(30), || {
        numbers(&receiver)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            == N as usize
    });
    let drained = wait_until(Duration::from_secs(10), || rows(&file, "records") == 0);
    let log = kill(child, stderr);
    let distinct: BTreeSet<u64> = numbers(&receiver).into_iter().collect();
    let missing: Vec<u64> = (0..u64::from(N))
        .filter(|n| !distinct.contains(n))
        .collect();
    assert!(
        all_arrived && missing.is_empty(),
        "missing {missing:?}; log:\n{log}"
    );
    assert!(drained, "delivered records stay in the store; log:\n{log}");
}

#[test]
fn a_record_failing_every_attempt_is_dead_lettered_after_ten_and_replay_sends_it_again() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.set_default(Reply::Status(500));
    let api = free_port();
    let source = format!("[api]\naddress = \"127.0.0.1:{api}\"\n{STDIN}");
    let workspace = Workspace::with_config(&sink_config(&source, &receiver.url(), "100ms", ""));
    let events = |name: &str, outcome: Option<&str>| {
        let mut labels = vec![("component_id", "hook"), ("stream", "events")];
        labels.extend(outcome.map(|o| ("outcome", o)));
        scrape(api, name, &labels)
    };
    let file = store_file(&workspace, "hook");

    let (mut child, stderr) = spawn(&workspace);
    write_events(&mut child, 7..8);
    let dead = wait_until(Duration::from_secs(20), || rows(&file, "dead_letters") == 1);
    assert!(dead, "no dead letter; log:\n{}", kill(child, stderr));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        receiver.count(),
        10,
        "one first attempt and nine later ones"
    );
    assert_eq!(rows(&file, "records"), 0);
    assert_eq!(events("webhook_deliveries_total", Some("expired")), 1.0);
    assert_eq!(events("webhook_dead_letter_records", None), 1.0);
    assert_eq!(events("webhook_retry_store_records", None), 0.0);
    // The host counts what entered the sink, once.
    let sink = [("component_id", "hook"), ("component_kind", "sink")];
    assert_eq!(scrape(api, "component_received_events_total", &sink), 1.0);

    let listed = dead_letters(&workspace, &["list", "--json"]);
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{listed}");
    let letter = &lines[0];
    assert_eq!(letter["stream"], "events");
    assert_eq!(letter["attempts"], 10);
    assert!(
        letter["last_error"].as_str().unwrap().contains("500"),
        "{letter}"
    );
    assert_eq!(letter["history"].as_array().unwrap().len(), 10);
    assert!(letter["first_attempt_at"].as_str() < letter["last_attempt_at"].as_str());

    // Replayed while the sink runs: it is sent again, once, and delivered this time.
    receiver.set_default(Reply::Status(200));
    assert_eq!(
        dead_letters(&workspace, &["replay"]),
        "replayed 1 dead letters\n"
    );
    let sent_again = wait_until(Duration::from_secs(10), || receiver.count() == 11);
    let delivered = wait_until(Duration::from_secs(5), || {
        rows(&file, "records") == 0
            && events("webhook_deliveries_total", Some("after_retry")) == 1.0
    });
    let dead_gauge = events("webhook_dead_letter_records", None);
    let store_gauge = events("webhook_retry_store_records", None);
    assert_eq!(numbers(&receiver), vec![7; 11]);
    assert_eq!(dead_letters(&workspace, &["list", "--json"]), "");

    // Purged by another process while the sink runs: the gauge follows within seconds.
    receiver.set_default(Reply::Status(500));
    write_events(&mut child, 8..9);
    let dead_again = wait_until(Duration::from_secs(20), || {
        rows(&file, "dead_letters") == 1 && events("webhook_dead_letter_records", None) == 1.0
    });
    let purged = dead_letters(&workspace, &["purge", "--all"]);
    let gauge_followed = wait_until(Duration::from_secs(10), || {
        events("webhook_dead_letter_records", None) == 0.0
    });
    let log = kill(child, stderr);
    assert!(sent_again && delivered, "log:\n{log}");
    assert_eq!(
        (dead_gauge, store_gauge),
        (0.0, 0.0),
        "gauges after the replay"
    );
    assert!(dead_again, "no second dead letter; log:\n{log}");
    assert_eq!(purged, "purged 1 dead letters\n");
    assert!(gauge_followed, "the dead-letter gauge ignored the purge");
}

#[test]
fn a_full_blocking_store_stops_the_input_until_space_frees() {
    const MAX: u64 = 20;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = free_port();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let source = format!("[api]\naddress = \"127.0.0.1:{api}\"\n[sources.in]\ntype = \"demo\"");
    let store = format!("[sinks.hook.store]\nmax_records = {MAX}\nwhen_full = \"block\"");
    let workspace = Workspace::with_config(&sink_config(&source, &url, "500ms", &store));
    let file = store_file(&workspace, "hook");

    let (child, stderr) = spawn(&workspace);
    let emitted = || {
        scrape(
            api,
            "component_sent_events_total",
            &[("component_id", "in")],
        )
    };
    let mut previous = -1.0;
    let stalled = wait_until(Duration::from_secs(30), || {
        let now = emitted();
        let steady = now > 0.0 && now == previous && rows(&file, "records") == MAX;
        previous = now;
        std::thread::sleep(Duration::from_millis(500));
        steady
    });
    assert!(
        stalled,
        "the source never stopped; log:\n{}",
        kill(child, stderr)
    );
    let stalled_at = emitted();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        emitted(),
        stalled_at,
        "the source went on while the store was full"
    );
    assert_eq!(rows(&file, "records"), MAX, "the store outgrew max_records");

    // The webhook comes back: stored records are delivered, room frees, input flows again.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let receiver = runtime.block_on(Receiver::start_on(listener)).unwrap();
    let resumed = wait_until(Duration::from_secs(30), || {
        emitted() > stalled_at + 1000.0 && receiver.count() > 1000
    });
    let log = kill(child, stderr);
    assert!(resumed, "input never resumed; log:\n{log}");
}
