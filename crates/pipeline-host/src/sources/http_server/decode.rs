//! Turns an `http_server` request body into records, all or nothing: a JSON array of objects,
//! one JSON object, or NDJSON (one object per line, blank lines skipped).
//!
//! `Content-Type: application/x-ndjson` means NDJSON; any other type is sniffed from the first
//! byte that is not whitespace, because senders label NDJSON as `application/json` (Fluent Bit's
//! `json_lines` before 3.0) and a JSON array as anything: `[` is an array, otherwise the body is
//! one object when it parses as one, and NDJSON when not. The first record that is bad JSON or
//! not an object refuses the whole body, with where it is: lines count from 1 (as editors do),
//! array elements from 0 (as JSON Pointer does).

use std::cell::Cell;
use std::fmt;

use hyper::header::HeaderValue;
use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// One decoded record: the fields of one event.
pub(super) type Record = Map<String, Value>;

/// How the sender framed its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// `application/x-ndjson`: one object per line, whatever the first byte.
    Ndjson,
    /// Anything else: decided by the body's first non-whitespace byte.
    Sniff,
}

impl Framing {
    /// The framing a request's `Content-Type` announces (parameters such as `charset` ignored).
    pub(super) fn of(content_type: Option<&HeaderValue>) -> Framing {
        let media_type = content_type
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.split(';').next())
            .map(str::trim);
        match media_type {
            Some(media) if media.eq_ignore_ascii_case("application/x-ndjson") => Framing::Ndjson,
            _ => Framing::Sniff,
        }
    }
}

/// Why a body was refused, and where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DecodeError {
    /// An NDJSON line (or a line of a single multi-line object), counted from 1.
    #[error("line {line}{}: {message}", column_of(*.column))]
    Line {
        line: usize,
        column: Option<usize>,
        message: String,
    },
    /// An element of a JSON array, counted from 0.
    #[error("element {index}{}: {message}", position_of(*.position))]
    Element {
        index: usize,
        /// Line and column in the body, for syntax errors.
        position: Option<(usize, usize)>,
        message: String,
    },
    /// Something after the closing `]` of an array.
    #[error("after the array (line {line}, column {column}): {message}")]
    AfterArray {
        line: usize,
        column: usize,
        message: String,
    },
}

fn column_of(column: Option<usize>) -> String {
    column.map_or_else(String::new, |column| format!(", column {column}"))
}

fn position_of(position: Option<(usize, usize)>) -> String {
    position.map_or_else(String::new, |(line, column)| {
        format!(" (line {line}, column {column})")
    })
}

impl DecodeError {
    /// The location as a JSON field for the answer: `("line", 3)` or `("element", 2)`.
    pub(super) fn location(&self) -> (&'static str, usize) {
        match self {
            DecodeError::Line { line, .. } | DecodeError::AfterArray { line, .. } => {
                ("line", *line)
            }
            DecodeError::Element { index, .. } => ("element", *index),
        }
    }
}

/// The records of `body`, or the first reason to refuse it.
pub(super) fn records(body: &[u8], framing: Framing) -> Result<Vec<Record>, DecodeError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    match (framing, first) {
        (Framing::Ndjson, _) | (Framing::Sniff, None) => ndjson(body),
        (Framing::Sniff, Some(b'[')) => array(body),
        (Framing::Sniff, Some(b'{')) => single_or_ndjson(body),
        (Framing::Sniff, Some(_)) => ndjson(body),
    }
}

/// One object (possibly over several lines), else NDJSON. When neither fits and the first line
/// is not complete JSON, the body was meant as one document: its own error is the useful one
/// (its line numbers are the body's lines, too).
fn single_or_ndjson(body: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let whole = match serde_json::from_slice::<Record>(body) {
        Ok(record) => return Ok(vec![record]),
        Err(error) => error,
    };
    match ndjson(body) {
        Ok(records) => Ok(records),
        Err(DecodeError::Line { line: 1, .. })
            if !whole.is_eof() && first_line_incomplete(body) =>
        {
            Err(DecodeError::Line {
                line: whole.line(),
                column: Some(whole.column()),
                message: message_of(&whole),
            })
        }
        Err(error) => Err(error),
    }
}

/// Whether the first line alone ends before its JSON value does.
fn first_line_incomplete(body: &[u8]) -> bool {
    let first = body.split(|&byte| byte == b'\n').next().unwrap_or_default();
    matches!(serde_json::from_slice::<Value>(first), Err(error) if error.is_eof())
}

/// One object per line; blank lines (only whitespace, `\r` included) are skipped.
fn ndjson(body: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut records = Vec::new();
    for (index, line) in body.split(|&byte| byte == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let located = |column, message| DecodeError::Line {
            line: index + 1,
            column,
            message,
        };
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(record)) => records.push(record),
            Ok(other) => return Err(located(None, not_an_object(&other))),
            Err(error) => return Err(located(Some(error.column()), message_of(&error))),
        }
    }
    Ok(records)
}

/// A JSON array of objects; the index of the element being read is kept for the error.
fn array(body: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let index = Cell::new(0);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let records = deserializer
        .deserialize_seq(Elements { index: &index })
        .map_err(|error| DecodeError::Element {
            index: index.get(),
            // A record of the wrong type is named by its index; a syntax error also by where.
            position: (!error.is_data()).then(|| (error.line(), error.column())),
            message: message_of(&error),
        })?;
    deserializer
        .end()
        .map_err(|error| DecodeError::AfterArray {
            line: error.line(),
            column: error.column(),
            message: message_of(&error),
        })?;
    Ok(records)
}

/// Reads a JSON array's elements as records, counting them in `index`.
struct Elements<'a> {
    index: &'a Cell<usize>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Vec<Record>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Record>, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(value) = seq.next_element::<Value>()? {
            match value {
                Value::Object(record) => records.push(record),
                other => return Err(A::Error::custom(not_an_object(&other))),
            }
            self.index.set(self.index.get() + 1);
        }
        Ok(records)
    }
}

fn not_an_object(value: &Value) -> String {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("expected a JSON object, found {found}")
}

/// serde_json's message without its ` at line L column C` (we say where, in body terms).
fn message_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(body: &str, framing: Framing) -> Vec<Value> {
        records(body.as_bytes(), framing)
            .unwrap_or_else(|error| panic!("{body:?} refused: {error}"))
            .into_iter()
            .map(Value::Object)
            .collect()
    }

    fn refused(body: &str, framing: Framing) -> String {
        match records(body.as_bytes(), framing) {
            Ok(records) => panic!("{body:?} accepted as {} records", records.len()),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_three_shapes_are_told_apart_by_content() {
        let a = json!({"event_type": "a", "n": 1});
        let b = json!({"event_type": "b", "n": 2});
        let cases = [
            (
                "[{\"event_type\":\"a\",\"n\":1},{\"event_type\":\"b\",\"n\":2}]",
                vec![a.clone(), b.clone()],
            ),
            (
                " \n{\n  \"event_type\": \"a\",\n  \"n\": 1\n}\n",
                vec![a.clone()],
            ),
            (
                "{\"event_type\":\"a\",\"n\":1}\n\n{\"event_type\":\"b\",\"n\":2}",
                vec![a.clone(), b.clone()],
            ),
            (
                "{\"event_type\":\"a\",\"n\":1}\r\n{\"event_type\":\"b\",\"n\":2}\r\n",
                vec![a.clone(), b.clone()],
            ),
            ("", vec![]),
            ("[]", vec![]),
        ];
        for (body, expected) in cases {
            assert_eq!(ok(body, Framing::Sniff), expected, "{body:?}");
        }
        assert_eq!(ok("{\"event_type\":\"a\",\"n\":1}", Framing::Ndjson), [a]);
    }

    #[test]
    fn ndjson_refusals_name_the_line_counted_from_one() {
        let body = "{\"n\":1}\n\n{\"n\":2}\n{\"n\":}\n{\"n\":4}\n";
        assert_eq!(
            refused(body, Framing::Sniff),
            "line 4, column 6: expected value"
        );
        assert_eq!(
            refused(body, Framing::Ndjson),
            "line 4, column 6: expected value"
        );
        assert_eq!(
            refused("{\"n\":1}\n[1]\n", Framing::Sniff),
            "line 2: expected a JSON object, found an array"
        );
        assert_eq!(
            refused("{\"n\":1} {\"n\":2}\n", Framing::Sniff),
            "line 1, column 9: trailing characters"
        );
        assert_eq!(
            refused("[{\"n\":1}]", Framing::Ndjson),
            "line 1: expected a JSON object, found an array"
        );
        assert_eq!(
            refused("\"text\"", Framing::Sniff),
            "line 1: expected a JSON object, found a string"
        );
    }

    #[test]
    fn a_broken_multi_line_object_is_located_in_the_body() {
        assert_eq!(
            refused("{\n  \"a\": 1,\n  \"b\": \n}\n", Framing::Sniff),
            "line 4, column 1: expected value"
        );
    }

    #[test]
    fn array_refusals_name_the_element_counted_from_zero() {
        assert_eq!(
            refused("[{\"n\":0}, {\"n\":1}, \"two\"]", Framing::Sniff),
            "element 2: expected a JSON object, found a string"
        );
        assert_eq!(
            refused("[{\"n\":0},\n {\"n\":}]", Framing::Sniff),
            "element 1 (line 2, column 7): expected value"
        );
        assert_eq!(
            refused("[{\"n\":0}] x", Framing::Sniff),
            "after the array (line 1, column 11): trailing characters"
        );
        let error = records(b"[{}, 3]", Framing::Sniff).unwrap_err();
        assert_eq!(error.location(), ("element", 1));
    }

    #[test]
    fn content_type_parameters_and_case_do_not_matter() {
        let framing = |value: &'static str| Framing::of(Some(&HeaderValue::from_static(value)));
        assert_eq!(framing("application/x-ndjson"), Framing::Ndjson);
        assert_eq!(
            framing("Application/X-NDJSON; charset=utf-8"),
            Framing::Ndjson
        );
        assert_eq!(framing("application/json"), Framing::Sniff);
        assert_eq!(Framing::of(None), Framing::Sniff);
    }
}
