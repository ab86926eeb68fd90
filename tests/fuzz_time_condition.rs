//! Bounded fuzzing of the parsers that read times and records from the network: the sink's time
//! normalization (`webhook_sink::prepare::time`), the webhook's `Retry-After`
//! (`webhook_sink::dispatch::http::parse_retry_after`) and the condition language
//! (`pipeline_core::condition`).
//!
//! Time fields arrive from Amplitude clients in any shape (export strings, ISO-8601 with odd
//! zones, epoch milliseconds of any size), and a panic there would take down the sink for every
//! record; a `Retry-After` comes from whatever answers at the webhook's address. Conditions are
//! written by operators but evaluated against client records, whose fields can hold any JSON.
//! The properties:
//! - time: any text or number is normalized or left alone, never a panic; whatever comes out
//!   reads back as itself; a record normalized twice equals the record normalized once;
//! - `Retry-After`: any header value is ignored or read as a wait the clock arithmetic of the
//!   retry store and circuit breakers can take (`now + wait`, jittered by up to 20 %);
//! - conditions: any TOML text, TOML tree or JSON tree is a [`Condition`] or an error with a
//!   message; any record is matched or not; `is_not`, `does_not_contain` and `does_not_exist`
//!   are the exact negations of `is`, `contains` and `exists` on every record.
//!
//! Each property runs a fixed number of cases with a per-case deadline (proptest's `timeout`,
//! which runs the cases in a child process, so a hang or a stack overflow is reported with its
//! input). Failures are saved in `tests/proptest-regressions/fuzz_time_condition.txt`.

use std::time::{Duration, Instant, SystemTime};

use pipeline_core::condition::Condition;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};
use webhook_sink::dispatch::http::parse_retry_after;
use webhook_sink::prepare::time::{format_epoch_ms, normalize_str, normalize_times, TIME_FIELDS};

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Milliseconds per case (debug build); exceeding it is a failure, reported with the input.
        timeout: 10_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_time_condition.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Time normalization
// ---------------------------------------------------------------------------------------------

/// Digits as clients might send them, including ones `char::is_numeric` accepts but ASCII parsers
/// must not (Arabic-Indic, full-width).
fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::string::string_regex(&format!("[0-9]{{{min},{max}}}")).expect("a regex"),
        1 => proptest::string::string_regex(&format!("[0-9٠-٩０-９]{{{min},{max}}}"))
            .expect("a regex"),
    ]
}

/// A number from `valid` most of the time, else from `edge` (its range and just beyond).
fn part(
    valid: std::ops::RangeInclusive<u32>,
    edge: std::ops::RangeInclusive<u32>,
) -> BoxedStrategy<u32> {
    prop_oneof![6 => valid, 1 => edge].boxed()
}

/// Text shaped like a time: each part mostly in its range, sometimes just beyond; a fraction of
/// any length; a separator and a zone from the accepted and nearly accepted forms.
fn time_like() -> impl Strategy<Value = String> {
    let sign = prop_oneof![8 => Just(""), 1 => Just("+"), 1 => Just("-")];
    let year = prop_oneof![8 => digits(4, 4), 1 => digits(1, 6)];
    let date = (sign, year, part(1..=12, 0..=13), part(1..=28, 0..=32));
    let clock = (
        part(0..=23, 0..=25),
        part(0..=59, 0..=61),
        part(0..=59, 0..=61),
    );
    let fraction = prop_oneof![
        2 => Just(String::new()),
        6 => digits(1, 30).prop_map(|d| format!(".{d}")),
        1 => Just(".".to_owned()),
        1 => Just(",5".to_owned()),
    ];
    let separator = prop_oneof![
        8 => proptest::sample::select(vec![" ", "T"]),
        1 => proptest::sample::select(vec!["t", "  ", "_", "\u{a0}"]),
    ];
    let offset = (
        proptest::sample::select(vec!["+", "-", "\u{2212}"]),
        part(0..=23, 0..=99),
        part(0..=59, 0..=99),
        any::<bool>(),
    )
        .prop_map(|(sign, h, m, colon)| {
            format!("{sign}{h:02}{}{m:02}", if colon { ":" } else { "" })
        });
    let zone = prop_oneof![
        3 => Just(String::new()),
        2 => Just("Z".to_owned()),
        1 => proptest::sample::select(vec!["z", " UTC", " Z"]).prop_map(str::to_owned),
        3 => offset,
    ];
    let padding = prop_oneof![
        8 => Just(""),
        1 => proptest::sample::select(vec![" ", "\t", "\n", "\u{feff}"]),
    ];
    (date, clock, fraction, separator, zone, padding).prop_map(
        |((sign, year, month, day), (h, m, s), fraction, sep, zone, pad)| {
            format!("{pad}{sign}{year}-{month:02}-{day:02}{sep}{h:02}:{m:02}:{s:02}{fraction}{zone}{pad}")
        },
    )
}

/// Any text: random, time-shaped, or time-shaped with random text around or inside it.
fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "\\PC{0,40}",
        4 => time_like(),
        2 => (time_like(), "\\PC{0,4}", any::<proptest::sample::Index>()).prop_map(
            |(text, extra, at)| {
                let chars: Vec<char> = text.chars().collect();
                let at = at.index(chars.len() + 1);
                chars[..at].iter().chain(extra.chars().collect::<Vec<_>>().iter()).chain(chars[at..].iter()).collect()
            }
        ),
    ]
}

/// `yyyy-MM-dd HH:mm:ss.SSS`, or the signed form chrono writes for years outside 0..=9999.
fn is_normal_form(text: &str) -> bool {
    let tail = text.len().checked_sub(19).and_then(|at| text.get(at..));
    let Some(tail) = tail else { return false };
    let bytes = tail.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            0 | 3 => *b == b'-',
            6 => *b == b' ',
            9 | 12 => *b == b':',
            15 => *b == b'.',
            _ => b.is_ascii_digit(),
        })
}

/// The checks for one normalized text: the canonical form, which reads back as itself.
fn check_normalized(input: &str, out: &str) -> Result<(), TestCaseError> {
    prop_assert!(is_normal_form(out), "{input:?} -> {out:?}");
    if out.len() == 23 {
        let again = normalize_str(out);
        prop_assert_eq!(again.as_deref(), Some(out), "from {:?}", input);
    }
    Ok(())
}

/// A value a client may put in a time field.
fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => time_text().prop_map(Value::String),
        2 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-62_167_219_200_001_i64),
            Just(253_402_300_800_000_i64),
            Just(8_210_266_876_799_999_i64),
            Just(8_210_266_876_800_000_i64),
        ]
        .prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => proptest::num::f64::NORMAL.prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!([1, "2022-02-28 20:07:01"])),
        1 => Just(json!({"time": 0})),
    ]
}

/// A record with some of the time fields (and `time`, and a field that only ends in "time").
fn time_record() -> impl Strategy<Value = Map<String, Value>> {
    let names: Vec<&str> = TIME_FIELDS
        .iter()
        .copied()
        .chain(["time", "uptime", "event_type"])
        .collect();
    proptest::collection::btree_map(proptest::sample::select(names), time_value(), 0..6)
        .prop_map(|fields| fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

proptest! {
    #![proptest_config(fuzz_config(1000))]

    #[test]
    fn any_time_text_is_normalized_or_refused(text in time_text()) {
        if let Some(out) = normalize_str(&text) {
            check_normalized(&text, &out)?;
        }
    }

    #[test]
    fn any_epoch_millisecond_is_formatted_or_refused(ms in prop_oneof![
        any::<i64>(),
        -62_167_219_200_000_i64..=253_402_300_799_999,
    ]) {
        if let Some(out) = format_epoch_ms(ms) {
            check_normalized(&ms.to_string(), &out)?;
            let four_digit_year = (-62_167_219_200_000..=253_402_300_799_999).contains(&ms);
            prop_assert_eq!(out.len() == 23, four_digit_year, "{} -> {}", ms, out);
        }
    }

    #[test]
    fn any_record_is_normalized_once_and_for_all(record in time_record()) {
        let mut once = record.clone();
        normalize_times(&mut once);
        for name in TIME_FIELDS {
            if let (Some(Value::String(out)), Some(before)) = (once.get(name), record.get(name)) {
                if before != &Value::String(out.clone()) {
                    check_normalized(&before.to_string(), out)?;
                }
            }
        }
        let mut twice = once.clone();
        normalize_times(&mut twice);
        prop_assert_eq!(twice, once);
    }
}

/// `Retry-After` values: delay-seconds of any width, HTTP dates of any year, and anything.
fn retry_after_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<u64>().prop_map(|n| n.to_string()),
        2 => "[0-9]{1,25}",
        1 => (0..=9999i32, 1..=12u32, 1..=28u32).prop_map(|(year, month, day)| {
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            format!("Wed, {day:02} {} {year:04} 07:28:00 GMT", months[month as usize - 1])
        }),
        1 => "\\PC{0,30}",
        1 => Just(" 18446744073709551615 ".to_owned()),
    ]
}

/// A wait the sink's clock arithmetic can take: added to now, jittered, doubled.
fn check_wait(text: &str, wait: Duration) -> Result<(), TestCaseError> {
    let jittered = wait.checked_mul(2).map(|w| w.mul_f64(0.6));
    prop_assert!(
        jittered.is_some(),
        "{:?} -> {:?} cannot be jittered",
        text,
        wait
    );
    let longest = jittered.unwrap_or_default();
    prop_assert!(
        SystemTime::now().checked_add(longest).is_some(),
        "{:?} -> {:?}",
        text,
        wait
    );
    prop_assert!(
        Instant::now().checked_add(longest).is_some(),
        "{:?} -> {:?}",
        text,
        wait
    );
    Ok(())
}

proptest! {
    #![proptest_config(fuzz_config(1000))]

    #[test]
    fn any_retry_after_is_a_wait_the_clock_can_take(text in retry_after_text()) {
        if let Some(wait) = parse_retry_after(&text) {
            check_wait(&text, wait)?;
        }
    }
}

#[test]
fn a_retry_after_of_u64_max_seconds_is_capped() {
    // Found while fuzzing: `Retry-After: 18446744073709551615` from the webhook was read as
    // u64::MAX seconds and stopped the sink's dispatch lanes (`SystemTime + wait` in the retry
    // store: "overflow when adding duration to instant"); it is now capped at a year.
    let year = Duration::from_secs(365 * 24 * 3600);
    assert_eq!(parse_retry_after("18446744073709551615"), Some(year));
    assert_eq!(
        parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"),
        Some(year)
    );
    assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after("184467440737095516150"), None);
}

// ---------------------------------------------------------------------------------------------
// The condition language
// ---------------------------------------------------------------------------------------------

const FIELDS: &[&str] = &[
    "event_type",
    "user_id",
    "event_properties",
    "event_properties.price",
    "event_properties.quantity",
    "items.0.sku",
    "items.1",
    "items.18446744073709551616",
    "items.-1",
    "tags.0",
    "user_properties.plan",
    "a.b.c.d.e",
    "é.世",
    "",
    ".",
    "a..b",
    "a.",
];

const OPS: &[&str] = &[
    "is",
    "is_not",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "exists",
    "does_not_exist",
    "IS",
    "",
    "equals",
];

/// Strings that compare in surprising ways: numeric text, non-finite text, prefixes.
const STRINGS: &[&str] = &[
    "",
    "Purchase",
    "Purch",
    "chase",
    "12.50",
    "12.5",
    " 3 ",
    "3",
    "-0",
    "0",
    "1e400",
    "-1e400",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "9007199254740993",
    "18446744073709551616",
    "é",
    "\u{0}",
    "2024-06-01 10:00:00.000",
    "pro",
];

/// Field names records hold: the ones the condition paths walk, and a few others.
const KEYS: &[&str] = &[
    "event_type",
    "user_id",
    "event_properties",
    "price",
    "quantity",
    "items",
    "sku",
    "tags",
    "user_properties",
    "plan",
    "a",
    "b",
    "0",
    "1",
    "é",
];

/// A JSON value with the numbers and strings the comparisons must get right.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![
            Just(json!(u64::MAX)),
            Just(json!(9_007_199_254_740_993_u64)),
            Just(json!(i64::MIN)),
            Just(json!(-0.0)),
            Just(json!(12.5)),
            Just(json!(3)),
            Just(json!(1e308)),
        ],
        1 => any::<u64>().prop_map(Value::from),
        1 => proptest::num::f64::ANY.prop_map(Value::from),
        3 => proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        1 => "\\PC{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(proptest::sample::select(KEYS), inner, 0..4).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

/// A record: an object whose fields are any JSON.
fn record() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(proptest::sample::select(KEYS), json_value(), 0..6)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A leaf `{ field, op, value }`, usually well formed, sometimes missing a key, holding one
/// too many, or with a value of the wrong type.
fn leaf() -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.95, proptest::sample::select(FIELDS)),
        proptest::option::weighted(0.95, proptest::sample::select(OPS)),
        proptest::option::weighted(0.8, json_value()),
        proptest::option::weighted(0.03, json_value()),
    )
        .prop_map(|(field, op, value, extra)| {
            let mut leaf = Map::new();
            if let Some(field) = field {
                leaf.insert("field".into(), json!(field));
            }
            if let Some(op) = op {
                leaf.insert("op".into(), json!(op));
            }
            // `exists` takes no value: leave it out most of the time there.
            let takes_value = !matches!(op, Some("exists" | "does_not_exist"));
            if let Some(value) = value.filter(|_| takes_value || extra.is_some()) {
                leaf.insert("value".into(), value);
            }
            if let Some(extra) = extra {
                leaf.insert("all".into(), extra);
            }
            Value::Object(leaf)
        })
}

/// A condition tree of `all`, `any` and `not` around leaves.
fn condition_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|c| json!({ "all": c })),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|c| json!({ "any": c })),
            inner.clone().prop_map(|c| json!({ "not": c })),
            (inner.clone(), inner).prop_map(|(a, b)| json!({ "not": a, "any": [b] })),
        ]
    })
}

/// The TOML spelling of a JSON value (TOML has no null: null members and items are left out).
fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(to_toml).collect()),
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

/// `condition = <text>` read as a config reads it; the condition, or the error's message.
fn parse_toml_text(text: &str) -> Result<Condition, String> {
    let table: toml::Table = format!("condition = {text}")
        .parse()
        .map_err(|e: toml::de::Error| e.to_string())?;
    let value = table.get("condition").cloned().ok_or("no condition")?;
    serde_path_to_error::deserialize::<_, Condition>(value).map_err(|e| e.to_string())
}

/// The check for a parse result: an error has a message, a condition matches or not.
fn check_condition(
    parsed: Result<Condition, String>,
    records: &[Map<String, Value>],
) -> Result<(), TestCaseError> {
    match parsed {
        Ok(condition) => {
            for record in records {
                let _ = condition.matches(record);
            }
        }
        Err(message) => prop_assert!(!message.trim().is_empty(), "an error without a message"),
    }
    Ok(())
}

/// Pieces of condition tables, well and badly formed.
const CONDITION_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    " = ",
    "all",
    "any",
    "not",
    "field",
    "op",
    "value",
    "\"is\"",
    "\"contains\"",
    "\"greater_than\"",
    "\"exists\"",
    "\"event_type\"",
    "\"items.0\"",
    "\"a..b\"",
    "\"Purchase\"",
    "\"12.50\"",
    "12.5",
    "-0.0",
    "nan",
    "inf",
    "9223372036854775807",
    "99999999999999999999",
    "true",
    "1979-05-27",
    "'é'",
    "\"\\u0000\"",
    "\n",
    "#",
    "{ not = ",
];

fn condition_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => "\\PC{0,80}",
        3 => proptest::collection::vec(proptest::sample::select(CONDITION_PIECES), 0..40)
            .prop_map(|pieces| pieces.concat()),
    ]
}

/// The negated twin of a leaf's operator.
fn negation(op: &str) -> Option<&'static str> {
    Some(match op {
        "is" => "is_not",
        "is_not" => "is",
        "contains" => "does_not_contain",
        "does_not_contain" => "contains",
        "exists" => "does_not_exist",
        "does_not_exist" => "exists",
        _ => return None,
    })
}

proptest! {
    #![proptest_config(fuzz_config(500))]

    #[test]
    fn any_condition_text_is_a_condition_or_an_error(
        text in condition_text(),
        records in proptest::collection::vec(record(), 1..4),
    ) {
        check_condition(parse_toml_text(&text), &records)?;
    }

    #[test]
    fn any_condition_tree_is_a_condition_or_an_error(
        tree in condition_json(),
        records in proptest::collection::vec(record(), 1..4),
    ) {
        let from_json = serde_json::from_value::<Condition>(tree.clone()).map_err(|e| e.to_string());
        check_condition(from_json, &records)?;
        if let Some(toml_tree) = to_toml(&tree) {
            let from_toml = serde_path_to_error::deserialize::<_, Condition>(toml_tree)
                .map_err(|e| e.to_string());
            check_condition(from_toml, &records)?;
        }
    }

    #[test]
    fn negated_operators_are_exact_negations(
        field in proptest::sample::select(FIELDS),
        op in proptest::sample::select(vec!["is", "contains", "exists"]),
        value in json_value(),
        record in record(),
    ) {
        let leaf = |op: &str| {
            let mut leaf = json!({"field": field, "op": op});
            if op != "exists" && op != "does_not_exist" {
                leaf["value"] = value.clone();
            }
            serde_json::from_value::<Condition>(leaf)
        };
        let twin = negation(op).expect("a negatable operator");
        match (leaf(op), leaf(twin)) {
            (Ok(positive), Ok(negative)) => {
                prop_assert_ne!(positive.matches(&record), negative.matches(&record));
            }
            (Err(_), Err(_)) => {}
            (positive, negative) => {
                prop_assert!(false, "only one of {op} / {twin} parsed: {positive:?} / {negative:?}");
            }
        }
    }

    #[test]
    fn deeply_nested_conditions_are_parsed_or_refused(depth in 1..400usize, all in any::<bool>()) {
        let (open, close) = if all { ("{ all = [", "] }") } else { ("{ not = ", " }") };
        let text = format!(
            "{}{{ field = \"event_type\", op = \"exists\" }}{}",
            open.repeat(depth),
            close.repeat(depth)
        );
        check_condition(parse_toml_text(&text), &[Map::new()])?;
    }
}

#[test]
fn the_harness_condition_parser_reads_documented_conditions() {
    let condition = parse_toml_text(
        r#"{ all = [ { field = "event_type", op = "is", value = "Purchase" }, { not = { field = "x", op = "exists" } } ] }"#,
    )
    .expect("a documented condition");
    let record = json!({"event_type": "Purchase"});
    assert!(condition.matches(record.as_object().expect("an object")));
}
