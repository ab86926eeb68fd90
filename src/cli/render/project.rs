//! Reading a JSON line for one template: only the top-level fields the template can read
//! ([`freemarker::Template::input_fields`]) are built into the value; the others are scanned and
//! skipped. Building a `serde_json::Value` (an `IndexMap` per object, a `String` per key and
//! value) is most of the `render` job's time, and an Amplitude export line has some sixty fields
//! of which a payload template reads a handful.
//!
//! What the template sees is unchanged: the fields it reads are built by serde_json exactly as a
//! whole parse builds them (key order, numbers, a duplicate key's last value), and it cannot
//! reach the others. A line that is not an object, or a template that may read any field, is
//! parsed whole; a line the skipping parse refuses is parsed whole again, so its error is the
//! whole parse's, word for word. The one difference: a skipped field nested deeper than
//! serde_json's 128 levels is accepted rather than refused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// How to read input lines for one template.
pub struct Projection {
    /// The fields to build; `None`: all of them.
    fields: Option<Vec<String>>,
}

impl Projection {
    /// Builds the fields `fields` names, or every field when `None`.
    pub fn new(fields: Option<Vec<String>>) -> Projection {
        Projection { fields }
    }

    /// `line` as the template sees it.
    pub fn parse(&self, line: &str) -> Result<Value, serde_json::Error> {
        let Some(fields) = &self.fields else {
            return serde_json::from_str(line);
        };
        if !line.trim_start().starts_with('{') {
            return serde_json::from_str(line);
        }
        let mut parser = serde_json::Deserializer::from_str(line);
        let projected = Fields(fields)
            .deserialize(&mut parser)
            .and_then(|value| parser.end().map(|()| value));
        projected.or_else(|_| serde_json::from_str(line))
    }
}

/// Builds the object's `fields`, skipping the rest.
struct Fields<'f>(&'f [String]);

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if self.0.iter().any(|field| *field == key) {
                let value: Value = map.next_value()?;
                out.insert(key.into_owned(), value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(out))
    }
}

/// An object key, borrowed from the line unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }

    fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Projection {
        Projection::new(Some(names.iter().map(|n| n.to_string()).collect()))
    }

    #[test]
    fn only_the_named_fields_are_built_as_a_whole_parse_builds_them() {
        let line = r#"{"a": 1, "b": {"x": [1.50, 2e3, -0.0]}, "c\u0041": "s", "b": {"y": 18446744073709551615}}"#;
        let value = fields(&["b", "cA"]).parse(line).unwrap();
        let whole: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            value.get("b"),
            whole.get("b"),
            "a duplicate key's last value"
        );
        assert_eq!(value.get("cA"), whole.get("cA"));
        assert_eq!(value.get("a"), None);
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["b", "cA"],
            "first-seen order, as the whole parse keeps it"
        );
    }

    #[test]
    fn without_fields_or_without_an_object_the_line_is_parsed_whole() {
        let line = r#"{"a": 1, "b": 2}"#;
        assert_eq!(
            Projection::new(None).parse(line).unwrap(),
            serde_json::from_str::<Value>(line).unwrap()
        );
        assert_eq!(
            fields(&["a"]).parse("[1, 2]").unwrap(),
            serde_json::json!([1, 2])
        );
        assert_eq!(fields(&["a"]).parse(" 7").unwrap(), serde_json::json!(7));
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
            let projected = fields(&["a"]).parse(line).unwrap_err().to_string();
            assert_eq!(projected, whole, "{line}");
        }
    }
}
