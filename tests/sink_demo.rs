//! `webhook-sink demo` through the real binary: the pipeline runs against its embedded receiver
//! and every payload arrives once, including those first answered 503.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-sink");

/// The number just before `word` in `text` ("300 requests" -> 300).
fn number_before(text: &str, word: &str) -> u64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no {word:?} in {text}"));
    text[..at]
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {word:?} in {text}"))
}

#[test]
fn the_demo_delivers_everything_and_shows_samples_of_both_streams() {
    let output = Command::new(BIN)
        .args([
            "demo",
            "--count",
            "300",
            "--rate",
            "0",
            "--fail-every",
            "10",
        ])
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout
        .lines()
        .find(|line| line.starts_with("done in "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    let requests = number_before(summary, "requests");
    let delivered = number_before(summary, "distinct payloads delivered");
    let failures = number_before(summary, "answered 503 on purpose");
    assert!(failures > 0, "some requests were answered 503: {summary}");
    // Every 503 cost one extra request; every other request delivered a distinct payload.
    assert_eq!(requests - failures, delivered, "{summary}");
    assert!(delivered > 300, "events and users: {summary}");
    assert!(
        !stdout.contains("still waiting for a retry"),
        "nothing left waiting for a retry: {stdout}"
    );

    let sample = |title: &str| -> serde_json::Value {
        let marker = format!("a sample {title} payload as received:\n");
        let at = stdout.find(&marker).expect("a sample") + marker.len();
        let mut lines = stdout[at..].lines();
        let mut text = String::new();
        // The templates write pretty JSON; it ends at the first line that is a lone brace.
        for line in lines.by_ref() {
            text.push_str(line);
            text.push('\n');
            if line == "}" {
                break;
            }
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let event = sample("event");
    assert!(
        event["name"].is_string() && event["time"].is_string(),
        "{event}"
    );
    let user = sample("user");
    assert!(
        user.get("name").is_none() && user["time"].is_string(),
        "{user}"
    );
}
