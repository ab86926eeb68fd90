//! Graceful shutdown of the real binary: SIGTERM stops the sources, what they already took
//! drains to the sinks, and the process exits 0.

mod host_support;

use std::io::{Read, Write};
use std::time::Duration;

use host_support::{collect, free_port, scrape, signal, wait_exit, wait_until, Workspace};

#[test]
fn sigterm_drains_everything_the_source_took_and_exits_zero() {
    let port = free_port();
    let workspace = Workspace::stdin_to_console(port);
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().unwrap());
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 2,000 lines of ~250 bytes: far more than the stdout pipe holds while nobody reads it, so the
    // console sink stalls, the channels fill and the source stops taking lines; what it took is
    // in flight inside the pipeline when the signal arrives.
    let padding = "x".repeat(200);
    let lines: Vec<String> = (0..2000)
        .map(|n| format!(r#"{{"n":{n},"padding":"{padding}"}}"#))
        .collect();
    let text = lines.join("\n") + "\n";
    // Written from a thread: the pipeline takes only what its channels hold.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
        let _ = stdin.flush();
        stdin
    });
    let source = [("component_id", "in"), ("component_kind", "source")];
    let taken = || scrape(port, "component_received_events_total", &source);
    assert!(settles(taken), "the source never stopped taking lines");
    let taken = taken() as usize;
    let sink = [("component_id", "out")];
    assert!(
        (scrape(port, "component_sent_events_total", &sink) as usize) < taken,
        "nothing was in flight"
    );

    signal(&child, "TERM");
    let mut output = String::new();
    stdout.read_to_string(&mut output).unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("no exit after SIGTERM");
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    // Everything the source took, in order, and nothing it did not take.
    assert_eq!(output.lines().collect::<Vec<_>>(), lines[..taken].to_vec());
    assert!(
        stderr.contains("shutting down") && stderr.contains("SIGTERM"),
        "{stderr}"
    );
    drop(writer.join());
}

#[test]
fn sigint_stops_an_endless_demo_source_and_exits_zero() {
    let port = free_port();
    let workspace = Workspace::with_config(&format!(
        r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{port}"
[sources.demo]
type = "demo"
rate = 2000
[sinks.out]
type = "blackhole"
inputs = ["demo"]
acknowledgements = true
"#
    ));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().unwrap());
    let sink = [("component_id", "out"), ("component_kind", "sink")];
    assert!(wait_until(Duration::from_secs(10), || {
        scrape(port, "component_sent_events_total", &sink) >= 200.0
    }));
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("no exit after SIGINT");
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    assert!(
        stderr.contains("SIGINT") && stderr.contains("pipeline finished"),
        "{stderr}"
    );
}

#[test]
fn demo_source_with_a_count_finishes_by_itself() {
    let workspace = Workspace::with_config(
        r#"
data_dir = "{data_dir}"
[sources.demo]
type = "demo"
count = 777
seed = 42
[sinks.out]
type = "console"
inputs = ["demo"]
"#,
    );
    let mut child = workspace.spawn_run();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    drop(child.stdin.take());
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("demo did not finish");
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{stderr}");
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("console writes JSON lines"))
        .collect();
    assert_eq!(records.len(), 777);
    let expected = pipeline_host::sources::generate_demo_record(42, 777);
    for (record, expected) in records.iter().zip(&expected) {
        assert_eq!(record.as_object(), Some(expected));
    }
}

const STALLED_PIPELINE: &str = r#"
data_dir = "{data_dir}"
[api]
address = "127.0.0.1:PORT"
[sources.demo]
type = "demo"
[sinks.out]
type = "console"
inputs = ["demo"]
"#;

/// Start an endless demo source into a console sink whose stdout nobody reads, and wait until
/// the sink is stuck.
fn start_stalled(extra: &[&str]) -> (Workspace, std::process::Child, u16) {
    let port = free_port();
    let workspace = Workspace::with_config(&STALLED_PIPELINE.replace("PORT", &port.to_string()));
    let child = workspace.spawn_run_with(extra);
    let source = [("component_id", "demo"), ("component_kind", "source")];
    assert!(
        settles(|| scrape(port, "component_sent_events_total", &source)),
        "the demo source never stalled"
    );
    (workspace, child, port)
}

/// Waits (up to 10 s) until `count` is above zero and stops moving for a moment: the pipeline is
/// stalled with its channels full.
fn settles(count: impl Fn() -> f64) -> bool {
    let mut last = -1.0;
    wait_until(Duration::from_secs(10), || {
        let now = count();
        let still = now > 0.0 && now == last;
        last = now;
        std::thread::sleep(Duration::from_millis(300));
        still
    })
}

#[test]
fn a_drain_that_outlasts_the_drain_timeout_exits_one() {
    let (_workspace, mut child, _) = start_stalled(&["--drain-timeout", "1"]);
    let stderr = collect(child.stderr.take().unwrap());
    signal(&child, "TERM");
    let status =
        wait_exit(&mut child, Duration::from_secs(10)).expect("no exit after the drain timeout");
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("drain timed out"), "{stderr}");
}

#[test]
fn a_second_signal_exits_one_without_draining() {
    let (_workspace, mut child, _) = start_stalled(&[]);
    let stderr = collect(child.stderr.take().unwrap());
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let status =
        wait_exit(&mut child, Duration::from_secs(10)).expect("no exit after a second signal");
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("second signal"), "{stderr}");
}
