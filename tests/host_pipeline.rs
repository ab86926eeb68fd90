//! The real binary runs `stdin -> filter -> console`: the right lines come out, in order, and a
//! malformed line in the middle costs only itself. Bad configs are refused naming the key.

mod host_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use host_support::{bin, collect, wait_exit, Workspace};

const FILTER_PIPELINE: &str = r#"
data_dir = "{data_dir}"

[sources.in]
type = "stdin"

[transforms.purchases]
type = "filter"
inputs = ["in"]
condition = { all = [
  { field = "event_type", op = "is", value = "Purchase" },
  { field = "event_properties.price", op = "greater_than", value = 10 },
] }

[sinks.out]
type = "console"
inputs = ["purchases"]
"#;

fn event_line(n: usize) -> String {
    let event_type = ["Purchase", "Page Viewed", "Add To Cart"][n % 3];
    let price = (n % 7) as f64 * 4.5;
    format!(
        r#"{{"user_id":"user_{n:05}","event_type":"{event_type}","event_properties":{{"price":{price},"sku":"SKU-{n}"}},"n":{n}}}"#
    )
}

fn matches_filter(n: usize) -> bool {
    matches!(n % 3, 0) && (n % 7) as f64 * 4.5 > 10.0
}

#[test]
fn stdin_filter_console_outputs_matching_lines_in_order_and_skips_malformed_ones() {
    let workspace = Workspace::with_config(FILTER_PIPELINE);
    let mut lines: Vec<String> = (0..600).map(event_line).collect();
    lines.insert(250, r#"{"event_type": "Purchase", "#.to_string()); // line 251: cut off
    lines.insert(400, "[1, 2, 3]".to_string()); // line 401: not an object
    let expected: Vec<String> = (0..600)
        .filter(|n| matches_filter(*n))
        .map(event_line)
        .collect();
    assert!(expected.len() > 50, "the filter must keep a fair share");

    let mut child = workspace.spawn_run();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    writer.join().unwrap().expect("write stdin");

    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("run did not finish at EOF");
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    let output: Vec<&str> = stdout.lines().collect();
    assert_eq!(output, expected);
    assert!(
        stderr.contains("skipping malformed line") && stderr.contains("line=251"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line=401") && stderr.contains("expected a JSON object"),
        "{stderr}"
    );
}

fn validate(config: &str) -> (bool, String) {
    let workspace = Workspace::with_config(config);
    let output = Command::new(bin())
        .args(["validate", "--config"])
        .arg(workspace.config_path())
        .stdin(Stdio::null())
        .output()
        .expect("run validate");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn validate_accepts_a_good_config() {
    let (ok, text) = validate(FILTER_PIPELINE);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok (1 sources, 1 transforms, 1 sinks)"),
        "{text}"
    );
}

#[test]
fn validate_refuses_bad_configs_naming_the_key() {
    let cases = [
        (
            FILTER_PIPELINE.replace(
                "inputs = [\"purchases\"]",
                "inputs = [\"purchases\"]\nbogus = 1",
            ),
            "`sinks.out.bogus`: unknown field `bogus`",
        ),
        (
            FILTER_PIPELINE.replace("op = \"greater_than\"", "op = \"bigger\""),
            "`transforms.purchases.condition.all[1]`: unknown op \"bigger\"",
        ),
        (
            FILTER_PIPELINE.replace("inputs = [\"purchases\"]", "inputs = [\"purchase\"]"),
            "`sinks.out.inputs`: no source or transform is named `purchase`",
        ),
        (
            FILTER_PIPELINE.replace("type = \"console\"", "type = \"kafka\""),
            "`sinks.out.type`: unknown sink type `kafka`",
        ),
        (
            FILTER_PIPELINE.replace("data_dir", "datadir"),
            "`datadir`: unknown key",
        ),
    ];
    for (config, reason) in cases {
        let (ok, text) = validate(&config);
        assert!(!ok, "accepted:\n{config}");
        assert!(text.contains(reason), "expected {reason:?} in:\n{text}");
    }
}

#[test]
fn run_refuses_a_bad_config_before_reading_anything() {
    let workspace =
        Workspace::with_config(&FILTER_PIPELINE.replace("[sources.in]", "[sources.in]\nbatch = 3"));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("run did not exit");
    let stderr = stderr.join().unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("`sources.in.batch`: unknown field `batch`"),
        "{stderr}"
    );
}

#[test]
fn help_describes_each_command() {
    let help = |args: &[&str]| {
        let output = Command::new(bin()).args(args).output().expect("run --help");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let top = help(&["--help"]);
    assert!(top.contains("run") && top.contains("validate"), "{top}");
    assert!(help(&["run", "--help"]).contains("--config <FILE>"));
    assert!(help(&["validate", "--help"]).contains("--config <FILE>"));
}

#[test]
fn json_log_format_writes_one_json_object_per_line_on_stderr() {
    let workspace = Workspace::with_config(FILTER_PIPELINE);
    let mut child = Command::new(bin())
        .args(["--log-format", "json", "run", "--config"])
        .arg(workspace.config_path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink");
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\nnot json\n", event_line(3)).as_bytes())
        .unwrap();
    drop(stdin);
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("run did not finish");
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout.trim_end(), event_line(3));
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let skipped = logs
        .iter()
        .find(|log| log["fields"]["message"] == "skipping malformed line")
        .unwrap_or_else(|| panic!("no skip logged: {stderr}"));
    assert_eq!(skipped["level"], "WARN");
    assert_eq!(skipped["fields"]["line"], 2);
    assert_eq!(skipped["fields"]["component_id"], "in");
}
