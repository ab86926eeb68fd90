//! The network policy end to end, through the real binary: addresses are checked after DNS and
//! before dialling, so a webhook on a denied address (by IP, by the name `localhost`, by the
//! IPv4-mapped IPv6 form) sees no request, and the refusal names the address and the rule in the
//! log and in the dead letters (the healthcheck does not dial it either). Only loopback is ever dialled, and only where allowed.

mod host_support;
mod support;

use std::process::Command;
use std::time::Duration;

use host_support::{bin, collect, kill, test_events, wait_until, Workspace};
use serde_json::Value;
use support::Receiver;

/// One try per attempt and one later attempt 50 ms on, the circuit off: every record becomes a
/// dead letter quickly, each attempt a refusal.
fn config(url: &str, network: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
[sinks.hook.users]
enabled = false
[sinks.hook.retry]
tries = 1
schedule = ["50ms"]
[sinks.hook.circuit]
enabled = false
[sinks.hook.network]
{network}
"#
    )
}

/// Runs `events` through a sink at `url` under `network`; the dead letters' JSON and stderr.
fn run(url: &str, network: &str, events: u32) -> (Vec<Value>, String) {
    let workspace = Workspace::with_config(&config(url, network));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(test_events(0..events).as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let list = || -> Vec<Value> {
        let out = Command::new(bin())
            .args([
                "dead-letters",
                "list",
                "--json",
                "--sink",
                "hook",
                "--config",
            ])
            .arg(workspace.config_path())
            .output()
            .expect("run dead-letters list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    };
    if !wait_until(Duration::from_secs(20), || list().len() == events as usize) {
        let letters = list();
        let listed = Command::new(bin())
            .args(["dead-letters", "list", "--sink", "hook", "--config"])
            .arg(workspace.config_path())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stderr).into_owned())
            .unwrap_or_default();
        panic!(
            "the records did not become dead letters: {letters:?}\n\
             dead-letters list said: {listed}\nthe sink's log:\n{}",
            kill(child, stderr)
        );
    }
    let letters = list();
    (letters, kill(child, stderr))
}

#[test]
fn a_denied_address_is_never_dialled_however_the_url_names_it() {
    // Counts every TCP connection, not only requests: a refused address must not be dialled.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = std::sync::Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    let deny = r#"deny = ["127.0.0.1/32", "::1"]"#;
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
    ] {
        let (letters, log) = run(&url, deny, 3);
        for letter in &letters {
            let error = letter["last_error"].as_str().unwrap_or_default();
            assert!(
                error.contains("refused by the network policy: in network.deny"),
                "{url}: {error}"
            );
            assert!(
                error.contains("127.0.0.1") || error.contains("::1"),
                "{error}"
            );
        }
        assert!(
            log.contains("refused by the network policy"),
            "{url}: {log}"
        );
        assert_eq!(
            connections.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{url} was dialled"
        );
    }
}

#[test]
fn allowed_addresses_are_delivered_to_and_allow_private_false_refuses_loopback() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let url = receiver.url();

    // Loopback is allowed by default: an unrelated deny range changes nothing.
    let workspace = Workspace::with_config(&config(&url, r#"deny = ["10.0.0.0/8"]"#));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(test_events(0..5).as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    assert!(runtime.block_on(receiver.wait_for(5, Duration::from_secs(10))));
    kill(child, stderr);

    let before = receiver.count();
    let (letters, _) = run(&url, "allow_private = false", 2);
    let error = letters[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("network.allow_private = false"), "{error}");
    assert_eq!(
        receiver.count(),
        before,
        "a refused loopback address was dialled"
    );
}

#[test]
fn a_bad_range_is_a_config_error_naming_the_key() {
    let workspace = Workspace::with_config(&config(
        "http://127.0.0.1:9/",
        r#"deny = ["10.0.0.0/8", "not-a-range"]"#,
    ));
    let out = Command::new(bin())
        .args(["validate", "--config"])
        .arg(workspace.config_path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("network.deny[1]"), "{stderr}");
}
