//! Compact serialization of a JSON value, identical to `serde_json::to_writer`'s output.

use std::io::Write as _;

use serde_json::{Map, Number, Value};

use super::escape::{needs_escape, EXTRA_ESCAPE_BYTES};

/// Appends `value` as compact JSON to `out`: the bytes `serde_json::to_vec(value)` gives.
pub fn write_compact(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_compact(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_compact(value, out);
    }
    out.push(b'}');
}

fn write_number(number: &Number, out: &mut Vec<u8>) {
    if let Some(unsigned) = number.as_u64() {
        write_decimal(unsigned, out);
    } else if let Some(signed) = number.as_i64() {
        out.push(b'-');
        write_decimal(signed.unsigned_abs(), out);
    } else {
        // Floats: a number's `Display` is serde_json's own (shortest round-trip) formatting.
        let _ = write!(out, "{number}");
    }
}

fn write_decimal(value: u64, out: &mut Vec<u8>) {
    // Two digits per step from a table, where dividing by ten per digit costs more than the
    // rest of a number's serialization.
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A quoted string. Most need no escape: checked eight bytes at a time, they are copied whole
/// (the rare escaping path kept out of line, so this one stays small enough to inline).
#[inline]
fn write_string(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    if needs_escape(bytes) {
        return write_escaped(bytes, out);
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// A quoted string with escapes: copies the runs between escapes whole.
#[cold]
#[inline(never)]
fn write_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut copied = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if EXTRA_ESCAPE_BYTES[usize::from(byte)] > 0 {
            out.extend_from_slice(&bytes[copied..at]);
            write_escape(byte, out);
            copied = at + 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

fn write_escape(byte: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x0d => out.extend_from_slice(b"\\r"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{arbitrary_json, edge_cases};
    use proptest::prelude::*;

    fn ours(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_compact(value, &mut out);
        out
    }

    #[test]
    fn matches_serde_json_on_edge_cases() {
        for value in edge_cases() {
            assert_eq!(
                String::from_utf8_lossy(&ours(&value)),
                String::from_utf8_lossy(&serde_json::to_vec(&value).unwrap()),
            );
        }
    }

    proptest! {
        #[test]
        fn matches_serde_json_on_arbitrary_values(value in arbitrary_json()) {
            prop_assert_eq!(ours(&value), serde_json::to_vec(&value).unwrap());
        }
    }
}
