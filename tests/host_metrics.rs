//! `/metrics` and `/health` of the real binary: the component counters move as lines flow
//! through `stdin -> filter -> blackhole`.

mod host_support;

use std::io::Write;
use std::time::Duration;

use host_support::{collect, free_port, http_get, scrape, wait_exit, wait_until, Workspace};

fn line(n: usize) -> String {
    let event_type = if n % 5 < 2 { "Purchase" } else { "Page Viewed" };
    format!(r#"{{"event_type":"{event_type}","n":{n}}}"#)
}

fn write_lines(stdin: &mut impl Write, range: std::ops::Range<usize>) {
    let text: String = range.map(|n| line(n) + "\n").collect();
    stdin.write_all(text.as_bytes()).expect("write stdin");
    stdin.flush().expect("flush stdin");
}

#[test]
fn metrics_endpoint_shows_component_counters_moving() {
    let port = free_port();
    let workspace = Workspace::with_config(&format!(
        r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{port}"
[sources.in]
type = "stdin"
[transforms.purchases]
type = "filter"
inputs = ["in"]
condition = {{ field = "event_type", op = "is", value = "Purchase" }}
[sinks.out]
type = "blackhole"
inputs = ["purchases"]
acknowledgements = true
"#
    ));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || http_get(port, "/health")
            .is_some()),
        "API never answered"
    );
    assert_eq!(
        http_get(port, "/health").map(|(status, _)| status),
        Some(200)
    );
    assert_eq!(http_get(port, "/nope").map(|(status, _)| status), Some(404));

    let sink = [
        ("component_id", "out"),
        ("component_kind", "sink"),
        ("component_type", "blackhole"),
    ];
    let source = [
        ("component_id", "in"),
        ("component_kind", "source"),
        ("component_type", "stdin"),
    ];
    let filter = [
        ("component_id", "purchases"),
        ("component_kind", "transform"),
    ];

    write_lines(&mut stdin, 0..100);
    stdin.write_all(b"{oops\n").unwrap();
    stdin.flush().unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        scrape(port, "component_sent_events_total", &sink) == 40.0
    }));
    assert_eq!(
        scrape(port, "component_received_events_total", &source),
        100.0
    );
    assert_eq!(scrape(port, "component_sent_events_total", &source), 100.0);
    assert_eq!(
        scrape(port, "component_received_events_total", &filter),
        100.0
    );
    assert_eq!(
        scrape(
            port,
            "component_discarded_events_total",
            &[("component_id", "purchases"), ("intentional", "true")]
        ),
        60.0
    );
    assert_eq!(scrape(port, "component_received_events_total", &sink), 40.0);
    assert!(scrape(port, "component_sent_event_bytes_total", &sink) > 40.0 * 20.0);
    assert_eq!(
        scrape(
            port,
            "component_errors_total",
            &[
                ("component_id", "in"),
                ("error_type", "parser_failed"),
                ("stage", "receiving")
            ]
        ),
        1.0
    );

    write_lines(&mut stdin, 100..150);
    assert!(wait_until(Duration::from_secs(10), || {
        scrape(port, "component_sent_events_total", &sink) == 60.0
    }));
    assert_eq!(
        scrape(port, "component_received_events_total", &source),
        150.0
    );

    drop(stdin);
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("run did not finish at EOF");
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{stderr}");
}
