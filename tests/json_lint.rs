//! Payloads that are not JSON, caught before a webhook sees them: `validate --sample` and
//! `preview` through the real binary, with templates that break JSON in each of the usual ways
//! (an unescaped quote, a comma left before `}` by an `<#if>`, a missing number printed as
//! nothing, a raw line break inside a string) and one that is meant not to be JSON. Each finding
//! names the sample line, the byte where the JSON broke and the template line and column that
//! wrote it; a warning by default, an error with `--strict`.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-sink");

/// One sample event per line: a name with a quote, a price, no price, a name with a line break.
const SAMPLE: &str = concat!(
    r#"{"event_type":"Purchase","user_id":"u1","event_properties":{"price":9,"name":"the \"big\" one"}}"#,
    "\n",
    r#"{"event_type":"Purchase","user_id":"u2","event_properties":{"name":"plain"}}"#,
    "\n",
    r#"{"event_type":"Purchase","user_id":"u3","event_properties":{"price":3,"name":"two\nlines"}}"#,
    "\n",
);

/// A workspace with `event.ftl` as the events template and the users stream off.
fn workspace(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("event.ftl"), template).expect("write the template");
    std::fs::write(dir.path().join("sample.ndjson"), SAMPLE).expect("write the sample");
    let config = r#"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "http://127.0.0.1:9/hook"
[sinks.hook.events]
template_file = "event.ftl"
[sinks.hook.users]
enabled = false
"#;
    std::fs::write(dir.path().join("pipeline.toml"), config).expect("write the config");
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run webhook-sink")
}

fn validate(dir: &Path, strict: bool) -> (bool, String) {
    let mut args = vec![
        "validate",
        "--config",
        "pipeline.toml",
        "--sample",
        "sample.ndjson",
    ];
    if strict {
        args.push("--strict");
    }
    let output = run(dir, &args);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The findings `validate --sample` prints (one line each, without the summary lines).
fn findings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("warning: ") || line.starts_with("error: "))
        .collect()
}

#[test]
fn an_unescaped_quote_is_traced_to_its_interpolation() {
    let dir = workspace("{\n  \"name\": \"${input.event_properties.name}\"\n}\n");
    let (ok, stderr) = validate(dir.path(), false);
    assert!(ok, "a warning does not fail validation: {stderr}");
    assert_eq!(
        findings(&stderr),
        [
            "warning: sinks.hook: sample.ndjson line 1 -> events payload: not valid JSON at byte 18: \
             expected `,` or `}`; written by the interpolation at line 2, column 14 of template `event.ftl`",
            "warning: sinks.hook: sample.ndjson line 3 -> events payload: not valid JSON at byte 16: \
             control character (\\u0000-\\u001F) found while parsing a string; written by the \
             interpolation at line 2, column 14 of template `event.ftl`",
        ],
        "{stderr}"
    );
    assert!(stderr.contains("sinks.hook: 3 sample records: 3 payloads, 2 not JSON, 0 errors"));
    let (ok, strict) = validate(dir.path(), true);
    assert!(!ok, "--strict fails it: {strict}");
    assert!(strict.contains("error: sinks.hook: sample.ndjson line 1 -> events payload"));
}

#[test]
fn a_comma_left_by_an_if_is_traced_to_the_brace_after_it() {
    let template = "{\n  \"user\": \"${input.user_id}\",\n  \
                    <#if input.event_properties.price??>\"price\": ${input.event_properties.price?c}</#if>\n}\n";
    let dir = workspace(template);
    let (ok, stderr) = validate(dir.path(), false);
    assert!(ok, "{stderr}");
    let found = findings(&stderr);
    assert_eq!(found.len(), 1, "only line 2 has no price: {stderr}");
    assert!(
        found[0].starts_with("warning: sinks.hook: sample.ndjson line 2 -> events payload: not valid JSON at byte 21: "),
        "{stderr}"
    );
    assert!(
        found[0].ends_with("; written by the text at line 4, column 1 of template `event.ftl`"),
        "{stderr}"
    );
}

#[test]
fn a_missing_number_printed_as_nothing_is_traced_to_the_text_after_it() {
    let dir = workspace("{\"price\": ${input.event_properties.price!}}");
    let (_, stderr) = validate(dir.path(), false);
    assert_eq!(
        findings(&stderr),
        ["warning: sinks.hook: sample.ndjson line 2 -> events payload: not valid JSON at byte 10: \
          expected value; written by the text at line 1, column 43 of template `event.ftl`"],
        "{stderr}"
    );
}

#[test]
fn a_template_meant_not_to_be_json_warns_without_failing() {
    let dir = workspace("user=${input.user_id}&type=${input.event_type}");
    let (ok, stderr) = validate(dir.path(), false);
    assert!(ok, "{stderr}");
    assert_eq!(findings(&stderr).len(), 3, "{stderr}");
    assert!(
        findings(&stderr)[0]
            .ends_with("written by the text at line 1, column 1 of template `event.ftl`"),
        "{stderr}"
    );
    assert!(!validate(dir.path(), true).0);
}

#[test]
fn valid_json_passes_strict_validation_silently() {
    let dir = workspace("{\"name\": \"${input.event_properties.name?json_string}\"}");
    let (ok, stderr) = validate(dir.path(), true);
    assert!(ok, "{stderr}");
    assert!(findings(&stderr).is_empty(), "{stderr}");
    assert!(
        stderr.contains("3 payloads, 0 not JSON, 0 errors"),
        "{stderr}"
    );
}

#[test]
fn preview_prints_a_warning_after_the_payload_and_fails_with_strict() {
    let dir = workspace("{\n  \"name\": \"${input.event_properties.name}\"\n}\n");
    let args = [
        "preview",
        "--config",
        "pipeline.toml",
        "--sink",
        "hook",
        "--input",
        "sample.ndjson",
    ];
    let output = run(dir.path(), &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "\"the \"big\" one\"\n}\n\n\n# warning: line 1 -> events: not valid JSON at byte 18: \
             expected `,` or `}`; written by the interpolation at line 2, column 14 of template `event.ftl`\n"
        ),
        "{stdout}"
    );
    assert!(stdout.ends_with("# 3 records: 3 payloads, 0 filtered out, 0 errors, 2 not JSON\n"));
    let strict = run(dir.path(), &[&args[..], &["--strict"]].concat());
    assert!(!strict.status.success());
}
