//! Bounded fuzzing of the pipeline config parser and its environment interpolation.
//!
//! A config file is operator input, but it is also what a typo, a bad merge or an unset
//! variable turns into garbage, so [`Config::from_toml_str`] (with the `webhook` sink
//! registered) and [`interpolate`] must answer every text with a value or an error naming the
//! problem, never a panic or a hang. Three kinds of input are thrown at them:
//! - random text and random bytes (lossily decoded);
//! - the example configs (and a seed using every documented key) edited character by character:
//!   slices deleted or duplicated, characters flipped, TOML and FreeMarker punctuation, `${`,
//!   huge numbers and unusual Unicode spliced in;
//! - the same seeds edited as TOML trees: a value replaced by a random one of any type (huge
//!   durations, NaN, negative counts, odd URLs and conditions), removed, or a key added.
//!
//! Each property runs a fixed number of cases with a per-case deadline (proptest's `timeout`,
//! which runs the cases in a child process, so a hang or a stack overflow is reported with its
//! input). Failures are saved in `tests/proptest-regressions/fuzz_config.txt` and replayed first.

use std::env::VarError;
use std::path::Path;

use pipeline_core::Registry;
use pipeline_host::config::env::{interpolate, interpolate_env};
use pipeline_host::Config;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

/// The example configs, which name their templates relative to `examples/`.
const EXAMPLES: [&str; 2] = [
    include_str!("../examples/amplitude-to-webhook.toml"),
    include_str!("../examples/stdin-to-webhook.toml"),
];

/// A valid config touching every documented section, so edits reach every validator.
const FULL: &str = r#"
data_dir = "./data"

[api]
address = "127.0.0.1:9598"

[sources.amp]
type = "amplitude_http"
address = "127.0.0.1:8080"
api_keys = ["key-1", "key-2"]
min_id_length = 5
backpressure_timeout_ms = 1000
max_in_flight_requests = 64

[sources.amp.cors]
allowed_origins = ["https://app.example.com", "http://localhost:3000"]

[sources.synthetic]
type = "demo"
count = 100
rate = 0.0
seed = 7
identifies = false

[transforms.purchases]
type = "filter"
inputs = ["amp", "synthetic"]
condition = { all = [
  { field = "event_type", op = "is", value = ["Purchase", "click event"] },
  { not = { field = "user_properties.plan", op = "starts_with", value = "free" } },
  { any = [
    { field = "event_properties.price", op = "greater_or_equal", value = "10.5" },
    { field = "items.0.sku", op = "exists" },
  ] },
] }

[sinks.hook]
type = "webhook"
inputs = ["purchases"]
url = "https://hooks.example.com/webhook?x=1"
headers = { Authorization = "Bearer abc", X-Team = "growth" }

[sinks.hook.events]
enabled = true
template = """{"id": "${input.user_id!}", "n": ${(input.event_properties.price!0)?c}, "skus": [<#list input.items![] as i>"${i.sku!}"<#sep>, </#list>]}"""
event_types = ["click event", "Purchase"]
condition = { field = "event_properties.price", op = "greater_than", value = 10 }

[sinks.hook.users]
enabled = true
template_file = "templates/user.ftl"
condition = { field = "user_properties.email", op = "ends_with", value = ["@example.com"] }

[sinks.hook.template_settings]
number_format = "computer"
locale = "en_US"
time_zone = "Europe/Berlin"
boolean_format = "yes,no"

[sinks.hook.request]
timeout = "10s"
concurrency = "adaptive"
rate_limit = 100

[sinks.hook.retry]
tries = 3
initial_backoff = "100ms"
jitter = 0.5
attempt_budget = "4s"
schedule = ["30s", "1m", "1h"]

[sinks.hook.store]
max_records = 1000000
when_full = "drop_newest"
spill_after = "2s"

[sinks.hook.circuit]
enabled = true
failures = 5
probe_interval = "500ms"
max_probe_interval = "5s"

[sinks.hook.acknowledgements]
enabled = true

[sinks.console]
type = "console"
inputs = ["amp"]
"#;

/// Every seed the mutations start from.
fn seeds() -> Vec<&'static str> {
    let mut seeds = EXAMPLES.to_vec();
    seeds.push(FULL);
    seeds
}

/// What gets spliced into a config: TOML and FreeMarker punctuation, references, numbers at
/// and beyond every integer width, durations that overflow, and Unicode that trips byte offsets.
const SPLICES: &[&str] = &[
    "${",
    "}",
    "${PORT}",
    "${NOPE:-x}",
    "${NOPE-}",
    "${9X}",
    "$$",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "{{",
    "}}",
    "=",
    ",",
    ".",
    "#",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\\",
    "\\u",
    "\\uD800",
    "\\U0010FFFF",
    "\\x41",
    "99999999999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "-inf",
    "-0.0",
    "0x7fffffffffffffff",
    "1_000",
    "0o777",
    "1979-05-27T07:32:00Z",
    "true",
    "é",
    "世界",
    "🎉",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "\u{fffd}",
    "\u{10ffff}",
    "<#list 1..3 as i>",
    "${input.x}",
    "<#if ",
    "</#if>",
    "?c",
    "type = \"webhook\"",
    "inputs = []",
    "[sinks.x]",
    "[sources.y]\ntype = \"stdin\"\n",
    "op = \"greater_than\"",
    "condition = { not = ",
    "\"18446744073709551615h\"",
    "\"0ms\"",
    "\"adaptive\"",
    "\"-1s\"",
    "template = ",
];

/// Keys the config knows, for added keys and random tables.
const KEYS: &[&str] = &[
    "type",
    "inputs",
    "url",
    "headers",
    "user_agent",
    "events",
    "users",
    "template",
    "template_file",
    "event_types",
    "condition",
    "field",
    "op",
    "value",
    "all",
    "any",
    "not",
    "enabled",
    "template_settings",
    "number_format",
    "locale",
    "time_zone",
    "request",
    "timeout",
    "concurrency",
    "rate_limit",
    "retry",
    "tries",
    "initial_backoff",
    "jitter",
    "attempt_budget",
    "attempts",
    "window",
    "schedule",
    "store",
    "max_records",
    "when_full",
    "spill_after",
    "circuit",
    "failures",
    "probe_interval",
    "max_probe_interval",
    "acknowledgements",
    "tls",
    "ca_file",
    "address",
    "api_keys",
    "min_id_length",
    "backpressure_timeout_ms",
    "max_in_flight_requests",
    "cors",
    "allowed_origins",
    "count",
    "rate",
    "seed",
    "users",
    "start_time",
    "identifies",
    "data_dir",
    "api",
    "sources",
    "transforms",
    "sinks",
    "é",
    "",
];

/// Strings worth putting where the config expects one: each validator's edge cases.
const STRINGS: &[&str] = &[
    "",
    " ",
    "0ms",
    "1ms",
    "10s",
    "5m",
    "4h",
    "18446744073709551615s",
    "18446744073709551615h",
    "99999999999999999999ms",
    "-1s",
    "1.5s",
    "1 s",
    "s",
    "1d",
    "adaptive",
    "block",
    "drop_newest",
    "webhook",
    "stdin",
    "demo",
    "amplitude_http",
    "filter",
    "console",
    "blackhole",
    "http://127.0.0.1:1/x",
    "https://[::1]:65535/",
    "https://[::1]:99999/",
    "http://",
    "ftp://example.com",
    "http://exa mple.com",
    "http://127.0.0.1:8080/\u{0}",
    "127.0.0.1:0",
    "[::]:80",
    "0.0.0.0:99999",
    "localhost:80",
    "is",
    "is_not",
    "contains",
    "greater_than",
    "exists",
    "does_not_exist",
    "a..b",
    ".",
    "event_properties.price",
    "items.0.sku",
    "${input.x}",
    "<#list 1..3 as i>${i}</#list>",
    "<#if",
    "${",
    "0.##",
    "#,##0.00;(#)",
    "0.0E0",
    "\u{a4}#",
    "'",
    "computer",
    "currency",
    "xx_YY",
    "zz",
    "GMT+25:00",
    "Mars/Olympus",
    "UTC",
    "yes,no",
    "true,false",
    ",",
    "1979-05-27",
    "templates/event.ftl",
    "templates",
    "no/such/file.ftl",
    "é",
    "\u{202e}",
    "🎉",
];

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Milliseconds per case (debug build); exceeding it is a failure, reported with the input.
        timeout: 20_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_config.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// The registry `webhook-sink run` builds: the host's built-ins plus the webhook sink.
fn registry() -> Registry {
    let mut registry = Registry::new();
    webhook_sink::register(&mut registry);
    registry
}

/// The checks every parse result must pass: an error names its problem.
fn check(result: Result<Config, pipeline_core::ConfigError>) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        let message = error.to_string();
        prop_assert!(!message.trim().is_empty(), "an error without a message");
    }
    Ok(())
}

/// Parses `text` as a config file in `examples/` (so `template_file`s are found).
fn parse_as_example(text: &str) -> Result<(), TestCaseError> {
    check(Config::from_toml_str_in(
        text,
        &registry(),
        Path::new("examples"),
    ))
}

/// One character-level edit; positions are taken modulo the text's length when applied.
#[derive(Clone, Debug)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Duplicate(Index, usize, Index),
    Flip(Index, char),
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(SPLICES).prop_map(str::to_owned),
        1 => "\\PC{1,8}",
        1 => any::<char>().prop_map(String::from),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => (any::<Index>(), 1..40usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        3 => (any::<Index>(), piece()).prop_map(|(at, text)| Edit::Insert(at, text)),
        1 => (any::<Index>(), 1..80usize, any::<Index>())
            .prop_map(|(at, len, to)| Edit::Duplicate(at, len, to)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(at, c)| Edit::Flip(at, c)),
    ]
}

/// `text` with `edits` applied in order (on characters, so the result stays valid UTF-8).
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len();
        match edit {
            Edit::Delete(at, n) => {
                let start = at.index(len + 1);
                chars.drain(start..(start + n).min(len));
            }
            Edit::Insert(at, text) => {
                let at = at.index(len + 1);
                chars.splice(at..at, text.chars());
            }
            Edit::Duplicate(at, n, to) => {
                let start = at.index(len + 1);
                let slice = chars[start..(start + n).min(len)].to_vec();
                let to = to.index(len + 1);
                chars.splice(to..to, slice);
            }
            Edit::Flip(at, c) if len > 0 => chars[at.index(len)] = *c,
            Edit::Flip(..) => {}
        }
    }
    chars.into_iter().collect()
}

/// A seed with 1 to 5 character edits (more, and next to nothing gets past the TOML parser).
fn edited_seed() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(seeds()),
        proptest::collection::vec(edit(), 1..6),
    )
        .prop_map(|(seed, edits)| apply(seed, &edits))
}

/// A TOML scalar, biased to the validators' edge cases.
fn toml_leaf() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(|s| toml::Value::String(s.to_owned())),
        1 => "\\PC{0,12}".prop_map(toml::Value::String),
        2 => prop_oneof![
            any::<i64>(),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(-1),
            Just(0),
            Just(u32::MAX as i64 + 1),
        ]
        .prop_map(toml::Value::Integer),
        1 => proptest::num::f64::ANY.prop_map(toml::Value::Float),
        1 => any::<bool>().prop_map(toml::Value::Boolean),
        1 => Just(toml::Value::Datetime(
            "1979-05-27T07:32:00Z".parse().expect("a TOML datetime")
        )),
    ]
}

/// A TOML value of any type: mostly scalars, sometimes small arrays and tables of them.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let nested = toml_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(proptest::sample::select(KEYS), inner, 0..4).prop_map(
                |map| toml::Value::Table(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    });
    prop_oneof![3 => toml_leaf(), 1 => nested]
}

/// One step into a TOML tree.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Item(usize),
}

/// The path of every value in `value` (itself included, as the empty path).
fn value_paths(value: &toml::Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                prefix.push(Step::Key(key.clone()));
                value_paths(child, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Item(index));
                value_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(value: &'a mut toml::Value, path: &[Step]) -> &'a mut toml::Value {
    path.iter().fold(value, |value, step| match (step, value) {
        (Step::Key(key), toml::Value::Table(table)) => table.get_mut(key).expect("a known key"),
        (Step::Item(index), toml::Value::Array(items)) => &mut items[*index],
        _ => unreachable!("paths are taken from the same tree"),
    })
}

/// One edit of a TOML tree.
#[derive(Clone, Debug)]
enum TreeEdit {
    /// Replace the value at the chosen path (never the root).
    Replace(Index, toml::Value),
    /// Remove the value at the chosen path from its table or array.
    Remove(Index),
    /// Add (or overwrite) a key in the chosen value when it is a table.
    Add(Index, &'static str, toml::Value),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        3 => (any::<Index>(), toml_value()).prop_map(|(at, v)| TreeEdit::Replace(at, v)),
        1 => any::<Index>().prop_map(TreeEdit::Remove),
        2 => (any::<Index>(), proptest::sample::select(KEYS), toml_value())
            .prop_map(|(at, key, v)| TreeEdit::Add(at, key, v)),
    ]
}

/// `root` with `edit` applied.
fn apply_tree(root: &mut toml::Value, edit: &TreeEdit) {
    let mut paths = Vec::new();
    value_paths(root, &mut Vec::new(), &mut paths);
    match edit {
        TreeEdit::Replace(at, value) => {
            let path = &paths[at.index(paths.len())];
            if !path.is_empty() {
                *at_path(root, path) = value.clone();
            }
        }
        TreeEdit::Remove(at) => {
            let path = &paths[at.index(paths.len())];
            if let Some((last, parent)) = path.split_last() {
                match (last, at_path(root, parent)) {
                    (Step::Key(key), toml::Value::Table(table)) => {
                        table.remove(key);
                    }
                    (Step::Item(index), toml::Value::Array(items)) => {
                        items.remove(*index);
                    }
                    _ => unreachable!("paths are taken from the same tree"),
                }
            }
        }
        TreeEdit::Add(at, key, value) => {
            let path = &paths[at.index(paths.len())];
            if let toml::Value::Table(table) = at_path(root, path) {
                table.insert((*key).to_owned(), value.clone());
            }
        }
    }
}

/// A seed with 1 to 4 tree edits, written back as TOML (`None` when the tree cannot be: TOML
/// has no way to write some shapes, e.g. a table after plain keys inside an array).
fn tree_edited_seed(seed: &str, edits: &[TreeEdit]) -> Option<String> {
    let table: toml::Table = seed.parse().expect("the seeds are TOML");
    let mut root = toml::Value::Table(table);
    for edit in edits {
        apply_tree(&mut root, edit);
    }
    toml::to_string(&root).ok()
}

/// Soup of TOML tokens and config words, for the environment interpolation walk.
const ENV_PIECES: &[&str] = &[
    "$",
    "${",
    "}",
    "${PORT}",
    "${QUOTE}",
    "${NESTED}",
    "${NOPE}",
    "${NOPE:-d e}",
    "${NOPE-}",
    "${EMPTY:-x}",
    "${9}",
    "${A.B}",
    "${ X }",
    ":-",
    "-",
    "$$",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\\\"",
    "\n",
    "\r\n",
    "#",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "=",
    ",",
    ".",
    " ",
    "a",
    "url",
    "template",
    "template = ",
    "é",
    "世",
    "\u{feff}",
    "🎉",
];

fn env_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(ENV_PIECES).prop_map(str::to_owned),
                1 => "\\PC{1,3}",
            ],
            0..48,
        )
        .prop_map(|pieces| pieces.concat()),
        1 => "\\PC{0,200}",
    ]
}

/// The variables the interpolation harness sees: values that are TOML syntax, or look like
/// references themselves (they must be inserted raw, never expanded again).
fn lookup(name: &str) -> Result<String, VarError> {
    match name {
        "PORT" => Ok("8080".to_owned()),
        "QUOTE" => Ok("a\"b\\c\n'd'".to_owned()),
        "NESTED" => Ok("${PORT}$$".to_owned()),
        "EMPTY" => Ok(String::new()),
        "BAD" => Err(VarError::NotUnicode("\u{fffd}".into())),
        _ => Err(VarError::NotPresent),
    }
}

/// The checks every interpolation result must pass.
fn check_interpolation(text: &str) -> Result<Option<String>, TestCaseError> {
    match interpolate(text, lookup) {
        Ok(out) => {
            if !text.contains('$') {
                prop_assert_eq!(&out, text, "text without `$` must come back as it is");
            }
            Ok(Some(out))
        }
        Err(error) => {
            prop_assert!(!error.problems.is_empty(), "an error without problems");
            let lines = text.split('\n').count();
            for problem in &error.problems {
                prop_assert!(
                    (1..=lines).contains(&problem.line) && problem.column >= 1,
                    "{problem} is outside the text ({lines} lines)"
                );
            }
            prop_assert!(!error.to_string().is_empty());
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(fuzz_config(500))]

    #[test]
    fn random_text_is_refused_with_a_message(text in "\\PC{0,400}") {
        check(Config::from_toml_str(&text, &registry()))?;
    }

    #[test]
    fn random_bytes_are_refused_with_a_message(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(Config::from_toml_str(&String::from_utf8_lossy(&bytes), &registry()))?;
    }

    #[test]
    fn edited_examples_are_parsed_or_refused(text in edited_seed()) {
        parse_as_example(&text)?;
    }

    #[test]
    fn examples_with_random_values_are_parsed_or_refused(
        seed in proptest::sample::select(seeds()),
        edits in proptest::collection::vec(tree_edit(), 1..4),
    ) {
        if let Some(text) = tree_edited_seed(seed, &edits) {
            parse_as_example(&text)?;
        }
    }

    #[test]
    fn interpolation_answers_any_text(text in env_text()) {
        check_interpolation(&text)?;
        // The process environment's variant only has to finish.
        let _ = interpolate_env(&text);
    }

    #[test]
    fn interpolated_edited_examples_are_parsed_or_refused(text in edited_seed()) {
        // What `Config::from_path` does: interpolate, then parse.
        if let Some(out) = check_interpolation(&text)? {
            parse_as_example(&out)?;
        }
    }
}

#[test]
fn every_seed_is_a_valid_config() {
    for seed in seeds() {
        if let Err(error) = Config::from_toml_str_in(seed, &registry(), Path::new("examples")) {
            panic!("{error}\n{seed}");
        }
    }
}

#[test]
fn every_seed_survives_a_round_trip_through_the_tree_editor() {
    for seed in seeds() {
        let text = tree_edited_seed(seed, &[]).expect("the seeds can be written back");
        if let Err(error) = Config::from_toml_str_in(&text, &registry(), Path::new("examples")) {
            panic!("{error}\n{text}");
        }
    }
}

#[test]
fn a_schedule_gap_longer_than_a_window_is_refused() {
    // Found while fuzzing: `retry.schedule` gaps were not range-checked, and a gap of
    // u64::MAX seconds panicked in the retry store (`Duration::mul_f64` when jittered, then
    // `SystemTime + gap`) after the first failed attempt.
    let text = FULL.replace(
        r#"schedule = ["30s", "1m", "1h"]"#,
        r#"schedule = ["30s", "18446744073709551615h", "1h"]"#,
    );
    let error = Config::from_toml_str_in(&text, &registry(), Path::new("examples"))
        .expect_err("a gap beyond seven days");
    assert!(
        error.to_string().contains("sinks.hook.retry.schedule[1]"),
        "{error}"
    );
    let week = FULL.replace(r#""1m", "1h"]"#, r#""1m", "168h"]"#);
    assert!(Config::from_toml_str_in(&week, &registry(), Path::new("examples")).is_ok());
}
