//! Webhook outages through the real binary: the circuit opens and closes against a local webhook
//! that fails and recovers, the input keeps flowing into the store meanwhile, the log says so
//! once each way; SIGKILL during an outage with 100,000 records absorbed loses none of them.

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use host_support::{
    collect, free_port, kill, rows, scrape, store_file, test_events, wait_until, write_events,
    Workspace,
};
use support::{numbers, Receiver, Reply};

/// stdin -> webhook (events only, `{"n": N}` payloads), with the API on `api`; the later attempts
/// of a record whose first attempt failed come within seconds.
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
[sinks.hook.users]
enabled = false
[sinks.hook.retry]
initial_backoff = "20ms"
attempts = 9
window = "10s"
[sinks.hook.circuit]
probe_interval = "200ms"
max_probe_interval = "1s"
"#
    )
}

/// Distinct `n` the receiver got.
fn distinct(receiver: &Receiver) -> BTreeSet<u64> {
    numbers(receiver).into_iter().collect()
}

#[test]
fn the_circuit_opens_and_closes_and_the_input_keeps_flowing_meanwhile() {
    const N: u32 = 3000;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.set_default(Reply::Status(503));
    let api = free_port();
    let workspace = Workspace::with_config(&pipeline(api, &receiver.url()));
    let file = store_file(&workspace, "hook");
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let state = || {
        scrape(
            api,
            "webhook_circuit_state",
            &[("component_id", "hook"), ("stream", "events")],
        )
    };

    // The webhook answers 503: after five failed attempts the circuit opens, and every later
    // record goes to the store without a request.
    let started = Instant::now();
    write_events(&mut child, 0..N);
    let stored = wait_until(Duration::from_secs(30), || {
        rows(&file, "records") == u64::from(N)
    });
    let stored_in = started.elapsed();
    let open = state();
    let requests_while_down = receiver.count();
    let absorbed = scrape(
        api,
        "webhook_absorbed_records_total",
        &[("component_id", "hook"), ("reason", "circuit_open")],
    );

    // It comes back: a probe closes the circuit and every record arrives.
    receiver.set_default(Reply::Status(200));
    let all = wait_until(Duration::from_secs(30), || {
        distinct(&receiver).len() == N as usize
    });
    let closed = wait_until(Duration::from_secs(5), || state() == 0.0);
    let drained = wait_until(Duration::from_secs(10), || rows(&file, "records") == 0);
    let log = kill(child, stderr);

    assert!(
        stored,
        "{} of {N} stored; log:\n{log}",
        rows(&file, "records")
    );
    assert!(open >= 1.0, "circuit state {open} while down; log:\n{log}");
    // The 64 attempts in flight when the outage began (three tries each), then only probes.
    assert!(
        requests_while_down <= 3 * 64 + 3 * 12,
        "{requests_while_down} requests while the webhook was down"
    );
    assert!(
        absorbed >= f64::from(N) - 100.0,
        "{absorbed} absorbed; log:\n{log}"
    );
    eprintln!("{N} records stored in {stored_in:?} while the webhook was down");
    assert!(all && closed && drained, "log:\n{log}");
    // Said once each way, with counts, instead of a line per failed request.
    assert_eq!(log.matches("webhook down:").count(), 1, "log:\n{log}");
    assert_eq!(log.matches("webhook back after").count(), 1, "log:\n{log}");
    assert!(
        log.contains("records went to the retry store meanwhile"),
        "log:\n{log}"
    );
    assert_eq!(
        log.matches(" WARN ").count(),
        1,
        "only the outage warns; log:\n{log}"
    );
}

#[test]
fn sigkill_during_an_outage_with_100000_records_absorbed_loses_none() {
    const N: u32 = 100_000;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let workspace = Workspace::with_config(&pipeline(free_port(), &url));
    let file = store_file(&workspace, "hook");

    // Nothing listens: the circuit opens and the records pile up in the store.
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let writer = {
        let mut stdin = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || {
            let _ = stdin.write_all(test_events(0..N).as_bytes());
            // Held open: the sink must not see the end of its input before the kill.
            std::thread::sleep(Duration::from_secs(600));
            drop(stdin);
        })
    };
    let absorbed = wait_until(Duration::from_secs(240), || {
        rows(&file, "records") >= u64::from(N)
    });
    let log = kill(child, stderr);
    drop(writer);
    assert!(
        absorbed,
        "{} of {N} in the store; log:\n{log}",
        rows(&file, "records")
    );
    assert_eq!(
        rows(&file, "records"),
        u64::from(N),
        "SIGKILL lost committed records"
    );

    // Restarted with the webhook up: every record arrives.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let receiver = runtime.block_on(Receiver::start_on(listener)).unwrap();
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let all = wait_until(Duration::from_secs(240), || {
        receiver.count() >= u64::from(N) && distinct(&receiver).len() == N as usize
    });
    let drained = wait_until(Duration::from_secs(20), || rows(&file, "records") == 0);
    let log = kill(child, stderr);
    let seen = distinct(&receiver);
    let missing: Vec<u64> = (0..u64::from(N))
        .filter(|n| !seen.contains(n))
        .take(10)
        .collect();
    assert!(
        all,
        "{} of {N} arrived, missing {missing:?}...; log:\n{log}",
        seen.len()
    );
    assert!(drained, "delivered records stay in the store; log:\n{log}");
}
