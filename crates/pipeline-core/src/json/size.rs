//! The length of a JSON value's compact serialization, computed by walking the value instead of
//! serializing it.
//!
//! Every component reports `*_event_bytes_total`, so this runs once per event; walking is several
//! times cheaper than `serde_json::to_writer` into a counting writer and gives exactly the same
//! number (the tests check it against `serde_json::to_vec` on arbitrary values).

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use super::escape::{needs_escape, EXTRA_ESCAPE_BYTES};

/// `serde_json::to_vec(map).len()`, without serializing.
pub(crate) fn object_size(map: &Map<String, Value>) -> usize {
    // `{` and `}`, a `:` per entry and a `,` between entries.
    let punctuation = 2 + map.len() + map.len().saturating_sub(1);
    map.iter().fold(punctuation, |size, (key, value)| {
        size + string_size(key) + value_size(value)
    })
}

/// `serde_json::to_vec(value).len()`, without serializing.
pub(crate) fn value_size(value: &Value) -> usize {
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

/// A quoted, escaped string: serde_json writes `"` and `\` as two bytes, the control characters
/// `\b \t \n \f \r` as two, the other control characters as `\u00XX` (six), and everything else
/// (non-ASCII UTF-8 included) as is.
///
/// Most strings need no escape at all, so that is checked first, eight bytes at a time.
pub(crate) fn string_size(text: &str) -> usize {
    let bytes = text.as_bytes();
    if !needs_escape(bytes) {
        return bytes.len() + 2;
    }
    let escapes: usize = bytes
        .iter()
        .map(|&byte| usize::from(EXTRA_ESCAPE_BYTES[usize::from(byte)]))
        .sum();
    bytes.len() + 2 + escapes
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

    fn serialized_len(value: &Value) -> usize {
        serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap()
    }

    #[test]
    fn matches_serde_json_on_edge_cases() {
        for value in edge_cases() {
            assert_eq!(value_size(&value), serialized_len(&value), "{value}");
        }
    }

    proptest! {
        #[test]
        fn matches_serde_json_on_arbitrary_values(value in arbitrary_json()) {
            prop_assert_eq!(value_size(&value), serialized_len(&value));
        }

        #[test]
        fn matches_serde_json_on_arbitrary_objects(
            entries in prop::collection::vec((any::<String>(), arbitrary_json()), 0..10)
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            let expected = serde_json::to_vec(&map).map(|bytes| bytes.len()).unwrap();
            prop_assert_eq!(object_size(&map), expected);
        }
    }
}
