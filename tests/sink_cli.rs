//! The sink through the real `webhook-sink` binary: run (stdin example), preview, validate.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{bodies, Receiver};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-sink");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_the_stdin_example_to_the_webhook() {
    let receiver = Receiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string("examples/stdin-to-webhook.toml")
        .unwrap()
        .replace("http://127.0.0.1:8080/webhook", &receiver.url())
        .replace(
            "data_dir = \"./data\"",
            &format!("data_dir = {:?}", dir.path()),
        );
    let config_path = dir.path().join("pipeline.toml");
    std::fs::write(&config_path, config).unwrap();

    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read("examples/events.ndjson").unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 4 events x (event + user) + 1 identify (user); the group identify yields nothing.
    assert!(receiver.wait_for(9, Duration::from_secs(2)).await);
    assert_eq!(bodies(&receiver).len(), 9);
    for request in receiver.received() {
        assert_eq!(request.headers["authorization"], "Bearer replace-me");
    }
}

#[test]
fn preview_prints_the_golden_output_and_a_summary() {
    let output = Command::new(BIN)
        .args([
            "preview",
            "--config",
            "examples/stdin-to-webhook.toml",
            "--sink",
            "hook",
            "--input",
            "examples/events.ndjson",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let golden = std::fs::read_to_string("examples/expected/stdin-to-webhook.preview").unwrap();
    let expected =
        format!("{golden}# 6 records: 9 payloads, 1 filtered out, 0 errors, 0 not JSON\n");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn validate_refuses_a_sixth_header_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[sources.in]\ntype = \"stdin\"\n[sinks.hook]\ntype = \"webhook\"\ninputs = [\"in\"]\nurl = \"http://127.0.0.1:1/\"\nheaders = { A = \"1\", B = \"2\", C = \"3\", D = \"4\", E = \"5\", F = \"s3cret\" }\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sinks.hook.headers"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
