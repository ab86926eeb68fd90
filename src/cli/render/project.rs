//! Reading a JSON line for one template: only the top-level fields the template can read
//! ([`freemarker::Template::input_fields`]) are built into the value, and of a field it reads
//! only as `input.field.key`, only those keys; the rest is checked ([`super::scan`]) and
//! skipped. Building a `serde_json::Value` (an `IndexMap` per object, a
//! `String` per key and value) is most of the `render` job's time, and an Amplitude export line
//! has some sixty fields of which a payload template reads a handful.
//!
//! What the template sees is unchanged: the fields it reads are built by serde_json exactly as a
//! whole parse builds them (key order, numbers, a duplicate key's last value), it cannot reach
//! the others, and a line is accepted exactly when a whole parse accepts it. A line that is not
//! an object, or a template that may read any field, is parsed whole; a line the scan refuses is
//! parsed whole again, so its error is the whole parse's, word for word.

use freemarker::InputField;
use serde_json::{Map, Value};

use super::scan::{object_members, Member};

/// How to read input lines for one template.
pub struct Projection {
    /// The fields to build; `None`: all of them.
    fields: Option<Vec<InputField>>,
}

impl Projection {
    /// Builds the fields `fields` names, or every field when `None`.
    pub fn new(fields: Option<Vec<InputField>>) -> Projection {
        Projection { fields }
    }

    /// `line` as the template sees it. `members` is scratch space, kept by the caller so that
    /// its allocation serves many lines.
    pub fn parse<'a>(
        &self,
        line: &'a str,
        members: &mut Vec<Member<'a>>,
    ) -> Result<Value, serde_json::Error> {
        let Some(fields) = &self.fields else {
            return serde_json::from_str(line);
        };
        members.clear();
        let wanted = |key: &str| fields.iter().any(|field| field.name == key);
        if object_members(line, wanted, members).is_none() {
            return serde_json::from_str(line);
        }
        let mut object = Map::with_capacity(members.len());
        let mut inner = Vec::new();
        for (key, raw) in members.drain(..) {
            let keys = fields
                .iter()
                .find(|field| field.name == key)
                .and_then(|field| field.keys.as_deref());
            match build(raw, keys, &mut inner) {
                Ok(value) => {
                    object.insert(key.into_owned(), value);
                }
                Err(_) => return serde_json::from_str(line),
            }
        }
        Ok(Value::Object(object))
    }
}

/// The value of a member's checked JSON text; of an object, only `keys` when given.
fn build<'a>(
    raw: &'a str,
    keys: Option<&[String]>,
    inner: &mut Vec<Member<'a>>,
) -> Result<Value, serde_json::Error> {
    if let Some(keys) = keys.filter(|_| raw.starts_with('{')) {
        inner.clear();
        let wanted = |key: &str| keys.iter().any(|k| k == key);
        if object_members(raw, wanted, inner).is_some() {
            let mut object = Map::with_capacity(inner.len());
            for (key, raw) in inner.drain(..) {
                object.insert(key.into_owned(), build_whole(raw)?);
            }
            return Ok(Value::Object(object));
        }
    }
    build_whole(raw)
}

/// The value of a member's checked JSON text. A string without escapes is its text between the
/// quotes, as serde_json would build it, without a parser's set-up for a few bytes.
fn build_whole(raw: &str) -> Result<Value, serde_json::Error> {
    let plain = raw
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|text| !text.contains('\\'));
    match plain {
        Some(text) => Ok(Value::String(text.to_owned())),
        None => serde_json::from_str(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Projection {
        let whole = |name: &&str| InputField {
            name: name.to_string(),
            keys: None,
        };
        Projection::new(Some(names.iter().map(whole).collect()))
    }

    #[test]
    fn of_a_field_read_by_key_only_those_keys_are_built() {
        let projection = Projection::new(Some(vec![InputField {
            name: "p".into(),
            keys: Some(vec!["email".into(), "x".into()]),
        }]));
        let line = r#"{"p": {"plan": "pro", "email": "a@b", "n": {"deep": [1]}, "email": "c\"d"}, "q": 1}"#;
        assert_eq!(
            projection.parse_alone(line).unwrap(),
            serde_json::json!({"p": {"email": "c\"d"}}),
            "a duplicate key's last value"
        );
        for not_a_hash in [
            r#"{"p": [1, {"email": 2}]}"#,
            r#"{"p": "s"}"#,
            r#"{"p": null}"#,
        ] {
            let whole: Value = serde_json::from_str(not_a_hash).unwrap();
            assert_eq!(projection.parse_alone(not_a_hash).unwrap(), whole);
        }
    }

    impl Projection {
        fn parse_alone(&self, line: &str) -> Result<Value, serde_json::Error> {
            self.parse(line, &mut Vec::new())
        }
    }

    #[test]
    fn only_the_named_fields_are_built_as_a_whole_parse_builds_them() {
        let line = r#"{"a": 1, "b": {"x": [1.50, 2e3, -0.0]}, "c\u0041": "s", "b": {"y": 18446744073709551615}, "d": "q\"\u00e9", "e": ""}"#;
        let value = fields(&["b", "cA", "d", "e"]).parse_alone(line).unwrap();
        let whole: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            value.get("b"),
            whole.get("b"),
            "a duplicate key's last value"
        );
        for plain_or_escaped in ["cA", "d", "e"] {
            assert_eq!(value.get(plain_or_escaped), whole.get(plain_or_escaped));
        }
        assert_eq!(value.get("a"), None);
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["b", "cA", "d", "e"],
            "first-seen order, as the whole parse keeps it"
        );
    }

    #[test]
    fn without_fields_or_without_an_object_the_line_is_parsed_whole() {
        let line = r#"{"a": 1, "b": 2}"#;
        assert_eq!(
            Projection::new(None).parse_alone(line).unwrap(),
            serde_json::from_str::<Value>(line).unwrap()
        );
        assert_eq!(
            fields(&["a"]).parse_alone("[1, 2]").unwrap(),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            fields(&["a"]).parse_alone(" 7").unwrap(),
            serde_json::json!(7)
        );
    }

    #[test]
    fn a_bad_line_gets_the_whole_parse_error_word_for_word() {
        for line in [
            r#"{"a": 1,}"#,
            r#"{"a": 1, "skipped": [1, 2}"#,
            r#"{"a": 1} trailing"#,
            r#"{"a": "unterminated"#,
            r#"{"skipped": "bad \x escape", "a": 1}"#,
        ] {
            let whole = serde_json::from_str::<Value>(line).unwrap_err().to_string();
            let projected = fields(&["a"]).parse_alone(line).unwrap_err().to_string();
            assert_eq!(projected, whole, "{line}");
        }
    }
}
