//! The estimated length of a JSON value's compact serialization, as Vector estimates an event's
//! size for the component specification's `*_event_bytes_total`: exact, except that strings
//! count without their escapes (a `"` is one byte, not two).
//!
//! Every component reports event bytes, so this runs once per event. Finding the escapes cost
//! three quarters of the walk (3k of the 54k instructions of a record's way from the demo source
//! to its webhook request), for bytes that analytics strings almost never hold. The tests hold
//! the walk to `serde_json::to_vec` less each string's escapes, on arbitrary values.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// `serde_json::to_vec(map).len()` less the strings' escapes, without serializing.
pub(crate) fn object_size(map: &Map<String, Value>) -> usize {
    // `{` and `}`, a `:` per entry and a `,` between entries.
    let punctuation = 2 + map.len() + map.len().saturating_sub(1);
    map.iter().fold(punctuation, |size, (key, value)| {
        size + string_size(key) + value_size(value)
    })
}

/// `serde_json::to_vec(value).len()` less the strings' escapes, without serializing.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(number) => number_size(number),
        Value::String(text) => string_size(text),
        Value::Array(items) => {
            let punctuation = 2 + items.len().saturating_sub(1);
            items.iter().map(value_size).sum::<usize>() + punctuation
        }
        Value::Object(map) => object_size(map),
    }
}

/// A quoted string, counted without escapes.
fn string_size(text: &str) -> usize {
    text.len() + 2
}

fn number_size(number: &Number) -> usize {
    if let Some(unsigned) = number.as_u64() {
        decimal_digits(unsigned)
    } else if let Some(signed) = number.as_i64() {
        1 + decimal_digits(signed.unsigned_abs())
    } else {
        // Floats: serde_json's `Display` for a number is its serialization (the same shortest
        // round-trip formatting); count what it writes.
        let mut counter = CharCounter(0);
        let _ = write!(counter, "{number}");
        counter.0
    }
}

fn decimal_digits(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// A `fmt::Write` that only counts bytes.
struct CharCounter(usize);

impl std::fmt::Write for CharCounter {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0 += text.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{arbitrary_json, edge_cases};
    use proptest::prelude::*;

    /// The oracle: serde_json's length less the escapes serde_json wrote in every string.
    fn estimated_len(value: &Value) -> usize {
        fn escapes(text: &str) -> usize {
            serde_json::to_string(text).map_or(0, |quoted| quoted.len() - text.len() - 2)
        }
        fn all_escapes(value: &Value) -> usize {
            match value {
                Value::String(text) => escapes(text),
                Value::Array(items) => items.iter().map(all_escapes).sum(),
                Value::Object(map) => map.iter().map(|(k, v)| escapes(k) + all_escapes(v)).sum(),
                _ => 0,
            }
        }
        serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap() - all_escapes(value)
    }

    #[test]
    fn matches_serde_json_less_the_escapes_on_edge_cases() {
        for value in edge_cases() {
            assert_eq!(value_size(&value), estimated_len(&value), "{value}");
        }
    }

    #[test]
    fn strings_without_escapes_are_exact_and_escapes_are_not_counted() {
        let plain = serde_json::json!({"city": "São Paulo", "n": [1, 2.5, null]});
        assert_eq!(
            value_size(&plain),
            serde_json::to_vec(&plain).unwrap().len()
        );
        // `"a\"b"` is six bytes in JSON; counted as the three of the string and two quotes.
        assert_eq!(value_size(&Value::from("a\"b")), 5);
    }

    proptest! {
        #[test]
        fn matches_serde_json_less_the_escapes_on_arbitrary_values(value in arbitrary_json()) {
            prop_assert_eq!(value_size(&value), estimated_len(&value));
        }

        #[test]
        fn matches_serde_json_less_the_escapes_on_arbitrary_objects(
            entries in prop::collection::vec((any::<String>(), arbitrary_json()), 0..10)
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            prop_assert_eq!(object_size(&map), estimated_len(&Value::Object(map.clone())));
        }
    }
}
