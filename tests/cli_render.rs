//! `webhook-sink render` through the real binary: outputs agree with Apache FreeMarker's (golden files
//! recorded with the oracle), settings apply in order over the sink defaults, and failures are per line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/render")
        .join(name)
}

fn render(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-sink"))
        .arg("render")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("wait")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn seed_event_template_renders_like_apache_freemarker() {
    let template = golden("seed-event.ftl");
    let input = golden("events.ndjson");
    let output = render(
        &[
            "--template",
            template.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--format",
            "ndjson",
        ],
        None,
    );
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = std::fs::read_to_string(golden("seed-event.expected.ndjson")).unwrap();
    assert_eq!(stdout(&output), expected);
}

#[test]
fn settings_default_to_the_sinks_and_a_later_setting_wins() {
    let template = golden("numbers.ftl");
    let template = template.to_str().unwrap();
    let line = std::fs::read_to_string(golden("numbers.ndjson")).unwrap();
    // Oracle, number_format=computer (the sink default).
    let plain = render(&["--template", template, "--format", "ndjson"], Some(&line));
    assert_eq!(
        stdout(&plain),
        "{\"output\":\"28.02.2022, 20:07 1646078821795 1234.5 3703.5\\n\"}\n"
    );
    // Oracle, number_format=#,##0.00; the earlier 0.0 is overridden.
    let grouped = render(
        &[
            "--template",
            template,
            "--setting",
            "number_format=0.0",
            "--setting",
            "number_format=#,##0.00",
            "--format",
            "ndjson",
        ],
        Some(&line),
    );
    assert_eq!(
        stdout(&grouped),
        "{\"output\":\"28.02.2022, 20:07 1,646,078,821,795.00 1,234.50 3,703.50\\n\"}\n"
    );
    // Oracle, time_zone=America/Los_Angeles: the same wall-clock text is a later instant.
    let pacific = render(
        &[
            "--template",
            template,
            "--setting",
            "time_zone=America/Los_Angeles",
        ],
        Some(&line),
    );
    assert_eq!(
        stdout(&pacific),
        "28.02.2022, 20:07 1646107621795 1234.5 3703.5\n"
    );
}

#[test]
fn a_bad_line_fails_alone_and_the_exit_code_says_so() {
    let template = golden("seed-event.ftl");
    let input = "{\"event_type\":\"a\",\"event_time\":\"t\",\"user_properties\":{}}\n{not json\n\n{\"event_type\":\"b\",\"event_time\":\"t\",\"user_properties\":{}}\n";
    let output = render(
        &[
            "--template",
            template.to_str().unwrap(),
            "--format",
            "ndjson",
        ],
        Some(input),
    );
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "blank lines are skipped, every other line answers"
    );
    assert!(lines[0]["output"]
        .as_str()
        .unwrap()
        .contains("\"name\" : \"a\""));
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("input line 2 is not valid JSON"));
    assert!(lines[2]["output"]
        .as_str()
        .unwrap()
        .contains("\"name\" : \"b\""));
}

#[test]
fn a_template_that_does_not_parse_is_reported_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ftl");
    std::fs::write(&path, "<#if true>\n  ${input.a +}\n</#if>\n").unwrap();
    let text = render(&["--template", path.to_str().unwrap()], Some("{\"a\":1}\n"));
    assert_eq!(text.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.contains("line 2, column 14"), "stderr: {stderr}");
    assert!(
        stderr.contains("${input.a +}"),
        "the excerpt shows the line: {stderr}"
    );

    let ndjson = render(
        &["--template", path.to_str().unwrap(), "--format", "ndjson"],
        Some("{\"a\":1}\n{}\n"),
    );
    let out = stdout(&ndjson);
    assert_eq!(
        out.lines().count(),
        2,
        "one error line per input line: {out}"
    );
    assert!(out
        .lines()
        .all(|l| l.starts_with("{\"error\":\"Syntax error in template")));
}

#[test]
fn an_unknown_setting_is_refused_naming_it() {
    let template = golden("seed-event.ftl");
    let output = render(
        &[
            "--template",
            template.to_str().unwrap(),
            "--setting",
            "no_such_thing=1",
        ],
        Some("{}\n"),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no_such_thing"));
}

/// `render ... | head -1` and `preview ... | head -1`: the reader leaving ends the command quietly.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.ndjson");
    let line = r#"{"user_id":"u1","event_type":"Purchase","event_time":"2022-10-24 20:07:32.123","user_properties":{"email":"a@b.c"}}"#;
    std::fs::write(&input, format!("{line}\n").repeat(20_000)).unwrap();
    let input = input.to_str().unwrap();
    let commands: [&[&str]; 2] = [
        &[
            "render",
            "--template",
            "examples/templates/event.ftl",
            "--input",
            input,
        ],
        &[
            "preview",
            "--config",
            "examples/stdin-to-webhook.toml",
            "--sink",
            "hook",
            "--input",
            input,
        ],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-sink"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?} {stderr}",
            output.status
        );
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn many_lines_render_in_input_order_with_failures_at_their_lines() {
    // Far more than one chunk of work (1 MiB), so several threads render it; every 997th line
    // is not JSON and every 1009th has no `n`.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let template = dir.path().join("n.ftl");
    std::fs::write(&template, "${input.n}|${input.pad?length}").expect("write the template");
    let mut input = String::new();
    let pad = "x".repeat(40);
    for i in 1..=60_000u32 {
        if i % 997 == 0 {
            input.push_str("{not json\n");
        } else if i % 1009 == 0 {
            input.push_str(&format!("{{\"pad\":\"{pad}\",\"other\":{i}}}\n"));
        } else {
            input.push_str(&format!(
                "{{\"skipped\":[{i},{{\"a\":null}}],\"n\":{i},\"pad\":\"{pad}\"}}\n"
            ));
        }
    }
    let template = template.to_str().expect("a UTF-8 path");
    // From a file: the helper writes standard input before it reads the output.
    let input_file = dir.path().join("in.ndjson");
    std::fs::write(&input_file, &input).expect("write the input");
    let input_file = input_file.to_str().expect("a UTF-8 path");
    let args = ["--template", template, "--input", input_file];
    let output = render(&[&args[..], &["--format", "ndjson"]].concat(), None);
    assert_eq!(output.status.code(), Some(1), "some lines failed");
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("an NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 60_000);
    for (i, line) in (1..=60_000u32).zip(&lines) {
        if i % 997 == 0 {
            assert!(line["error"].is_string(), "line {i}: {line}");
        } else if i % 1009 == 0 {
            let error = line["error"].as_str().unwrap_or("");
            assert!(error.contains("null or missing"), "line {i}: {line}");
        } else {
            assert_eq!(line["output"], format!("{i}|40"), "line {i}");
        }
    }
    // Text: the outputs on stdout in order, each failure on stderr naming its line, in order.
    let text = render(&args, None);
    let out = stdout(&text);
    let expected: Vec<String> = (1..=60_000u32)
        .filter(|i| i % 997 != 0 && i % 1009 != 0)
        .map(|i| format!("{i}|40"))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    let stderr = String::from_utf8_lossy(&text.stderr);
    let failed: Vec<u32> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("error: input line "))
        .filter_map(|rest| rest.split([' ', ':']).next()?.parse().ok())
        .collect();
    let expected_failed: Vec<u32> = (1..=60_000u32)
        .filter(|i| i % 997 == 0 || i % 1009 == 0)
        .collect();
    assert_eq!(failed, expected_failed);
}

#[test]
fn a_file_renders_as_the_same_bytes_on_standard_input() {
    // Several chunks of lines (a chunk is 1 MiB): every edge of the lines comes out the same
    // from a file, from standard input and from a path that is not a regular file (CRLF, blank
    // lines, a last line without newline, bytes that are not UTF-8 ending the job at their line,
    // an empty file).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let template = dir.path().join("n.ftl");
    std::fs::write(&template, "${input.n}").expect("write the template");
    let template = template.to_str().expect("a UTF-8 path");
    let mut many = String::new();
    for n in 0..120_000 {
        many.push_str(&format!("{{\"n\":{n}}}\r\n"));
    }
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"{\"n\":1}\n\n   \n{\"n\":2}".to_vec(),
        [many.as_bytes(), b"{\"n\":\"\xff\"}\n{\"n\":3}\n"].concat(),
        many.into_bytes(),
    ];
    for (i, bytes) in inputs.iter().enumerate() {
        let file = dir.path().join(format!("in{i}.ndjson"));
        std::fs::write(&file, bytes).expect("write the input");
        let file = file.to_str().expect("a UTF-8 path");
        let mapped = render(&["--template", template, "--input", file], None);
        let child = Command::new(env!("CARGO_BIN_EXE_webhook-sink"))
            .args(["render", "--template", template])
            .stdin(std::fs::File::open(file).expect("open the input"))
            .output()
            .expect("run webhook-sink");
        assert_eq!(mapped.status.code(), child.status.code(), "input {i}");
        assert_eq!(mapped.stdout, child.stdout, "input {i}");
        assert_eq!(mapped.stderr, child.stderr, "input {i}");
        let through_dev = Command::new(env!("CARGO_BIN_EXE_webhook-sink"))
            .args(["render", "--template", template, "--input", "/dev/stdin"])
            .stdin(std::fs::File::open(file).expect("open the input"))
            .output()
            .expect("run webhook-sink");
        assert_eq!(
            through_dev.stdout, child.stdout,
            "input {i} through /dev/stdin"
        );
    }
    let out = render(
        &[
            "--template",
            template,
            "--input",
            &format!("{}/in1.ndjson", dir.path().display()),
        ],
        None,
    );
    assert_eq!(stdout(&out), "1\n2\n");
    let out = render(
        &[
            "--template",
            template,
            "--input",
            &format!("{}/in2.ndjson", dir.path().display()),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a line that is not UTF-8 ends the job"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read input line 120001"));
}
