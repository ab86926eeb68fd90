//! Bounded fuzzing of the FreeMarker engine: template parsing, rendering, settings, and the
//! built-ins that parse data (format patterns, dates, regular expressions, JSON).
//!
//! Templates come from operators, but the data they render comes from anyone who can send an
//! event, and the sink renders every record with them; the engine must answer every template and
//! every input with output or an [`Error`] (whose message and source excerpt can be printed),
//! never a panic or a hang. `engine_fuzz.rs` throws random fragments at it; this file starts from
//! real templates instead:
//! - every template of the conformance corpus (`tests/corpus/*.ftlcases`) and the two example
//!   templates, rendered as they are against random JSON and against the case's own inputs edited
//!   as trees;
//! - the same templates edited character by character (FTL tags, interpolations, built-ins, range
//!   operators, escapes and Unicode spliced in), parsed and rendered;
//! - data-parsing built-ins (`?string(pattern)`, `?datetime(pattern)`, `?matches`, `?eval_json`,
//!   `<#setting>` from data, ...) applied to random strings, numbers and patterns;
//! - every setting by name with random values.
//!
//! The engine meters steps, output and depth, but not the work a single built-in does (see
//! `resource_limits_a_single_builtin_can_exceed`): `(1..N)?join`, `?sort`, `?reverse` and
//! `?left_pad(N)` materialize N items first. The harness therefore bounds sizes by construction:
//! a number of five digits or more at a range end or in a pad width is clamped to 9999, and the
//! widths it generates stay at most 10,000.
//!
//! Each property runs a fixed number of cases with a per-case deadline (proptest's `timeout`,
//! which runs the cases in a child process, so a hang or a stack overflow is reported with its
//! input). Failures are saved in `tests/proptest-regressions/fuzz_templates.txt`.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use freemarker::{Error, ErrorKind, Settings, Template};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Milliseconds per case (debug build); exceeding it is a failure, reported with the input.
        timeout: 10_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_templates.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// The sandbox limits every fuzzed render runs with.
const MAX_STEPS: u64 = 20_000;
const MAX_OUTPUT: usize = 64 * 1024;
const MAX_ALLOC: usize = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// One template to start from, with the settings and inputs its corpus case gives it.
#[derive(Debug)]
struct Seed {
    name: String,
    settings: Vec<(String, String)>,
    template: String,
    inputs: Vec<Value>,
}

/// The example templates the sink ships, with the sink's settings.
fn example_seeds() -> Vec<Seed> {
    let sink_settings = || {
        [
            ("number_format", "computer"),
            ("locale", "en_US"),
            ("time_zone", "UTC"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    };
    let input = json!({"user_id": "u1", "device_id": "d1", "event_type": "click event",
        "event_time": "2022-10-24 20:07:32.123", "user_properties": {"email": "some@email.com"}});
    [
        (
            "event.ftl",
            include_str!("../../../examples/templates/event.ftl"),
        ),
        (
            "user.ftl",
            include_str!("../../../examples/templates/user.ftl"),
        ),
    ]
    .into_iter()
    .map(|(name, template)| Seed {
        name: format!("examples/templates/{name}"),
        settings: sink_settings(),
        template: template.to_owned(),
        inputs: vec![input.clone()],
    })
    .collect()
}

/// The cases of one `.ftlcases` file (format: `tests/corpus/README.md`); the template loses the
/// one newline before the next marker, as the conformance runner reads it.
fn read_cases(file: &str, text: &str) -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    let mut section = "";
    for line in text.split_inclusive('\n') {
        if let Some(marker) = line.strip_prefix("#### ") {
            let marker = marker.trim_end();
            if let Some(name) = marker.strip_prefix("case:") {
                seeds.push(Seed {
                    name: format!("{file}:{}", name.trim()),
                    settings: Vec::new(),
                    template: String::new(),
                    inputs: Vec::new(),
                });
                section = "";
            } else {
                section = if marker == "template" {
                    "template"
                } else {
                    marker
                };
            }
            continue;
        }
        let Some(seed) = seeds.last_mut() else {
            continue;
        };
        match section {
            "template" => seed.template.push_str(line),
            "settings" => {
                if let Some((name, value)) = line.trim().split_once('=') {
                    seed.settings.push((name.to_owned(), value.to_owned()));
                }
            }
            "input" => {
                if let Ok(input) = serde_json::from_str(line.trim()) {
                    seed.inputs.push(input);
                }
            }
            _ => {}
        }
    }
    for seed in &mut seeds {
        if seed.template.ends_with('\n') {
            seed.template.pop();
            if seed.template.ends_with('\r') {
                seed.template.pop();
            }
        }
    }
    seeds
}

/// Every corpus template and the example templates, read once.
fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("the corpus directory")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "ftlcases"))
            .collect();
        files.sort();
        let mut seeds = example_seeds();
        for path in files {
            let text = std::fs::read_to_string(&path).expect("a corpus file");
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            seeds.extend(read_cases(&file, &text));
        }
        seeds
    })
}

fn seed() -> impl Strategy<Value = &'static Seed> {
    any::<Index>().prop_map(|at| {
        let seeds = seeds();
        &seeds[at.index(seeds.len())]
    })
}

/// The seed's settings (those the engine accepts) within the fuzzing limits.
fn settings_of(seed: &Seed) -> Settings {
    let mut settings = limited();
    for (name, value) in &seed.settings {
        let _ = settings.set(name, value);
    }
    settings
}

fn limited() -> Settings {
    let mut settings = Settings::default();
    settings.max_steps = MAX_STEPS;
    settings.max_output_bytes = MAX_OUTPUT;
    settings.max_alloc_bytes = MAX_ALLOC;
    settings
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// An error names its problem, points inside the source, and prints (with its excerpt).
fn check_error(error: &Error, source: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !error.message().trim().is_empty(),
        "an error without a message"
    );
    if let Some(line) = error.line() {
        let lines = source.split('\n').count();
        prop_assert!(
            (1..=lines).contains(&line),
            "line {line} of {lines}: {error}"
        );
    }
    if let Some(column) = error.column() {
        prop_assert!(column >= 1, "column {column}: {error}");
    }
    prop_assert!(!error.to_string().is_empty());
    let _ = format!("{error:#}");
    Ok(())
}

/// Parses and renders `source` against each input: output within the limit, or a proper error.
fn check_template(
    source: &str,
    settings: Settings,
    inputs: &[&Value],
) -> Result<(), TestCaseError> {
    let template = match Template::new("fuzz", source, settings) {
        Ok(template) => template,
        Err(error) => return check_error(&error, source),
    };
    for input in inputs {
        match template.render(input) {
            Ok(out) => prop_assert!(out.len() <= MAX_OUTPUT, "{} bytes of output", out.len()),
            Err(error) => check_error(&error, source)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Keys the corpus and the example templates read, so random inputs reach their paths.
const KEYS: &[&str] = &[
    "a",
    "b",
    "c",
    "n",
    "s",
    "x",
    "k",
    "v",
    "d",
    "items",
    "list",
    "name",
    "price",
    "qty",
    "quantity",
    "user_id",
    "device_id",
    "event_type",
    "event_time",
    "user_properties",
    "email",
    "event_properties",
    "user",
    "value",
    "flag",
    "date",
    "",
    "é",
];

/// Strings that trip conversions: numbers, dates, booleans, markup, escapes.
const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "1.5",
    "1e309",
    "NaN",
    "Infinity",
    "12,5",
    "99999999999999999999",
    "true",
    "false",
    "yes",
    "2022-02-28 20:07:01",
    "2022-02-28T20:07:01.795Z",
    "2022-02-30",
    "20:07",
    "${x}",
    "<#if>",
    "\"",
    "'",
    "\\",
    "<b>&amp;</b>",
    "é",
    "世界",
    "🎉",
    "\u{0}",
    "\u{202e}",
    "\u{feff}",
    "a.b",
    "[1,2]",
    "{\"k\":1}",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            proptest::num::f64::ANY.prop_map(Value::from),
            (-10_000..10_000i64).prop_map(Value::from),
            Just(json!(0.1)),
            Just(json!(-0.0)),
            Just(json!(1e308)),
            Just(json!(5e-324)),
        ],
        3 => proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        1 => "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(proptest::sample::select(KEYS), inner, 0..5).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

/// An object input (what the sink binds to `input`).
fn object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(proptest::sample::select(KEYS), json_value(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// `value` with its `at`-th node (in document order) replaced by `with`.
fn replace_node(value: &mut Value, at: &mut usize, with: &Value) -> bool {
    if *at == 0 {
        *value = with.clone();
        return true;
    }
    *at -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_node(v, at, with)),
        Value::Object(map) => map.values_mut().any(|v| replace_node(v, at, with)),
        _ => false,
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// One of the seed's inputs (or `{}`) with up to three nodes replaced by random values.
fn edited_input(seed: &Seed, edits: &[(Index, Index, Value)]) -> Value {
    let mut input = match seed.inputs.as_slice() {
        [] => json!({}),
        inputs => inputs[edits
            .first()
            .map_or(0, |(pick, _, _)| pick.index(inputs.len()))]
        .clone(),
    };
    for (_, node, with) in edits {
        let mut at = node.index(count_nodes(&input));
        // The root stays an object: replace below it when there is something below.
        if at == 0 && count_nodes(&input) > 1 {
            at = 1;
        }
        if at > 0 {
            replace_node(&mut input, &mut at, with);
        }
    }
    input
}

// ---------------------------------------------------------------------------------------------
// Template edits
// ---------------------------------------------------------------------------------------------

/// What gets spliced into a template: tags and their ends, interpolations, built-ins (refused
/// ones too), range operators, special variables, escapes and Unicode.
const SPLICES: &[&str] = &[
    "${",
    "}",
    "#{",
    "<#",
    "</#",
    ">",
    "/>",
    "<@",
    "</@",
    "<#--",
    "-->",
    "[#",
    "[/#",
    "[=",
    "]",
    "<#if ",
    "</#if>",
    "<#list ",
    " as ",
    "</#list>",
    "<#else>",
    "<#sep>",
    "<#items as i>",
    "<#assign x = ",
    "<#macro m>",
    "</#macro>",
    "<@m/>",
    "<#nested>",
    "<#function f>",
    "<#return>",
    "<#attempt>",
    "<#recover>",
    "</#attempt>",
    "<#switch ",
    "<#case ",
    "<#break>",
    "<#noparse>",
    "</#noparse>",
    "<#compress>",
    "<#ftl ",
    "<#setting ",
    "<#include \"x\">",
    "<#import \"x\" as y>",
    "<#stop>",
    "<#t>",
    "<#lt>",
    "?",
    "??",
    "!",
    "(",
    ")",
    "[",
    "\"",
    "'",
    "r\"",
    "\\",
    "\\x",
    "\\u",
    "\\{",
    "..",
    "..<",
    "..*",
    "..!",
    "->",
    "?c",
    "?string(\"0.##\")",
    "?datetime",
    "?date(\"yyyy\")",
    "?eval",
    "?new()",
    "?api",
    "?eval_json",
    "?interpret",
    "?size",
    "?keys",
    "?join(\", \")",
    "?split(\"\")",
    "?left_pad(9)",
    "?matches(\"(a*)*\")",
    "9999",
    "0",
    "-1",
    "1.5",
    "0.1",
    "99999999999999999999999999",
    "input",
    "input.",
    ".now",
    ".vars",
    ".data_model",
    ".globals",
    ".locale",
    ".output_encoding",
    " gt ",
    " && ",
    "\n",
    "\r\n",
    "\t",
    "é",
    "世界",
    "🎉",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Duplicate(Index, usize, Index),
    Flip(Index, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop_oneof![
        4 => proptest::sample::select(SPLICES).prop_map(str::to_owned),
        1 => "\\PC{1,6}",
    ];
    prop_oneof![
        1 => (any::<Index>(), 1..30usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        3 => (any::<Index>(), piece).prop_map(|(at, text)| Edit::Insert(at, text)),
        1 => (any::<Index>(), 1..60usize, any::<Index>())
            .prop_map(|(at, n, to)| Edit::Duplicate(at, n, to)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(at, c)| Edit::Flip(at, c)),
    ]
}

/// `text` with `edits` applied in order, on characters.
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

/// `source` with every number of five digits or more at a range end, or as a pad, chunk or
/// truncate width, clamped to 9999: the work of one built-in is not metered (see the module doc).
fn bounded(source: &str) -> String {
    static RULES: OnceLock<[regex::Regex; 2]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            regex::Regex::new(
                r"(\.\.[<*!]?[\s(]*|(?:pad|chunk|truncate\w*|left_pad|right_pad)\(\s*)\d{5,}",
            )
            .expect("a regex"),
            regex::Regex::new(r"\d{5,}([\s)]*\.\.)").expect("a regex"),
        ]
    });
    let once = rules[0].replace_all(source, "${1}9999");
    rules[1].replace_all(&once, "9999${1}").into_owned()
}

// ---------------------------------------------------------------------------------------------
// Built-ins over data
// ---------------------------------------------------------------------------------------------

/// Snippets that parse data: `input.s` (a string), `input.n` (a number), `input.p` (a
/// pattern), `input.w` (a bounded width) and `input.j` (any integer), each attempted alone.
const DATA_SNIPPETS: &[&str] = &[
    "${input.n?string(input.p)}",
    "${input.s?number?string(input.p)}",
    "${input.s?datetime(input.p)}",
    "${input.s?date(input.p)?string(input.p)}",
    "${input.s?time(input.p)}",
    "${input.s?datetime(input.p)?iso_utc}",
    "${input.s?datetime.iso?iso_local}",
    "${input.s?date.xs}",
    "${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")?string(input.p)}",
    "${input.n?number_to_datetime?string(input.p)}",
    "${\"2022-02-28 20:07:01.795\"?datetime(\"yyyy-MM-dd HH:mm:ss.SSS\")?string(input.p)}",
    "${.now?string(input.p)} ${.now?date?string(input.p)} ${.now?time?string(input.p)}",
    "${\"2022-02-28 20:07:01\"?datetime(\"yyyy-MM-dd HH:mm:ss\")?string(input.p)?datetime(input.p)?iso_utc}",
    "<#setting datetime_format=input.p>${\"2022-02-28 20:07:01\"?datetime(\"yyyy-MM-dd HH:mm:ss\")}",
    "${input.n?number_to_date?iso_utc}",
    "${input.s?number}",
    "${input.s?number?c}",
    "${input.s?boolean?c}",
    "${input.s?eval_json?size}",
    "${input.s?eval_json?c}",
    "${input.s?matches(input.p)?c}",
    "<#list input.s?matches(input.p) as m>${m?groups?size}</#list>",
    "${input.s?replace(input.p, \"x\", \"r\")}",
    "${input.s?split(input.p, \"r\")?size}",
    "${input.s?split(input.p)?join(\"|\")}",
    "${input.s?keep_after(input.p, \"r\")}",
    "${input.s?index_of(input.p)}",
    "${input.s?contains(input.p)?c}",
    "${input.s?ensure_starts_with(input.p)}",
    "${input.s?left_pad(input.w, input.p)}",
    "${input.s?right_pad(input.w)}",
    "${input.s?truncate(input.j)}",
    "${input.s?truncate_w(input.w, input.p)}",
    "${input.s?substring(input.j)}",
    "${input.s[input.j..]}",
    "${input.s[input.j]}",
    "${(input.s?split(\"\"))?chunk(input.j)?size}",
    "${input.s?url}",
    "${input.s?url_path}",
    "${input.s?json_string}",
    "${input.s?js_string}",
    "${input.s?html}",
    "${input.s?xml}",
    "${input.s?rtf}",
    "${input.s?c}",
    "${input.s?cap_first} ${input.s?uncap_first} ${input.s?capitalize}",
    "${input.s?upper_case?lower_case}",
    "${input.s?word_list?size}",
    "${input.s?chop_linebreak?trim}",
    "${input.s?length}",
    "${input.n?abs} ${input.n?round} ${input.n?floor} ${input.n?ceiling}",
    "${input.n?c} ${input.n?string.computer} ${input.n?string.number}",
    "${input.n?string.currency} ${input.n?string.percent}",
    "${input.n?int} ${input.n?long} ${input.n?short} ${input.n?byte} ${input.n?double}",
    "${input.n?is_infinite?c} ${input.n?is_nan?c}",
    "${(input.n + input.j)?c} ${(input.n * input.j)?c} ${(input.n / input.j)?c}",
    "${(input.n % input.j)?c}",
    "${input.n?lower_abc} ${input.n?upper_abc} ${input.n?roman}",
    "<#setting number_format=input.p>${input.n}",
    "<#setting locale=input.p>${input.n} ${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")}",
    "<#setting time_zone=input.p>${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")}",
    "<#setting datetime_format=input.p>${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")}",
    "<#setting boolean_format=input.p>${true} ${input.s?boolean}",
    "${input.n?string(input.p)?number}",
    "<#list 1..input.w as i>${i}</#list>",
    "<#list input.s?split(\"\") as c>${c?index}</#list>",
];

/// Pattern text: pieces of number, date and regular-expression patterns, and anything.
fn pattern() -> impl Strategy<Value = String> {
    let piece = proptest::sample::select(vec![
        "0",
        "#",
        ",",
        ".",
        "E",
        "E0",
        "%",
        "\u{2030}",
        "\u{a4}",
        "'",
        "''",
        ";",
        "-",
        "+",
        "0.00",
        "#,##0.###",
        "0.###E0",
        "computer",
        "currency",
        "percent",
        "number",
        ",##0.00;(,##0.00)",
        "yyyy",
        "yy",
        "MM",
        "MMM",
        "MMMM",
        "dd",
        "HH",
        "hh",
        "mm",
        "ss",
        "SSS",
        "SSSSSSSSSS",
        "a",
        "z",
        "zzzz",
        "Z",
        "X",
        "XXX",
        "EEEE",
        "G",
        "u",
        "w",
        "'T'",
        "iso",
        "xs",
        "short",
        "medium",
        "long",
        "full",
        "iso_ms",
        "(",
        ")",
        "*",
        "+",
        "?",
        "[",
        "]",
        "{",
        "}",
        "{99999}",
        "\\",
        "\\d",
        "\\p{L}",
        "^",
        "$",
        "|",
        "(?i)",
        "(a*)*",
        "en_US",
        "de_DE",
        "ar_EG",
        "ja_JP_JP",
        "th_TH_TH",
        "xx",
        "UTC",
        "GMT+25:00",
        "GMT-03:30",
        "Europe/Berlin",
        "Mars/Olympus",
        "true,false",
        "y,n",
        ",",
        " ",
        "é",
        "\u{0}",
    ]);
    prop_oneof![
        4 => proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat()),
        1 => "\\PC{0,8}",
    ]
}

/// The input of a data snippet.
fn data_input() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        2 => pattern(),
        1 => "\\PC{0,16}",
        1 => "[0-9:. TZ+-]{0,25}",
    ];
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        proptest::num::f64::ANY.prop_map(Value::from),
        (-1000.0..1000.0f64).prop_map(Value::from),
        Just(json!(0)),
    ];
    let integer = prop_oneof![(-10..100i64), any::<i64>(), Just(i64::MIN), Just(i64::MAX),];
    (text, number, pattern(), -5..=10_000i64, integer)
        .prop_map(|(s, n, p, w, j)| json!({"s": s, "n": n, "p": p, "w": w, "j": j}))
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const SETTING_NAMES: &[&str] = &[
    "number_format",
    "numberFormat",
    "boolean_format",
    "date_format",
    "time_format",
    "datetime_format",
    "locale",
    "time_zone",
    "url_escaping_charset",
    "output_encoding",
    "classic_compatible",
    "whitespace_stripping",
    "tag_syntax",
    "interpolation_syntax",
    "no_such_setting",
    "",
];

/// A template that uses every setting: numbers, booleans, dates, URLs, both tag syntaxes.
const SETTINGS_PROBE: &str = "${input.n} ${input.n?string} ${(input.b)?string} ${input.b?c} \
${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")} ${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")?date} \
${input.s?datetime(\"yyyy-MM-dd HH:mm:ss\")?time} ${input.u?url} [#if true]sq[/#if] [=input.n] \
<#if input.missing??>m</#if>${input.missing!}";

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(fuzz_config(400))]

    #[test]
    fn corpus_templates_render_any_input(
        seed in seed(),
        random in object(),
        edits in proptest::collection::vec((any::<Index>(), any::<Index>(), json_value()), 1..4),
    ) {
        let edited = edited_input(seed, &edits);
        check_template(&seed.template, settings_of(seed), &[&random, &edited])?;
    }

    #[test]
    fn edited_corpus_templates_parse_or_fail_cleanly(
        seed in seed(),
        edits in proptest::collection::vec(edit(), 1..6),
        random in object(),
    ) {
        let source = bounded(&apply(&seed.template, &edits));
        let mut inputs: Vec<&Value> = seed.inputs.iter().take(2).collect();
        inputs.push(&random);
        check_template(&source, settings_of(seed), &inputs)?;
    }

    #[test]
    fn data_parsing_builtins_answer_any_data(
        snippets in proptest::collection::vec(proptest::sample::select(DATA_SNIPPETS), 1..4),
        input in data_input(),
    ) {
        // Each snippet on its own, so an early error does not hide the later ones.
        for snippet in snippets {
            check_template(snippet, limited(), &[&input])?;
        }
    }

    #[test]
    fn any_setting_is_taken_or_refused(
        changes in proptest::collection::vec((proptest::sample::select(SETTING_NAMES), pattern()), 1..4),
        input in (any::<i64>(), any::<bool>(), proptest::sample::select(STRINGS), "\\PC{0,8}")
            .prop_map(|(n, b, s, u)| json!({"n": n, "b": b, "s": s, "u": u})),
    ) {
        let mut settings = limited();
        for (name, value) in &changes {
            if let Err(error) = settings.set(name, value) {
                prop_assert_eq!(error.kind(), ErrorKind::Setting, "{}", error);
                check_error(&error, "")?;
            }
        }
        check_template(SETTINGS_PROBE, settings, &[&input])?;
    }
}

/// An event as the sink presents it, fields of any JSON type or missing.
fn event() -> impl Strategy<Value = Value> {
    let field = || proptest::option::weighted(0.8, json_value());
    (
        field(),
        field(),
        field(),
        field(),
        field(),
        proptest::option::weighted(0.8, object()),
    )
        .prop_map(
            |(user_id, device_id, event_type, event_time, email, properties)| {
                let mut event = Map::new();
                for (key, value) in [
                    ("user_id", user_id),
                    ("device_id", device_id),
                    ("event_type", event_type),
                    ("event_time", event_time),
                ] {
                    if let Some(value) = value {
                        event.insert(key.to_owned(), value);
                    }
                }
                let mut properties = properties.unwrap_or_else(|| json!({}));
                if let (Some(email), Value::Object(map)) = (email, &mut properties) {
                    map.insert("email".to_owned(), email);
                }
                event.insert("user_properties".to_owned(), properties);
                Value::Object(event)
            },
        )
}

proptest! {
    #![proptest_config(fuzz_config(300))]

    #[test]
    fn example_templates_render_any_event(event in event()) {
        for seed in example_seeds() {
            check_template(&seed.template, settings_of(&seed), &[&event])?;
        }
    }

    #[test]
    fn example_templates_render_every_string_event(
        user_id in "\\PC{0,12}",
        event_type in "\\PC{0,12}",
        email in proptest::option::of("\\PC{0,12}"),
    ) {
        let event = json!({"user_id": user_id, "device_id": "d", "event_type": event_type,
            "event_time": "2022-10-24 20:07:32.123", "user_properties": {"email": email}});
        for seed in example_seeds() {
            let template = Template::new(&seed.name, &seed.template, settings_of(&seed))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let out = template.render(&event).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
            let expected = format!("\"external_id\" : \"{user_id}\"");
            prop_assert!(out.contains(&expected), "{}", out);
            let expected = format!("\"email\" : \"{}\"", email.as_deref().unwrap_or(""));
            prop_assert!(out.contains(&expected), "{}", out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions and known limits
// ---------------------------------------------------------------------------------------------

#[test]
fn every_corpus_file_yields_its_cases() {
    let seeds = seeds();
    assert!(seeds.len() > 500, "only {} seeds", seeds.len());
    assert!(seeds.iter().any(|s| s.name.starts_with("seed.ftlcases:")));
    assert!(seeds.iter().filter(|s| !s.inputs.is_empty()).count() > 500);
}

#[test]
fn bounding_clamps_only_sizes() {
    assert_eq!(
        bounded("<#list 1..100000000 as i>${12345?c}</#list>${(123456..<9999999)?size}${\"\"?left_pad( 1000000)}"),
        "<#list 1..9999 as i>${12345?c}</#list>${(9999..<9999)?size}${\"\"?left_pad( 9999)}"
    );
}

#[test]
fn an_empty_list_body_is_metered_per_iteration() {
    // Found by this harness: an empty body took no step, so `1..100000000` ran for 11 s (debug)
    // and `1..` on an empty body never ended; now every iteration is a step.
    for source in [
        "<#list 1..100000000 as i></#list>",
        "<#list 1.. as i></#list>",
        "<#list 1..100000000 as i><#-- nothing --></#list>",
        "<#list 1..100000000 as i>\n</#list>",
        "<#list 1..100000000><#items as i></#items></#list>",
    ] {
        let started = Instant::now();
        let template = Template::new("t", source, limited()).expect("a valid template");
        let error = template.render(&json!({})).expect_err("the step limit");
        assert_eq!(error.kind(), ErrorKind::Limit, "{source}: {error}");
        assert!(started.elapsed() < Duration::from_secs(2), "{source}");
    }
}

/// What one value or one built-in builds is bounded too: each of these used to take gigabytes
/// or minutes before any limit applied (debug build: `(1..10^7)?join` 13 s, `?sort` 7.6 s,
/// `?left_pad(10^8)` 7.5 s; a string doubled 30 times is 1 GiB). With the product's default
/// limits each fails that render with a limit error, having built at most the memory limit.
#[test]
fn resource_limits_bound_what_one_builtin_builds() {
    for source in [
        "<#assign s = \"x\"><#list 1..40 as i><#assign s = s + s></#list>${s?length}",
        "${\"a\"?left_pad(2000000000)}",
        "${\"a\"?right_pad(2000000000, \"xy\")}",
        "${(1..1000000000)?join(\",\")}",
        "${(1..1000000000)?sort?first}",
        "${(1..1000000000)?reverse?first}",
        "${(1..1000000000)?chunk(2)?size}",
        "${(1..1000000000)?seq_contains(0)?c}",
        "${(1..1000000000)?max}",
        "${((1..100000000) + (1..100000000))?size}",
        "<#assign s = \"x\"?left_pad(10000)>${s?replace(\"\", s)?replace(\"\", s)?length}",
        "<#assign s = \"x\"?left_pad(10000)>${s?replace(\" \", s)?length}",
        "<#assign s = \"x\"?left_pad(10000)>${s?replace(\".\", s, \"r\")?length}",
        "<#assign h = {}><#list 1..1000000 as i><#assign h = h + {i?c: i}></#list>${h?size}",
        "<#assign q = []><#list 1..1000000 as i><#assign q = q + [i]></#list>${q?size}",
    ] {
        let template = Template::new("t", source, Settings::default()).expect("a valid template");
        let error = template.render(&json!({})).expect_err("a limit");
        assert_eq!(error.kind(), ErrorKind::Limit, "{source}: {error}");
    }
}

/// Nested escapes multiply their expressions at parse time (`x + x` twenty times over is a
/// million nodes for each interpolation): the parse fails with a limit error instead.
#[test]
fn nested_escapes_cannot_grow_the_template_without_bound() {
    let deep = |n: usize| {
        let open = "<#escape x as x + x>".repeat(n);
        let close = "</#escape>".repeat(n);
        format!("{open}${{input.a}}{close}")
    };
    let small = Template::new("t", &deep(3), Settings::default()).expect("a small expansion");
    assert_eq!(
        small.render(&json!({"a": "y"})).expect("renders"),
        "yyyyyyyy"
    );
    let error = Template::new("t", &deep(40), Settings::default()).expect_err("a limit");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error}");
    assert!(error.message().contains("#escape"), "{error}");
    let many = format!(
        "<#escape x as {}>{}</#escape>",
        vec!["x"; 1000].join(" + "),
        "${input.a}".repeat(2000)
    );
    let error = Template::new("t", &many, Settings::default()).expect_err("a limit");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error}");
}

/// The memory limit is a setting: a smaller one stops a smaller value, and its error says which
/// limit was reached.
#[test]
fn resource_limits_memory_is_a_setting() {
    let source = "${(1..200000)?join(\",\")?length?c}";
    let unlimited = Template::new("t", source, Settings::default()).expect("a valid template");
    assert_eq!(unlimited.render(&json!({})).expect("fits"), "1487895");
    let mut small = Settings::default();
    small.max_alloc_bytes = 1024 * 1024;
    let template = Template::new("t", source, small).expect("a valid template");
    let error = template.render(&json!({})).expect_err("the memory limit");
    assert_eq!(error.kind(), ErrorKind::Limit);
    assert!(
        error.message().contains("memory limit of 1048576 bytes"),
        "{error}"
    );
}

/// Renders `source` against `input` with the fuzzing limits; a panic fails the test.
fn render(source: &str, input: Value) -> Result<String, Error> {
    Template::new("t", source, limited())?.render(&input)
}

#[test]
fn a_date_field_beyond_java_int_saturates_instead_of_overflowing() {
    // Found by this harness: `attempt to multiply with overflow` in the date parser. Java's
    // calendar fields are ints, and a longer number saturates, so the hour is i32::MAX.
    let out = render(
        "${input.s?datetime(input.p)?long?c}",
        json!({"s": "99999999999999999999", "p": "HH"}),
    );
    assert_eq!(out.expect("a datetime").as_str(), "7730941129200000");
    for pattern in ["yyyyy", "D", "MM", "dd", "hh a", "SSS", "yyyy Z"] {
        for text in [
            "99999999999999999999",
            "-99999999999999999999",
            "2147483647 +2359",
        ] {
            let source = "<#setting time_zone=\"Europe/Berlin\">${input.s?datetime(input.p)?long}";
            let _ = render(source, json!({"s": text, "p": pattern}));
        }
    }
}

#[test]
fn instants_at_the_ends_of_the_range_format_in_any_zone() {
    // Found by this harness: `attempt to add with overflow` adding the zone's offset to an
    // instant near i64::MAX (or MIN) before splitting it into days.
    for zone in [
        "Europe/Warsaw",
        "Australia/Sydney",
        "America/New_York",
        "GMT",
    ] {
        for ms in [
            json!(i64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(-1e308),
        ] {
            let source = format!(
                "<#setting time_zone=\"{zone}\"><#assign t = input.ms?number_to_datetime>\
                 ${{t?string.full}} ${{t?string[\"z zzzz w W Y F u D\"]}} ${{t?iso_local}}"
            );
            let out = render(&source, json!({ "ms": ms })).expect("a formatted instant");
            assert!(
                out.contains("292278994") || out.contains("292269055"),
                "{zone} {ms}: {out}"
            );
        }
    }
}

#[test]
fn iso_years_beyond_java_int_are_malformed_not_an_overflow() {
    // Found by this harness: ISO dates took i64 years, whose day count overflowed.
    for text in [
        "999999999999999999-01-01",
        "-999999999999999999-01-01T00:00:00Z",
    ] {
        for builtin in ["date.iso", "datetime.iso", "datetime.xs", "date.xs"] {
            let source = format!("${{input.s?{builtin}?iso_utc}}");
            let error = render(&source, json!({ "s": text })).expect_err("a malformed date");
            assert_eq!(error.kind(), ErrorKind::Render, "{builtin} {text}: {error}");
        }
    }
    let out = render(
        "${input.s?datetime.iso?long?c}",
        json!({"s": "292278994-08-17T07:12:55.807Z"}),
    );
    assert_eq!(
        out.expect("the last instant").as_str(),
        "9223372036854775807"
    );
    let source = "<#setting time_zone=\"Europe/Berlin\">${input.s?datetime.iso?iso_local}";
    for text in [
        "292278994-08-17T07:12:55.807+14:00",
        "-292275055-05-16T16:47:04.192-14:00",
    ] {
        let _ = render(source, json!({ "s": text }));
    }
}
