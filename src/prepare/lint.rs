//! Payloads that are not JSON: every payload goes out as `application/json`, and the most common
//! template bug (an unescaped quote, a comma left before a `}` by an `<#if>`) makes one that is
//! not. Neither FreeMarker nor the webhook says so; `preview` and `validate --sample` do, naming
//! the byte where the JSON broke and the template text or interpolation that wrote it.

use std::fmt;

use serde_json::{Map, Value};

use super::payload::PayloadFormat;
use super::Preparer;
use crate::stream::Stream;

/// Where and why a payload stopped being JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBreak {
    /// The 0-based byte of the payload where parsing failed (its length when the JSON ended
    /// too early).
    pub byte: usize,
    /// The JSON parser's reason ("expected `,` or `}`").
    pub reason: String,
    /// What wrote that byte, when a template did and it can tell.
    pub origin: Option<String>,
}

impl fmt::Display for JsonBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not valid JSON at byte {}: {}", self.byte, self.reason)?;
        if let Some(origin) = &self.origin {
            write!(f, "; written by {origin}")?;
        }
        Ok(())
    }
}

/// Where `body` stops being one JSON value, or `None` when it is one.
pub fn json_break(body: &[u8]) -> Option<JsonBreak> {
    let error = serde_json::from_slice::<serde::de::IgnoredAny>(body).err()?;
    let byte = if error.is_eof() {
        body.len()
    } else {
        byte_of(body, error.line(), error.column())
    };
    // serde_json places a raw control character's error on the byte before it.
    let byte = match body
        .get(byte..)
        .and_then(|rest| rest.iter().position(|&b| b < 0x20))
    {
        Some(ahead) if error.to_string().starts_with("control character") => byte + ahead,
        _ => byte,
    };
    let message = error.to_string();
    // serde_json appends " at line L column C", which means nothing to the reader here.
    let reason = match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    Some(JsonBreak {
        byte,
        reason,
        origin: None,
    })
}

/// The byte offset of serde_json's 1-based line and byte column (column 0: before the line's
/// first byte, as it reports an error right after a line break).
fn byte_of(body: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match body[start..].iter().position(|&b| b == b'\n') {
            Some(at) => start += at + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(body.len())
}

impl Preparer {
    /// Checks the `stream` payload `body` that `fields` rendered to; when it is not JSON,
    /// renders the record again, traced, to find what wrote the byte where it broke.
    pub fn check_json(
        &self,
        stream: Stream,
        fields: &Map<String, Value>,
        body: &[u8],
    ) -> Option<JsonBreak> {
        let mut found = json_break(body)?;
        let filter = match stream {
            Stream::Events => &self.events,
            Stream::Users => &self.users,
        };
        if let PayloadFormat::Template(template) = &filter.format {
            let input = self.template_input(stream, fields.clone());
            // The byte after the end is the last one written.
            let byte = found.byte.min(body.len().saturating_sub(1));
            found.origin = template.origin_of(&input, byte);
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(body: &str) -> (usize, String) {
        let found = json_break(body.as_bytes()).expect("not JSON");
        (found.byte, found.reason)
    }

    #[test]
    fn valid_json_passes() {
        assert_eq!(json_break(br#"{"a": [1, 2, {"b": null}]}"#), None);
        assert_eq!(json_break(b"  \"text\"\n"), None);
    }

    #[test]
    fn the_byte_where_json_broke_is_found_across_lines() {
        let (byte, reason) = at("{\n  \"a\": \"x\"y\"\n}");
        assert_eq!(byte, 12, "the y after the closing quote");
        assert!(reason.contains("expected"), "{reason}");
        let (byte, _) = at("{\"a\": 1,\n}");
        assert_eq!(byte, 9, "the brace after a trailing comma");
        let (byte, reason) = at("{\"a\": 1");
        assert_eq!(byte, 7);
        assert!(reason.contains("EOF"), "{reason}");
        let (byte, _) = at("name=value&x=1");
        assert_eq!(byte, 1, "`n` could have begun `null`");
        let (byte, reason) = at("{\"a\": \"two\nlines\"}");
        assert_eq!(byte, 10, "the line break");
        assert!(reason.starts_with("control character"), "{reason}");
        let (byte, _) = at("{} {}");
        assert_eq!(byte, 3, "trailing characters");
    }
}
