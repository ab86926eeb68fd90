//! Repeated warnings are rate limited, through the real binary: thousands of malformed lines on
//! standard input give a handful of warning lines and a count of the ones not logged, while the
//! good lines among them still reach the sink.

mod host_support;

use std::io::Write;
use std::process::{Command, Stdio};

use host_support::{bin, Workspace};

const NOT_JSON: usize = 4_000;
const NOT_OBJECTS: usize = 1_000;
const GOOD: usize = 5;

/// stdin -> console: the good events come back on standard output.
const CONFIG: &str = r#"
data_dir = "{data_dir}"
[sources.in]
type = "stdin"
[sinks.out]
type = "console"
inputs = ["in"]
"#;

/// Malformed lines of two kinds, with the good ones spread among them.
fn input() -> String {
    let mut text = String::new();
    for n in 0..NOT_JSON + NOT_OBJECTS {
        if n % 1_000 == 500 {
            text.push_str(&format!("{{\"good\":{}}}\n", n / 1_000));
        }
        if n < NOT_JSON {
            text.push_str("this is not json\n");
        } else {
            text.push_str("[1, 2, 3]\n");
        }
    }
    text
}

/// The `repeated=N` field of a summary line.
fn repeated_count(line: &str) -> Option<usize> {
    let field = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("repeated="))?;
    field.parse().ok()
}

#[test]
fn thousands_of_malformed_lines_log_a_few_warnings_and_their_count() {
    let workspace = Workspace::with_config(CONFIG);
    let mut child = Command::new(bin())
        .args(["--log-format", "human", "run", "--config"])
        .arg(workspace.config_path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink run");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("wait for webhook-sink");
    writer
        .join()
        .expect("join the writer")
        .expect("write the input");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    // The good events were processed, in order.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let good: Vec<&str> = stdout.lines().collect();
    assert_eq!(good.len(), GOOD, "{stdout}");
    assert!(
        good[0].contains("\"good\":0") && good[4].contains("\"good\":4"),
        "{stdout}"
    );

    // A few full warnings, and summaries accounting for every other malformed line.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("skipping malformed line"))
        .collect();
    let (summaries, full): (Vec<&str>, Vec<&str>) =
        warnings.iter().partition(|l| l.contains(" more times in "));
    assert!(
        !full.is_empty() && full.len() < 20,
        "{} full warnings:\n{stderr}",
        full.len()
    );
    assert!(full.iter().all(|l| l.contains("line=")), "{stderr}");
    let counts: Vec<usize> = summaries.iter().filter_map(|l| repeated_count(l)).collect();
    assert_eq!(counts.len(), summaries.len(), "{stderr}");
    assert!(counts.iter().any(|&n| n > 100), "{stderr}");
    assert!(
        summaries.iter().any(|l| l.contains("not JSON"))
            && summaries.iter().any(|l| l.contains("not a JSON object")),
        "{stderr}"
    );
    assert_eq!(
        full.len() + counts.iter().sum::<usize>(),
        NOT_JSON + NOT_OBJECTS,
        "{stderr}"
    );
}
