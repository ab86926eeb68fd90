//! A validating scan of one JSON object line: it checks the whole line as serde_json's parse into
//! a `Value` would (the grammar, control characters in strings, escapes and surrogate pairs,
//! numbers beyond `f64`'s range, nesting deeper than serde_json allows) and hands back the raw
//! text of the top-level members the caller wants, without building anything.
//!
//! Written by hand because serde_json's own way to pass over a value (`IgnoredAny`) goes through
//! its visitor machinery for every token and was half of the `render` job's time, while the
//! fast JSON crates either check less than serde_json does or build values of their own types.
//! Rare tokens (a string with an escape, a number with an exponent or hundreds of digits) are
//! handed to serde_json itself, so what is accepted is serde_json's by construction; the tests
//! compare the two on mutated lines.

use std::borrow::Cow;

/// serde_json refuses a value nested 128 levels deep (its recursion limit), the line's own
/// object counting as the first level.
const MAX_DEPTH: usize = 127;

/// Integers with more digits than this might exceed `f64`'s range, which serde_json refuses.
const SAFE_DIGITS: usize = 300;

/// A top-level member of the line's object: its key (unescaped) and its value's JSON text.
pub type Member<'a> = (Cow<'a, str>, &'a str);

/// Checks `line`, a JSON object, and appends the members whose key `wanted` accepts, in line
/// order (duplicates included). `None` when the line is not an object or not valid JSON: the
/// caller parses it whole to learn why.
pub fn object_members<'a>(
    line: &'a str,
    mut wanted: impl FnMut(&str) -> bool,
    out: &mut Vec<Member<'a>>,
) -> Option<()> {
    let mut scan = Scanner { line, at: 0 };
    scan.white_space();
    scan.expect(b'{')?;
    scan.white_space();
    if scan.expect(b'}').is_none() {
        loop {
            let key = scan.string()?;
            scan.white_space();
            scan.expect(b':')?;
            scan.white_space();
            let start = scan.at;
            scan.value(1)?;
            if wanted(&key) {
                out.push((key, line.get(start..scan.at)?));
            }
            scan.white_space();
            match scan.next()? {
                b',' => scan.white_space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    scan.white_space();
    (scan.at == line.len()).then_some(())
}

struct Scanner<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn white_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// One value nested `depth` levels deep (the line's object being level 1).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.white_space();
        if self.expect(b'}').is_some() {
            return Some(());
        }
        loop {
            self.skip_string()?;
            self.white_space();
            self.expect(b':')?;
            self.white_space();
            self.value(depth)?;
            self.white_space();
            match self.next()? {
                b',' => self.white_space(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.white_space();
        if self.expect(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.white_space();
            match self.next()? {
                b',' => self.white_space(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes().get(self.at..)?.starts_with(word).then(|| {
            self.at += word.len();
        })
    }

    /// A string, unescaped. One with an escape is checked and decoded by serde_json.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        let escaped = self.skip_string_raw()?;
        if escaped {
            let quoted = self.line.get(start..self.at)?;
            return serde_json::from_str::<String>(quoted).ok().map(Cow::Owned);
        }
        self.line.get(start + 1..self.at - 1).map(Cow::Borrowed)
    }

    /// A string whose text is not wanted: checked, not built.
    fn skip_string(&mut self) -> Option<()> {
        let start = self.at;
        if self.skip_string_raw()? {
            let quoted = self.line.get(start..self.at)?;
            // As a `String`: serde_json's way to skip a string lets lone surrogates through.
            serde_json::from_str::<String>(quoted).ok()?;
        }
        Some(())
    }

    /// Moves past a string; whether it holds an escape, which the caller has serde_json check.
    fn skip_string_raw(&mut self) -> Option<bool> {
        let bytes = self.bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let mut at = self.at + 1;
        let mut escaped = false;
        loop {
            at += special_byte(bytes.get(at..)?)?;
            match bytes.get(at)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    // The escaped byte cannot end the string; serde_json checks the escape.
                    at += 2;
                }
                _ => return None, // a control character
            }
        }
        self.at = at + 1;
        Some(escaped)
    }

    /// A number in JSON's grammar; one that might be out of `f64`'s range is checked by
    /// serde_json.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut checked = self.at - start <= SAFE_DIGITS;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.at_least_one_digit()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.at_least_one_digit()?;
            checked = false;
        }
        if !checked {
            serde_json::from_str::<serde_json::Number>(self.line.get(start..self.at)?).ok()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// The offset of the first byte in `bytes` that ends a plain run of string characters: a quote,
/// a backslash or a control character. Eight bytes at a time.
fn special_byte(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = special_mask(u64::from_le_bytes(word));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = bytes.get(at..)?;
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|found| at + found)
}

/// The high bit of each byte of `word` that is a quote, a backslash or below 0x20. Bytes above
/// the first such byte may be marked falsely (a borrow runs on), never those below it.
fn special_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(word ^ (ONES * u64::from(b'"')));
    let backslash = zero(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn accepted(line: &str) -> bool {
        object_members(line, |_| true, &mut Vec::new()).is_some()
    }

    fn whole(line: &str) -> bool {
        matches!(serde_json::from_str::<Value>(line), Ok(Value::Object(_)))
    }

    #[test]
    fn members_come_raw_in_line_order_with_keys_unescaped() {
        let line = r#" {"a": 1, "b\u0041" : {"x": [1.5, "y"]}, "c": "s\"t", "a": null} "#;
        let mut out = Vec::new();
        object_members(line, |key| key != "c", &mut out).unwrap();
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        assert_eq!(
            got,
            [("a", "1"), ("bA", r#"{"x": [1.5, "y"]}"#), ("a", "null")]
        );
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does() {
        let cases = [
            r#"{}"#,
            r#"{"a":[]}"#,
            r#"{"a": [1, 2,]}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{"a": 01}"#,
            r#"{"a": -0}"#,
            r#"{"a": -}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": 1e+5}"#,
            r#"{"a": 1E-5}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": -1e400}"#,
            r#"{"a": 0e99999999999999999999}"#,
            r#"{"a": 1e-400}"#,
            r#"{"a": +1}"#,
            r#"{"a": tru}"#,
            r#"{"a": truex}"#,
            r#"{"a": nul}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            r#"{"a": "\u12G4"}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\udc00"}"#,
            r#"{"a": "\ud800\udc00"}"#,
            r#"{"a": "\ud800\u0041"}"#,
            r#"{"a": "\\"}"#,
            r#"{"a": "\/\b\f\n\r\t\""}"#,
            "{\"a\": \"tab\there\"}",
            "{\"a\": \"del\u{7f}\"}",
            "{\"a\": \"é ü 😀\"}",
            r#"{"a": "unterminated}"#,
            r#"{"a": "ends in escape\"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}}"#,
            "{\"a\":\t1 ,\r\n\"b\" :2}",
            "{\"a\": 1}\u{a0}",
            r#"{"a": [1 2]}"#,
            r#"{"a": {"b" : 1 "c": 2}}"#,
            r#"{"a": {1: 2}}"#,
            r#"{1: 2}"#,
            r#"[1]"#,
            r#""s""#,
            "",
            "{",
        ];
        for line in cases {
            assert_eq!(accepted(line), whole(line), "{line:?}");
        }
        let long = format!(r#"{{"a": {}}}"#, "9".repeat(400));
        assert_eq!(accepted(&long), whole(&long));
        let long_fraction = format!(r#"{{"a": 1.{}}}"#, "9".repeat(400));
        assert_eq!(accepted(&long_fraction), whole(&long_fraction));
    }

    #[test]
    fn nesting_is_limited_where_serde_json_limits_it() {
        for depth in 120..135 {
            for (open, close) in [("[", "]"), (r#"{"k":"#, "}")] {
                let line = format!(r#"{{"a": {}1{}}}"#, open.repeat(depth), close.repeat(depth));
                assert_eq!(accepted(&line), whole(&line), "depth {depth} of {open}");
            }
        }
    }

    #[test]
    fn special_bytes_are_found_at_every_offset() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = 0x01;
                    }
                    assert_eq!(special_byte(&bytes), Some(at), "{bytes:?}");
                }
            }
            assert_eq!(special_byte(&vec![0x20; len]), None);
            assert_eq!(special_byte(&vec![0xff; len]), None);
        }
    }

    /// The char boundary at or before `at`, within `line`.
    fn char_boundary(line: &str, at: usize) -> usize {
        let mut at = at.min(line.len());
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// A valid line to mutate: nested values, escapes, numbers of each shape.
    const SEED: &str = r#"{"event_type": "click", "n": -12.5e-3, "big": 18446744073709551616, "user_properties": {"email": "a\"b@c.d", "tags": ["x", "\u00e9", true, false, null, {}]}, "deep": [[[{"k": 0}]]], "u": "\ud83d\ude00"}"#;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Any edit of a valid line is accepted exactly when serde_json accepts it, and the
        /// members found are serde_json's.
        #[test]
        fn mutated_lines_are_judged_as_serde_json_judges_them(
            edits in proptest::collection::vec((0usize..400, prop::sample::select(vec![
                "", "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "-", ".", "e", "1", " ", "\u{1}", "u", "d800", "x",
            ]), 0usize..3), 1..4)
        ) {
            let mut line = SEED.to_string();
            for (at, insert, remove) in edits {
                let at = char_boundary(&line, at);
                let end = char_boundary(&line, at + remove);
                line.replace_range(at..end, insert);
            }
            let mut members = Vec::new();
            let scanned = object_members(&line, |_| true, &mut members);
            prop_assert_eq!(scanned.is_some(), whole(&line), "{}", line);
            if scanned.is_some() {
                let mut built = serde_json::Map::new();
                for (key, raw) in members {
                    built.insert(key.into_owned(), serde_json::from_str(raw).unwrap());
                }
                prop_assert_eq!(Value::Object(built), serde_json::from_str::<Value>(&line).unwrap());
            }
        }
    }
}
