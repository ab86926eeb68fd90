//! The condition language shared by the `filter` transform and the sink's stream conditions:
//! `{ all = [...] }`, `{ any = [...] }`, `{ not = {...} }` or a leaf `{ field, op, value }`.
//!
//! Semantics, decided here once for every user:
//! - `field` is a dotted path into the record (`event_properties.price`); a segment that is a
//!   number indexes into an array (`items.0.sku`). A JSON `null` counts as missing.
//! - `is`: equal to `value`, or to any element when `value` is a list. Numbers compare
//!   numerically (`1` is `1.0`; two integers compare exactly, however large). A number and a string holding a number compare as numbers
//!   (`"12.50"` is `12.5`), because Amplitude properties often carry numbers as strings; any other
//!   mix of types is unequal.
//! - `contains`: a string field contains the string `value` as a substring; an array field has an
//!   element that `is` `value`; an object field has `value` as a key. A list `value` means any of.
//! - `starts_with` / `ends_with`: string fields only; a list `value` means any of.
//! - `greater_than`, `greater_or_equal`, `less_than`, `less_or_equal`: numbers (and numeric
//!   strings, as for `is`) compare numerically; two non-numeric strings compare by their UTF-8
//!   bytes (so `yyyy-MM-dd HH:mm:ss` times order correctly); anything else is false.
//! - `exists`: the field is present and not null; it takes no `value`.
//! - `is_not`, `does_not_contain`, `does_not_exist` are the exact negations of `is`, `contains`,
//!   `exists`: a missing field `is_not` anything.
//! - `all = []` is true, `any = []` is false.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A parsed, validated condition. Deserialize it from the config; [`Condition::matches`] tests a
/// record.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawCondition")]
pub enum Condition {
    /// True when every condition is (true when empty).
    All(Vec<Condition>),
    /// True when some condition is (false when empty).
    Any(Vec<Condition>),
    /// True when the condition is not.
    Not(Box<Condition>),
    /// A test of one field.
    Leaf(Predicate),
}

/// One `{ field, op, value }` test.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    path: Vec<String>,
    op: Op,
    negated: bool,
    values: Vec<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Is,
    Contains,
    StartsWith,
    EndsWith,
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
    Exists,
}

/// The operator names of the language, as written in configs.
pub const OPERATORS: [&str; 12] = [
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
];

fn parse_op(name: &str) -> Option<(Op, bool)> {
    Some(match name {
        "is" => (Op::Is, false),
        "is_not" => (Op::Is, true),
        "contains" => (Op::Contains, false),
        "does_not_contain" => (Op::Contains, true),
        "starts_with" => (Op::StartsWith, false),
        "ends_with" => (Op::EndsWith, false),
        "greater_than" => (Op::GreaterThan, false),
        "greater_or_equal" => (Op::GreaterOrEqual, false),
        "less_than" => (Op::LessThan, false),
        "less_or_equal" => (Op::LessOrEqual, false),
        "exists" => (Op::Exists, false),
        "does_not_exist" => (Op::Exists, true),
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    all: Option<Vec<Condition>>,
    any: Option<Vec<Condition>>,
    not: Option<Box<Condition>>,
    field: Option<String>,
    op: Option<String>,
    value: Option<Value>,
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;

    fn try_from(raw: RawCondition) -> Result<Condition, String> {
        let is_leaf = raw.field.is_some() || raw.op.is_some() || raw.value.is_some();
        let forms = [
            raw.all.is_some(),
            raw.any.is_some(),
            raw.not.is_some(),
            is_leaf,
        ];
        if forms.iter().filter(|present| **present).count() != 1 {
            return Err(
                "a condition is exactly one of `all`, `any`, `not`, or `field`/`op`/`value`"
                    .to_string(),
            );
        }
        if let Some(all) = raw.all {
            return Ok(Condition::All(all));
        }
        if let Some(any) = raw.any {
            return Ok(Condition::Any(any));
        }
        if let Some(not) = raw.not {
            return Ok(Condition::Not(not));
        }
        Predicate::new(raw.field, raw.op, raw.value).map(Condition::Leaf)
    }
}

impl Predicate {
    fn new(
        field: Option<String>,
        op: Option<String>,
        value: Option<Value>,
    ) -> Result<Self, String> {
        let field = field.ok_or("missing `field`")?;
        if field.is_empty() || field.split('.').any(str::is_empty) {
            return Err(format!("`field` {field:?} is not a dotted path"));
        }
        let op_name = op.ok_or("missing `op`")?;
        let (op, negated) = parse_op(&op_name).ok_or_else(|| {
            format!(
                "unknown op {op_name:?}, expected one of: {}",
                OPERATORS.join(", ")
            )
        })?;
        let values = match (op, value) {
            (Op::Exists, None) => Vec::new(),
            (Op::Exists, Some(_)) => return Err(format!("op `{op_name}` takes no `value`")),
            (_, None) => return Err(format!("op `{op_name}` needs a `value`")),
            (_, Some(Value::Array(list))) if op.accepts_list() => list,
            (_, Some(value)) => vec![value],
        };
        for value in &values {
            op.check_value(&op_name, value)?;
        }
        Ok(Predicate {
            path: field.split('.').map(str::to_string).collect(),
            op,
            negated,
            values,
        })
    }

    fn matches(&self, fields: &Map<String, Value>) -> bool {
        let found = lookup(fields, &self.path);
        let positive = match found {
            None => false,
            Some(actual) => match self.op {
                Op::Exists => true,
                _ => self
                    .values
                    .iter()
                    .any(|expected| self.op.test(actual, expected)),
            },
        };
        positive != self.negated
    }
}

impl Op {
    fn accepts_list(self) -> bool {
        matches!(self, Op::Is | Op::Contains | Op::StartsWith | Op::EndsWith)
    }

    fn check_value(self, name: &str, value: &Value) -> Result<(), String> {
        let ok = match self {
            Op::Is | Op::Contains => !value.is_null(),
            Op::StartsWith | Op::EndsWith => value.is_string(),
            Op::GreaterThan | Op::GreaterOrEqual | Op::LessThan | Op::LessOrEqual => {
                value.is_number() || value.is_string()
            }
            Op::Exists => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("op `{name}` cannot take the value {value}"))
        }
    }

    fn test(self, actual: &Value, expected: &Value) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Is => loosely_equal(actual, expected),
            Op::Contains => match actual {
                Value::String(text) => expected.as_str().is_some_and(|part| text.contains(part)),
                Value::Array(items) => items.iter().any(|item| loosely_equal(item, expected)),
                Value::Object(map) => expected.as_str().is_some_and(|key| map.contains_key(key)),
                _ => false,
            },
            Op::StartsWith => string_pair(actual, expected).is_some_and(|(a, e)| a.starts_with(e)),
            Op::EndsWith => string_pair(actual, expected).is_some_and(|(a, e)| a.ends_with(e)),
            Op::GreaterThan => compare(actual, expected) == Some(Greater),
            Op::GreaterOrEqual => matches!(compare(actual, expected), Some(Greater | Equal)),
            Op::LessThan => compare(actual, expected) == Some(Less),
            Op::LessOrEqual => matches!(compare(actual, expected), Some(Less | Equal)),
            Op::Exists => true,
        }
    }
}

impl Condition {
    /// Whether the record `fields` satisfies the condition.
    pub fn matches(&self, fields: &Map<String, Value>) -> bool {
        match self {
            Condition::All(conditions) => conditions.iter().all(|c| c.matches(fields)),
            Condition::Any(conditions) => conditions.iter().any(|c| c.matches(fields)),
            Condition::Not(condition) => !condition.matches(fields),
            Condition::Leaf(predicate) => predicate.matches(fields),
        }
    }
}

/// The value at a dotted path; `None` when missing or null.
fn lookup<'a>(fields: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut current = fields.get(first)?;
    for segment in rest {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!current.is_null()).then_some(current)
}

fn string_pair<'a>(actual: &'a Value, expected: &'a Value) -> Option<(&'a str, &'a str)> {
    Some((actual.as_str()?, expected.as_str()?))
}

/// A number, or a string that holds a finite number.
fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// Two integers compared exactly (an `f64` loses precision above 2^53, e.g. large ids).
fn integer_order(actual: &Value, expected: &Value) -> Option<std::cmp::Ordering> {
    let (Value::Number(a), Value::Number(e)) = (actual, expected) else {
        return None;
    };
    match (a.as_i64(), e.as_i64(), a.as_u64(), e.as_u64()) {
        (Some(a), Some(e), _, _) => Some(a.cmp(&e)),
        (_, _, Some(a), Some(e)) => Some(a.cmp(&e)),
        (Some(_), None, None, Some(_)) => Some(std::cmp::Ordering::Less),
        (None, Some(_), Some(_), None) => Some(std::cmp::Ordering::Greater),
        _ => None,
    }
}

fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    if let Some(order) = integer_order(actual, expected) {
        return order.is_eq();
    }
    match (actual, expected) {
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            matches!((numeric(actual), numeric(expected)), (Some(a), Some(e)) if a == e)
        }
        _ => actual == expected,
    }
}

fn compare(actual: &Value, expected: &Value) -> Option<std::cmp::Ordering> {
    if let Some(order) = integer_order(actual, expected) {
        return Some(order);
    }
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => match (numeric(actual), numeric(expected)) {
            (Some(a), Some(e)) => a.partial_cmp(&e),
            _ => Some(a.as_bytes().cmp(e.as_bytes())),
        },
        _ => numeric(actual)?.partial_cmp(&numeric(expected)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Map<String, Value> {
        match json!({
            "event_type": "Purchase",
            "user_id": "user_00042",
            "event_time": "2024-06-01 10:00:00.000",
            "session_id": 1717236000000i64,
            "paying": true,
            "nothing": null,
            "event_properties": {"price": 12.5, "quantity": "3", "sku": "SKU-123-XL"},
            "user_properties": {"plan": "pro", "email": "ada@example.com"},
            "tags": ["new", "mobile", 7],
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn parse(text: &str) -> Result<Condition, String> {
        let table: toml::Table = format!("condition = {text}")
            .parse()
            .map_err(|e: toml::de::Error| e.to_string())?;
        let value = table.get("condition").cloned().ok_or("no condition")?;
        serde_path_to_error::deserialize::<_, Condition>(value).map_err(|e| e.to_string())
    }

    fn check(text: &str) -> bool {
        parse(text)
            .unwrap_or_else(|error| panic!("{text}: {error}"))
            .matches(&record())
    }

    #[test]
    fn is_and_is_not() {
        assert!(check(
            r#"{ field = "event_type", op = "is", value = "Purchase" }"#
        ));
        assert!(!check(
            r#"{ field = "event_type", op = "is", value = "purchase" }"#
        ));
        assert!(check(
            r#"{ field = "event_type", op = "is", value = ["Page Viewed", "Purchase"] }"#
        ));
        assert!(check(
            r#"{ field = "event_type", op = "is_not", value = ["Page Viewed", "Sign Up"] }"#
        ));
        assert!(!check(
            r#"{ field = "event_type", op = "is_not", value = ["Purchase"] }"#
        ));
        assert!(check(r#"{ field = "paying", op = "is", value = true }"#));
        assert!(!check(r#"{ field = "paying", op = "is", value = "true" }"#));
    }

    #[test]
    fn numbers_compare_numerically_and_numeric_strings_count_as_numbers() {
        assert!(check(
            r#"{ field = "event_properties.price", op = "is", value = 12.5 }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.quantity", op = "is", value = 3 }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.quantity", op = "is", value = 3.0 }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.quantity", op = "is", value = "3.0" }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.price", op = "is", value = "12.50" }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.sku", op = "is", value = 0 }"#
        ));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let fields = match json!({"id": 9007199254740993u64, "neg": -5}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let matches = |text: &str| parse(text).unwrap().matches(&fields);
        assert!(matches(
            r#"{ field = "id", op = "is", value = 9007199254740993 }"#
        ));
        assert!(!matches(
            r#"{ field = "id", op = "is", value = 9007199254740992 }"#
        ));
        assert!(matches(
            r#"{ field = "id", op = "greater_than", value = 9007199254740992 }"#
        ));
        assert!(matches(r#"{ field = "neg", op = "less_than", value = 0 }"#));
        assert!(matches(r#"{ field = "neg", op = "is", value = -5.0 }"#));
    }

    #[test]
    fn ordering_operators() {
        assert!(check(
            r#"{ field = "event_properties.price", op = "greater_than", value = 10 }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.price", op = "greater_than", value = 12.5 }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.price", op = "greater_or_equal", value = 12.5 }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.quantity", op = "less_than", value = 10 }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.quantity", op = "less_than", value = "2" }"#
        ));
        assert!(check(
            r#"{ field = "event_properties.quantity", op = "less_or_equal", value = 3 }"#
        ));
        assert!(check(
            r#"{ field = "event_time", op = "less_than", value = "2024-06-02 00:00:00.000" }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.sku", op = "greater_than", value = 1 }"#
        ));
        assert!(!check(
            r#"{ field = "paying", op = "greater_than", value = 0 }"#
        ));
        assert!(!check(
            r#"{ field = "missing", op = "less_than", value = 1 }"#
        ));
    }

    #[test]
    fn contains_on_strings_arrays_and_objects() {
        assert!(check(
            r#"{ field = "event_properties.sku", op = "contains", value = "123" }"#
        ));
        assert!(check(
            r#"{ field = "tags", op = "contains", value = "mobile" }"#
        ));
        assert!(check(r#"{ field = "tags", op = "contains", value = 7 }"#));
        assert!(check(
            r#"{ field = "user_properties", op = "contains", value = "plan" }"#
        ));
        assert!(check(
            r#"{ field = "tags", op = "contains", value = ["desktop", "new"] }"#
        ));
        assert!(!check(
            r#"{ field = "tags", op = "contains", value = "desktop" }"#
        ));
        assert!(check(
            r#"{ field = "tags", op = "does_not_contain", value = "desktop" }"#
        ));
        assert!(!check(
            r#"{ field = "event_properties.sku", op = "does_not_contain", value = "XL" }"#
        ));
        assert!(check(
            r#"{ field = "missing", op = "does_not_contain", value = "x" }"#
        ));
    }

    #[test]
    fn starts_with_and_ends_with() {
        assert!(check(
            r#"{ field = "user_id", op = "starts_with", value = "user_" }"#
        ));
        assert!(check(
            r#"{ field = "user_properties.email", op = "ends_with", value = ["@test.com", "@example.com"] }"#
        ));
        assert!(!check(
            r#"{ field = "user_properties.email", op = "ends_with", value = "@test.com" }"#
        ));
        assert!(!check(
            r#"{ field = "session_id", op = "starts_with", value = "1717" }"#
        ));
    }

    #[test]
    fn exists_and_null_as_missing() {
        assert!(check(
            r#"{ field = "user_properties.plan", op = "exists" }"#
        ));
        assert!(!check(
            r#"{ field = "user_properties.country", op = "exists" }"#
        ));
        assert!(!check(r#"{ field = "nothing", op = "exists" }"#));
        assert!(check(r#"{ field = "nothing", op = "does_not_exist" }"#));
        assert!(check(
            r#"{ field = "event_type.deeper", op = "does_not_exist" }"#
        ));
        assert!(check(
            r#"{ field = "tags.1", op = "is", value = "mobile" }"#
        ));
        assert!(check(
            r#"{ field = "missing", op = "is_not", value = "x" }"#
        ));
    }

    #[test]
    fn all_any_not_combine() {
        assert!(check(
            r#"{ all = [ { field = "event_type", op = "is", value = "Purchase" }, { not = { field = "user_properties.plan", op = "is", value = "free" } } ] }"#
        ));
        assert!(!check(
            r#"{ any = [ { field = "event_type", op = "is", value = "Sign Up" }, { field = "paying", op = "is", value = false } ] }"#
        ));
        assert!(check("{ all = [] }"));
        assert!(!check("{ any = [] }"));
        assert!(!check("{ not = { all = [] } }"));
    }

    #[test]
    fn invalid_conditions_are_refused_with_reasons() {
        let cases = [
            (
                r#"{ field = "a", op = "equals", value = 1 }"#,
                "unknown op \"equals\"",
            ),
            (r#"{ field = "a", op = "is" }"#, "needs a `value`"),
            (
                r#"{ field = "a", op = "exists", value = 1 }"#,
                "takes no `value`",
            ),
            (
                r#"{ field = "a", op = "greater_than", value = [1, 2] }"#,
                "cannot take the value",
            ),
            (
                r#"{ field = "a", op = "starts_with", value = 1 }"#,
                "cannot take the value",
            ),
            (r#"{ field = "a..b", op = "exists" }"#, "not a dotted path"),
            (r#"{ op = "exists" }"#, "missing `field`"),
            (
                r#"{ all = [], field = "a", op = "exists" }"#,
                "exactly one of",
            ),
            (r#"{ all = [ { feild = "a" } ] }"#, "unknown field `feild`"),
        ];
        for (text, reason) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn nested_errors_carry_the_path() {
        let error = parse(r#"{ all = [ { field = "a", op = "exists" }, { field = "b", op = "nope", value = 1 } ] }"#)
            .unwrap_err();
        assert!(error.starts_with("all[1]"), "{error}");
    }
}
