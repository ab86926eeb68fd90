//! Conformance with Apache FreeMarker 2.3.31: runs every case of `tests/corpus/*.ftlcases` (outputs
//! recorded from the real FreeMarker by `scripts/regen-corpus.sh`) through our engine, without Java.
//!
//! A case passes when every input line gives byte-identical output, or an error where FreeMarker
//! errored (in `sandbox.ftlcases` every line must error whatever the oracle did). Error messages are
//! compared with the oracle's first line and counted, but never fail the test.
//!
//! Strictness is controlled by `tests/corpus/KNOWN_FAILURES` (one `file:case` per line): the test
//! fails on a failing case not listed there, and on a listed case that now passes, so the list only
//! shrinks. `CONFORMANCE_UPDATE_KNOWN=1` rewrites the list from the current run;
//! `CONFORMANCE_FILTER=text` runs only the cases whose `file:case` contains `text`.
//! See the summary with `cargo test -p freemarker --test conformance -- --nocapture`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use freemarker::{Settings, Template};
use serde_json::Value;

/// Where the case files live.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// The file of the sandboxed features: every line must error, whatever FreeMarker did.
const SANDBOX_FILE: &str = "sandbox.ftlcases";

/// One case of a case file, as written in the corpus.
#[derive(Debug, Default, PartialEq)]
struct Case {
    name: String,
    settings: Vec<(String, String)>,
    template: String,
    inputs: Vec<String>,
    expected: Vec<String>,
}

/// Parses a case file (format: /work/notes/freemarker-api.md, scripts/regen_corpus.py).
fn parse_cases(file: &str, text: &str) -> Result<Vec<Case>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Section {
        None,
        Settings,
        Template,
        Input,
        Expected,
    }
    let mut cases: Vec<Case> = Vec::new();
    let mut section = Section::None;
    let mut seen: Vec<Section> = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        if let Some(marker) = line.strip_prefix("#### ") {
            let marker = marker.trim_end_matches(['\r', '\n']);
            if let Some(name) = marker.strip_prefix("case:") {
                let name = name.trim();
                if name.is_empty() || cases.iter().any(|c| c.name == name) {
                    return Err(format!(
                        "{file}:{line_no}: empty or duplicate case name {name:?}"
                    ));
                }
                cases.push(Case {
                    name: name.to_string(),
                    ..Case::default()
                });
                section = Section::None;
                seen.clear();
                continue;
            }
            section = match marker {
                "settings" => Section::Settings,
                "template" => Section::Template,
                "input" => Section::Input,
                "expected" => Section::Expected,
                other => return Err(format!("{file}:{line_no}: unknown marker {other:?}")),
            };
            if cases.is_empty() || seen.contains(&section) {
                return Err(format!(
                    "{file}:{line_no}: {marker:?} outside a case or repeated"
                ));
            }
            seen.push(section);
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue; // the file's header comment
        };
        let content = line.trim_end_matches('\n');
        match section {
            Section::None if !line.trim().is_empty() => {
                return Err(format!(
                    "{file}:{line_no}: text before the case's first section"
                ));
            }
            Section::None => {}
            Section::Template => case.template.push_str(line),
            Section::Settings if !content.trim().is_empty() => {
                let (name, value) = content
                    .trim()
                    .split_once('=')
                    .ok_or_else(|| format!("{file}:{line_no}: setting without '='"))?;
                case.settings.push((name.to_string(), value.to_string()));
            }
            Section::Input if !content.trim().is_empty() => case.inputs.push(content.to_string()),
            Section::Expected if !content.trim().is_empty() => {
                case.expected.push(content.to_string())
            }
            Section::Settings | Section::Input | Section::Expected => {}
        }
    }
    for case in &mut cases {
        // the ONE newline before the next marker belongs to the marker, not to the template
        if case.template.ends_with('\n') {
            case.template.pop();
        }
        if case.inputs.is_empty() || case.inputs.len() != case.expected.len() {
            return Err(format!(
                "{file}: case {}: {} input lines but {} expected lines (run scripts/regen-corpus.sh)",
                case.name,
                case.inputs.len(),
                case.expected.len()
            ));
        }
    }
    Ok(cases)
}

/// What FreeMarker did with one input line.
enum Expected {
    Output(String),
    Error(String),
}

fn parse_expected(line: &str) -> Result<Expected, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("bad expected line: {e}"))?;
    match (value.get("output"), value.get("error")) {
        (Some(Value::String(s)), None) => Ok(Expected::Output(s.clone())),
        (None, Some(Value::String(s))) => Ok(Expected::Error(s.clone())),
        _ => Err(format!("expected line is neither output nor error: {line}")),
    }
}

/// What our engine did with one input line.
#[derive(Clone, Debug, PartialEq)]
enum Actual {
    Output(String),
    Error(String),
    Panic(String),
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

/// Compiles the case (settings, then the template) once; Err is the error every line then gets.
fn compile(settings: &[(String, String)], source: &str) -> Result<Template, Actual> {
    let built = catch_unwind(AssertUnwindSafe(|| {
        let mut compiled_settings = Settings::default();
        for (name, value) in settings {
            compiled_settings
                .set(name, value)
                .map_err(|e| format!("setting {name}={value} rejected: {e}"))?;
        }
        Template::new("t", source, compiled_settings).map_err(|e| e.to_string())
    }));
    match built {
        Ok(Ok(template)) => Ok(template),
        Ok(Err(message)) => Err(Actual::Error(message)),
        Err(payload) => Err(Actual::Panic(panic_message(payload))),
    }
}

fn render(template: &Template, input: &str) -> Actual {
    let input: Value = match serde_json::from_str(input) {
        Ok(v) => v,
        Err(e) => return Actual::Panic(format!("corpus input is not JSON: {e}")),
    };
    let actual = match catch_unwind(AssertUnwindSafe(|| template.render(&input))) {
        Ok(Ok(out)) => Actual::Output(out),
        Ok(Err(e)) => Actual::Error(e.to_string()),
        Err(payload) => return Actual::Panic(panic_message(payload)),
    };
    // `Template::input_fields` must be sound: the record cut down to those fields renders the
    // same (`webhook-sink render` builds only them).
    if let (Some(fields), Value::Object(map)) = (template.input_fields(), &input) {
        let mut cut = map.clone();
        cut.retain(|key, value| {
            let Some(field) = fields.iter().find(|f| &f.name == key) else {
                return false;
            };
            if let (Some(keys), Value::Object(inner)) = (&field.keys, value) {
                inner.retain(|key, _| keys.contains(key));
            }
            true
        });
        let projected = match template.render(&Value::Object(cut)) {
            Ok(out) => Actual::Output(out),
            Err(e) => Actual::Error(e.to_string()),
        };
        if projected != actual {
            return Actual::Panic(format!(
                "input_fields {fields:?} is unsound: {projected:?} instead of {actual:?}"
            ));
        }
    }
    actual
}

/// Longest a single compile+render may take before the case counts as hung (debug builds are slow).
const LINE_TIMEOUT: Duration = Duration::from_secs(20);
/// Stack of the worker thread: generous, so a deep-but-bounded recursion is judged on its result.
const WORKER_STACK: usize = 16 * 1024 * 1024;

/// Compiles and renders one case on a worker thread, one result per input line. A hung render is
/// reported (and its thread abandoned) instead of hanging the whole corpus run.
fn run_isolated(case: &Case) -> Vec<Actual> {
    let (tx, rx) = mpsc::channel();
    let settings = case.settings.clone();
    let source = case.template.clone();
    let inputs = case.inputs.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("case {}", case.name))
        .stack_size(WORKER_STACK)
        .spawn(move || match compile(&settings, &source) {
            Ok(template) => {
                for input in &inputs {
                    if tx.send(render(&template, input)).is_err() {
                        return;
                    }
                }
            }
            Err(failed) => {
                for _ in &inputs {
                    if tx.send(failed.clone()).is_err() {
                        return;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        return vec![Actual::Panic(format!("cannot spawn a worker: {e}")); case.inputs.len()];
    }
    let mut results = Vec::with_capacity(case.inputs.len());
    while results.len() < case.inputs.len() {
        match rx.recv_timeout(LINE_TIMEOUT) {
            Ok(actual) => results.push(actual),
            Err(RecvTimeoutError::Timeout) => {
                let why = format!("no result within {LINE_TIMEOUT:?} (hung?)");
                results.resize(case.inputs.len(), Actual::Panic(why));
            }
            Err(RecvTimeoutError::Disconnected) => {
                results.resize(case.inputs.len(), Actual::Panic("worker died".to_string()));
            }
        }
    }
    results
}

fn shorten(s: &str) -> String {
    const MAX: usize = 300;
    let escaped = format!("{s:?}");
    if escaped.chars().count() <= MAX {
        escaped
    } else {
        let cut: String = escaped.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

/// Totals of one run, and the details of what failed.
#[derive(Default)]
struct Report {
    lines: usize,
    lines_ok: usize,
    error_lines: usize,
    messages_ok: usize,
    cases: usize,
    failing_cases: BTreeSet<String>,
    details: String,
    message_details: String,
}

impl Report {
    fn run_case(&mut self, file: &str, case: &Case) {
        let key = format!("{file}:{}", case.name);
        let sandbox = file == SANDBOX_FILE;
        self.cases += 1;
        let actuals = run_isolated(case);
        let mut case_ok = true;
        let lines = case.inputs.iter().zip(&case.expected).zip(actuals);
        for (i, ((input, expected_line), actual)) in lines.enumerate() {
            self.lines += 1;
            let expected = match parse_expected(expected_line) {
                Ok(e) => e,
                Err(message) => {
                    case_ok = false;
                    let _ = writeln!(self.details, "{key} input #{}: {message}", i + 1);
                    continue;
                }
            };
            let line_ok = match (&expected, &actual) {
                (_, Actual::Error(_)) if sandbox => true,
                (Expected::Output(want), Actual::Output(got)) => want == got,
                (Expected::Error(want), Actual::Error(got)) => {
                    self.error_lines += 1;
                    if want == got {
                        self.messages_ok += 1;
                    } else {
                        let _ = writeln!(
                            self.message_details,
                            "{key} input #{}:\n    freemarker: {}\n    ours:       {}",
                            i + 1,
                            shorten(want),
                            shorten(got)
                        );
                    }
                    true
                }
                (Expected::Error(_), _) => {
                    self.error_lines += 1;
                    false
                }
                _ => false,
            };
            if line_ok {
                self.lines_ok += 1;
                continue;
            }
            case_ok = false;
            let want = match (&expected, sandbox) {
                (_, true) => "an error (sandboxed feature)".to_string(),
                (Expected::Output(s), _) => format!("output {}", shorten(s)),
                (Expected::Error(s), _) => format!("error {}", shorten(s)),
            };
            let got = match &actual {
                Actual::Output(s) => format!("output {}", shorten(s)),
                Actual::Error(s) => format!("error {}", shorten(s)),
                Actual::Panic(s) => format!("PANIC {}", shorten(s)),
            };
            let _ = writeln!(
                self.details,
                "{key} input #{} {}\n    expected: {want}\n    actual:   {got}",
                i + 1,
                shorten(input)
            );
        }
        if !case_ok {
            self.failing_cases.insert(key);
        }
    }
}

/// A list for an assertion message: its length and its first entries.
fn first_few(keys: &[&String]) -> String {
    const SHOWN: usize = 25;
    let shown: Vec<&str> = keys.iter().take(SHOWN).map(|k| k.as_str()).collect();
    let more = if keys.len() > SHOWN { ", ..." } else { "" };
    format!("{} [{}{more}]", keys.len(), shown.join(", "))
}

fn read_known_failures(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn write_known_failures(path: &Path, failing: &BTreeSet<String>) {
    let mut text = String::from(
        "# Corpus cases (file:case) our engine is known to fail; tests/conformance.rs fails on any\n\
         # other failure and on a listed case that passes. Regenerate: CONFORMANCE_UPDATE_KNOWN=1.\n",
    );
    for key in failing {
        text.push_str(key);
        text.push('\n');
    }
    if let Err(e) = std::fs::write(path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
}

#[test]
fn corpus_matches_apache_freemarker() {
    // one line per engine panic (they are caught and reported per case below), no backtraces
    std::panic::set_hook(Box::new(|info| eprintln!("engine panic: {info}")));
    let dir = corpus_dir();
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ftlcases"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());

    let mut report = Report::default();
    let mut all_keys = BTreeSet::new();
    for path in &files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let cases = parse_cases(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        for case in &cases {
            let key = format!("{file}:{}", case.name);
            if key.contains(&filter) {
                all_keys.insert(key);
                report.run_case(&file, case);
            }
        }
    }

    drop(std::panic::take_hook()); // back to the default hook for this test's own assertions
    println!("{}", report.details);
    if std::env::var_os("CONFORMANCE_MESSAGES").is_some() {
        println!("error message differences:\n{}", report.message_details);
    }
    println!(
        "conformance: {}/{} outputs match, {}/{} error messages match ({} cases, {} failing)",
        report.lines_ok,
        report.lines,
        report.messages_ok,
        report.error_lines,
        report.cases,
        report.failing_cases.len()
    );

    let known_path = dir.join("KNOWN_FAILURES");
    if std::env::var_os("CONFORMANCE_UPDATE_KNOWN").is_some() {
        assert!(
            filter.is_empty(),
            "CONFORMANCE_UPDATE_KNOWN needs the whole corpus (no filter)"
        );
        write_known_failures(&known_path, &report.failing_cases);
        println!("rewrote {}", known_path.display());
        return;
    }
    let known: BTreeSet<String> = read_known_failures(&known_path)
        .into_iter()
        .filter(|k| k.contains(&filter))
        .collect();
    let new_failures: Vec<&String> = report.failing_cases.difference(&known).collect();
    let now_passing: Vec<&String> = known
        .iter()
        .filter(|k| !report.failing_cases.contains(*k))
        .collect();
    let unknown: Vec<&String> = known.iter().filter(|k| !all_keys.contains(*k)).collect();
    assert!(
        new_failures.is_empty() && now_passing.is_empty() && unknown.is_empty(),
        "conformance changed against KNOWN_FAILURES:\n  new failures: {}\n  \
         now passing (remove from the list): {}\n  listed but no such case: {}\n\
         (details above with --nocapture; CONFORMANCE_UPDATE_KNOWN=1 rewrites the list)",
        first_few(&new_failures),
        first_few(&now_passing),
        first_few(&unknown)
    );
}

#[test]
fn case_file_format_is_read_as_documented() {
    let text = "header comment\n\
#### case: one\n\
#### settings\n\
number_format=0.##\n\
\n\
#### template\n\
a\r\n\
\n\
#### input\n\
{\"a\":1}\n\
\n\
{}\n\
#### expected\n\
{\"output\":\"x\"}\n\
{\"error\":\"y\"}\n\
\n\
#### case: two\n\
#### template\n\
#### input\n\
{}\n\
#### expected\n\
{\"output\":\"\"}\n";
    let cases = parse_cases("f", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].name, "one");
    assert_eq!(
        cases[0].settings,
        vec![("number_format".to_string(), "0.##".to_string())]
    );
    assert_eq!(
        cases[0].template, "a\r\n",
        "one final newline is removed, the CR and the empty line stay"
    );
    assert_eq!(cases[0].inputs, vec!["{\"a\":1}", "{}"]);
    assert_eq!(cases[0].expected.len(), 2);
    assert_eq!(cases[1].template, "");
}

#[test]
fn case_file_errors_are_reported() {
    let dup = "#### case: a\n#### template\nx\n#### input\n{}\n#### expected\n{\"output\":\"x\"}\n\
               #### case: a\n#### template\nx\n#### input\n{}\n#### expected\n{\"output\":\"x\"}\n";
    assert!(parse_cases("f", dup).unwrap_err().contains("duplicate"));
    let unknown = "#### case: a\n#### templat\nx\n";
    assert!(parse_cases("f", unknown)
        .unwrap_err()
        .contains("unknown marker"));
    let missing =
        "#### case: a\n#### template\nx\n#### input\n{}\n{}\n#### expected\n{\"output\":\"x\"}\n";
    assert!(parse_cases("f", missing)
        .unwrap_err()
        .contains("2 input lines but 1 expected"));
}

/// `bench.ftlcases` is how we know the benchmarked renders are right: it must hold exactly the
/// benchmark templates and events.
#[test]
fn bench_cases_mirror_the_benchmark_inputs() {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    };
    let cases = parse_cases(
        "bench.ftlcases",
        &read(&corpus_dir().join("bench.ftlcases")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<String> = read(&benches.join("events.ndjson"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    for name in ["event", "user", "cart"] {
        let case_name = format!("bench-{name}");
        let case = cases
            .iter()
            .find(|c| c.name == case_name)
            .unwrap_or_else(|| panic!("bench.ftlcases has no case {case_name}"));
        let template = read(&benches.join("templates").join(format!("{name}.ftl")));
        assert_eq!(
            case.template, template,
            "{case_name} differs from templates/{name}.ftl"
        );
        assert_eq!(
            case.inputs, events,
            "{case_name} inputs differ from events.ndjson"
        );
        assert_eq!(
            case.settings,
            vec![("number_format".to_string(), "computer".to_string())]
        );
    }
}
