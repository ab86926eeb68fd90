//! Relative file paths in a sink's table (`template_file`) are read from the config file's
//! directory, whatever the working directory of the real `webhook-sink` binary is.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{bodies, Receiver};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-sink");

const TEMPLATE: &str = r#"{"who": "${input.user_id}", "what": "${input.event_type}"}"#;

/// `root/conf/pipeline.toml` naming `templates/<template>` relatively, with
/// `root/conf/templates/x.ftl` beside it, and an empty `root/elsewhere` to run from.
fn layout(root: &Path, url: &str, template: &str) {
    let conf = root.join("conf");
    std::fs::create_dir_all(conf.join("templates")).unwrap();
    std::fs::create_dir_all(root.join("elsewhere")).unwrap();
    std::fs::write(conf.join("templates/x.ftl"), TEMPLATE).unwrap();
    let config = format!(
        r#"data_dir = {data_dir:?}

[sources.in]
type = "stdin"

[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"

[sinks.hook.events]
template_file = "templates/{template}"

[sinks.hook.users]
enabled = false
"#,
        data_dir = root.join("data"),
    );
    std::fs::write(conf.join("pipeline.toml"), config).unwrap();
}

/// Runs the binary in `root/elsewhere` with `args`, the config given as `../conf/pipeline.toml`.
fn run_elsewhere(root: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .current_dir(root.join("elsewhere"))
        .args(args)
        .args(["--config", "../conf/pipeline.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

const EVENTS: &[u8] = b"{\"user_id\":\"u1\",\"event_type\":\"Purchase\"}\n\
{\"user_id\":\"u2\",\"event_type\":\"click event\"}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reads_a_relative_template_file_from_the_config_directory() {
    let receiver = Receiver::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    layout(root.path(), &receiver.url(), "x.ftl");

    let path = root.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || run_elsewhere(&path, &["run"], EVENTS))
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(receiver.wait_for(2, Duration::from_secs(2)).await);
    let mut bodies = bodies(&receiver);
    bodies.sort();
    assert_eq!(
        bodies,
        [
            r#"{"who": "u1", "what": "Purchase"}"#,
            r#"{"who": "u2", "what": "click event"}"#,
        ]
    );
}

#[test]
fn validate_and_preview_read_it_from_there_too() {
    let root = tempfile::tempdir().unwrap();
    layout(root.path(), "http://127.0.0.1:9/hook", "x.ftl");

    let validate = run_elsewhere(root.path(), &["validate"], b"");
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    let preview = run_elsewhere(root.path(), &["preview", "--sink", "hook"], EVENTS);
    assert!(
        preview.status.success(),
        "{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    let stdout = String::from_utf8_lossy(&preview.stdout);
    for body in [
        r#"{"who": "u1", "what": "Purchase"}"#,
        r#"{"who": "u2", "what": "click event"}"#,
    ] {
        assert!(stdout.lines().any(|line| line == body), "{stdout}");
    }
}

#[test]
fn a_missing_relative_template_is_refused_naming_the_key_and_the_resolved_path() {
    let root = tempfile::tempdir().unwrap();
    layout(root.path(), "http://127.0.0.1:9/hook", "missing.ftl");

    let output = run_elsewhere(root.path(), &["validate"], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sinks.hook.events.template_file"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "conf{}templates{}missing.ftl",
            std::path::MAIN_SEPARATOR,
            std::path::MAIN_SEPARATOR
        )),
        "{stderr}"
    );
}
