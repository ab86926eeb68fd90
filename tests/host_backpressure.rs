//! Backpressure through the real binary: a sink that cannot write (nobody reads its stdout)
//! stalls the whole pipeline; an endless source emits only what the bounded channels hold and
//! the process's memory stays bounded.

mod host_support;

use std::time::Duration;

use host_support::{free_port, rss_kib, scrape, wait_until, Workspace};

/// Batches per channel and events per batch, as the host defines them.
const CHANNEL_BATCHES: f64 = pipeline_host::CHANNEL_CAPACITY as f64;
const BATCH_EVENTS: f64 = 100.0;

#[test]
fn a_stalled_sink_stalls_an_endless_source_with_bounded_memory() {
    let port = free_port();
    let workspace = Workspace::with_config(&format!(
        r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{port}"
[sources.demo]
type = "demo"
[transforms.all]
type = "filter"
inputs = ["demo"]
condition = {{ all = [] }}
[sinks.out]
type = "console"
inputs = ["all"]
"#
    ));
    // stdout is piped and never read: once the pipe is full, the console sink cannot write.
    let mut child = workspace.spawn_run();
    let source = [("component_id", "demo"), ("component_kind", "source")];
    let sent = || scrape(port, "component_sent_events_total", &source);
    let mut previous = -1.0;
    let stalled = wait_until(Duration::from_secs(15), || {
        let now = sent();
        // At least one channel's worth sent, and no progress for half a second.
        let steady = now >= CHANNEL_BATCHES * BATCH_EVENTS && now == previous;
        previous = now;
        std::thread::sleep(Duration::from_millis(500));
        steady
    });
    let emitted = sent();
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    eprintln!("stalled source sent {emitted} events; resident memory {rss:?} KiB");
    assert!(stalled, "the source never stalled (sent {emitted})");
    // Two channels (filter, sink) full, plus one batch held by each of source, filter and sink.
    let bound = (2.0 * CHANNEL_BATCHES + 3.0) * BATCH_EVENTS;
    assert!(
        emitted <= bound,
        "source sent {emitted} events, more than the channels hold ({bound})"
    );
    let rss_mib = rss.expect("read VmRSS") / 1024;
    assert!(rss_mib < 256, "resident memory {rss_mib} MiB");
}

#[test]
fn a_stalled_sink_stops_stdin_from_being_read() {
    let port = free_port();
    let workspace = Workspace::stdin_to_console(port);
    let mut child = workspace.spawn_run();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // 200,000 lines (~20 MB): far more than the pipeline may hold.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let line = format!("{{\"padding\":\"{}\"}}\n", "x".repeat(90));
        for _ in 0..200_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                return false;
            }
        }
        true
    });
    let source = [("component_id", "in"), ("component_kind", "source")];
    let received = || scrape(port, "component_received_events_total", &source);
    // Batches of stdin hold what one read brought, often fewer than 100 lines: count as
    // stalled after a full second without progress.
    let mut history = vec![-1.0; 3];
    let stalled = wait_until(Duration::from_secs(15), || {
        history.remove(0);
        history.push(received());
        std::thread::sleep(Duration::from_millis(500));
        history[2] > 0.0 && history.iter().all(|seen| *seen == history[2])
    });
    let taken = received();
    let writer_done = writer.is_finished();
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();

    eprintln!("stalled stdin source took {taken} of 200000 lines");
    assert!(stalled, "the source never stalled (took {taken})");
    assert!(
        !writer_done,
        "all input was taken although the sink was stuck"
    );
    // One channel, one batch in the sink, one being built, and the 64 KiB read buffer.
    let bound = (CHANNEL_BATCHES + 2.0) * BATCH_EVENTS + 1000.0;
    assert!(
        taken <= bound,
        "the source took {taken} lines, more than the pipeline holds ({bound})"
    );
}
