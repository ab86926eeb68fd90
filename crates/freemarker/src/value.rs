//! Template values: a small enum that borrows the JSON input and the template instead of copying them.

use crate::ast::MacroDef;
use crate::format_bridge::Number;
use serde_json::Value as Json;
use std::rc::Rc;

/// A value seen by a template. JSON objects and arrays stay borrowed (`Json`); strings from the input or
/// template are `&str`; computed values are reference counted so cloning is cheap.
#[derive(Clone, Debug)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    String(Rc<str>),
    Num(Number),
    Bool(bool),
    /// A JSON object or array from the input.
    Json(&'a Json),
    Seq(Rc<Vec<Value<'a>>>),
    Hash(Rc<Vec<(Rc<str>, Value<'a>)>>),
    /// An integer range: first value, step (+1/-1), length (None = unbounded).
    Range {
        start: i64,
        step: i64,
        len: Option<usize>,
    },
    /// A macro or function, with the arguments `?with_args` gave it, if any.
    Macro(&'a MacroDef, Option<Rc<WithArgs<'a>>>),
    /// `?values` of a JSON object: a sequence over the object's values (nulls are missing items).
    JsonValues(&'a serde_json::Map<String, Json>),
    /// A date, time or date-time (milliseconds since the epoch, and which parts are meaningful).
    Date(crate::format_bridge::DateValue),
    /// The result of `?matches`: a boolean (whole string matched) and a sequence of the found matches.
    Matches(Rc<Matches>),
}

/// Arguments `?with_args` (or `?with_args_last`) bound to a macro or function: added to each
/// call's, which win over them.
#[derive(Debug)]
pub(crate) struct WithArgs<'a> {
    /// From a sequence: before the call's positional arguments (after them when `last`).
    pub positional: Vec<Option<Value<'a>>>,
    /// From a hash: named arguments, under the call's.
    pub named: Vec<(Rc<str>, Option<Value<'a>>)>,
    pub last: bool,
}

/// What `?matches` found.
#[derive(Debug)]
pub(crate) struct Matches {
    /// Whether the whole string matched.
    pub whole: bool,
    /// The groups of the whole-string match (group 0 first).
    pub groups: Vec<Rc<str>>,
    /// The substrings found by searching.
    pub found: Vec<Rc<str>>,
}

/// Whether two keys are equal. Keys are short, so comparing machine words inline beats calling
/// `memcmp` once per candidate key of the same length.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    #[inline(always)]
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    }
    #[inline(always)]
    fn half(s: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(w)
    }
    if n >= 8 {
        // whole words, then the last (possibly overlapping) word
        let mut i = 0;
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return false;
            }
            i += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        a == b
    }
}

/// Looks a key up in a JSON object. Small objects (events have a few dozen keys) are scanned, which is
/// cheaper than hashing the key with the map's SipHash; big ones use the index.
#[inline]
fn json_get<'j>(m: &'j serde_json::Map<String, Json>, key: &str) -> Option<&'j Json> {
    if m.len() <= 48 {
        let kb = key.as_bytes();
        m.iter()
            .find(|(k, _)| same_key(k.as_bytes(), kb))
            .map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// [`json_get`] that first tries the position `hint` remembers and its two neighbours (objects of
/// one shape that lack or add a key shift the rest by one), and remembers where the key was found.
#[inline]
pub(crate) fn json_get_hinted<'j>(
    m: &'j serde_json::Map<String, Json>,
    key: &str,
    hint: &crate::ast::KeyHint,
) -> Option<&'j Json> {
    let kb = key.as_bytes();
    let h = hint.get();
    for at in [h, h + 1, h.wrapping_sub(1)] {
        if let Some((k, v)) = m.iter().nth(at) {
            if same_key(k.as_bytes(), kb) {
                if at != h {
                    hint.set(at);
                }
                return Some(v);
            }
        }
    }
    if m.len() > 48 {
        return m.get(key);
    }
    let found = m
        .iter()
        .enumerate()
        .find(|(_, (k, _))| same_key(k.as_bytes(), kb));
    match found {
        Some((i, (_, v))) => {
            hint.set(i);
            Some(v)
        }
        None => None,
    }
}

impl<'a> Value<'a> {
    /// Converts a JSON value; `null` is missing (`None`).
    pub fn from_json(j: &'a Json) -> Option<Value<'a>> {
        match j {
            Json::Null => None,
            Json::Bool(b) => Some(Value::Bool(*b)),
            Json::Number(n) => Some(Value::Num(Number::from_json(n))),
            Json::String(s) => Some(Value::Str(s)),
            Json::Array(_) | Json::Object(_) => Some(Value::Json(j)),
        }
    }

    pub fn string(s: impl Into<Rc<str>>) -> Value<'a> {
        Value::String(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::String(_))
    }

    pub fn is_seq(&self) -> bool {
        matches!(
            self,
            Value::Seq(_)
                | Value::Range { .. }
                | Value::Json(Json::Array(_))
                | Value::Matches(_)
                | Value::JsonValues(_)
        )
    }

    pub fn is_hash(&self) -> bool {
        matches!(self, Value::Hash(_) | Value::Json(Json::Object(_)))
    }

    /// Number of items of a sequence (None for unbounded ranges and non-sequences).
    pub fn seq_len(&self) -> Option<usize> {
        match self {
            Value::Seq(v) => Some(v.len()),
            Value::Json(Json::Array(a)) => Some(a.len()),
            Value::Range { len, .. } => *len,
            Value::Matches(m) => Some(m.found.len()),
            Value::JsonValues(m) => Some(m.len()),
            _ => None,
        }
    }

    /// The `i`th item of a sequence; `Some(None)` when the item is JSON null; `None` when out of range.
    pub fn seq_get(&self, i: usize) -> Option<Option<Value<'a>>> {
        match self {
            Value::Seq(v) => v.get(i).map(|x| Some(x.clone())),
            Value::Json(Json::Array(a)) => a.get(i).map(Value::from_json),
            Value::Matches(m) => m.found.get(i).map(|s| Some(Value::String(s.clone()))),
            Value::JsonValues(m) => m.values().nth(i).map(Value::from_json),
            Value::Range { start, step, len } => {
                if len.is_some_and(|l| i >= l) {
                    None
                } else {
                    Some(Some(Value::Num(Number::from_i64(start + step * i as i64))))
                }
            }
            _ => None,
        }
    }

    /// Looks a key up in a hash: outer `None` = key absent or null.
    pub fn hash_get(&self, key: &str) -> Option<Value<'a>> {
        match self {
            Value::Json(Json::Object(m)) => json_get(m, key).and_then(Value::from_json),
            Value::Hash(h) => h.iter().find(|(k, _)| &**k == key).map(|(_, v)| v.clone()),
            _ => None,
        }
    }

    /// The keys of a hash, in order.
    pub fn hash_keys(&self) -> Vec<Value<'a>> {
        match self {
            Value::Json(Json::Object(m)) => m.keys().map(|k| Value::Str(k.as_str())).collect(),
            Value::Hash(h) => h.iter().map(|(k, _)| Value::String(k.clone())).collect(),
            _ => Vec::new(),
        }
    }

    /// The values of a hash, in key order (JSON null stays as a missing slot, `None`).
    pub fn hash_values(&self) -> Vec<Option<Value<'a>>> {
        match self {
            Value::Json(Json::Object(m)) => m.values().map(Value::from_json).collect(),
            Value::Hash(h) => h.iter().map(|(_, v)| Some(v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    pub fn hash_len(&self) -> usize {
        match self {
            Value::Json(Json::Object(m)) => m.len(),
            Value::Hash(h) => h.len(),
            _ => 0,
        }
    }

    /// The FreeMarker type description used in error messages ("a string (wrapper: f.t.SimpleScalar)").
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::String(_) => "a string (wrapper: f.t.SimpleScalar)",
            Value::Num(_) => "a number (wrapper: f.t.SimpleNumber)",
            Value::Bool(true) => "a boolean (wrapper: f.t.TemplateBooleanModel$2)",
            Value::Bool(false) => "a boolean (wrapper: f.t.TemplateBooleanModel$1)",
            Value::Json(Json::Array(_)) => {
                "a sequence (ArrayList wrapped into f.t.DefaultListAdapter)"
            }
            Value::Json(_) => "an extended_hash (LinkedHashMap wrapped into f.t.DefaultMapAdapter)",
            Value::Seq(_) => "a sequence (wrapper: f.t.SimpleSequence)",
            Value::Hash(_) => "an extended_hash (wrapper: f.c.HashLiteral$SequenceHash)",
            Value::Range { .. } => "a sequence (wrapper: f.c.BoundedRangeModel)",
            Value::Macro(m, _) if m.is_function => "a method+sequence (wrapper: f.c.Macro)",
            Value::Macro(..) => "a macro+misc_template_model (wrapper: f.c.Macro)",
            Value::Date(_) => "a date (wrapper: f.t.SimpleDate)",
            Value::JsonValues(_) => "a sequence (wrapper: f.c.CollectionAndSequence)",
            Value::Matches(_) => "a sequence+boolean (wrapper: f.c.RegexBuiltins$RegexMatchModel)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_agrees_with_slice_equality_at_every_length_and_position() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(same_key(a, a), "len {n}");
            assert!(!same_key(a, &base[..n + 1]), "len {n} vs {}", n + 1);
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_key(a, &b), "len {n}, differing at {at}");
            }
        }
    }

    #[test]
    fn hinted_lookup_finds_keys_wherever_the_hint_points() {
        let obj: Json = serde_json::from_str(r#"{"a":1,"bb":2,"ccc":3,"dddd":4,"user_id":5}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let Json::Object(m) = &obj else {
            panic!("not an object")
        };
        let hint = crate::ast::KeyHint::default();
        for start in 0..8 {
            for (i, key) in ["a", "bb", "ccc", "dddd", "user_id"].iter().enumerate() {
                hint.set(start);
                assert_eq!(json_get_hinted(m, key, &hint), Some(&Json::from(i + 1)));
                assert_eq!(hint.get(), i, "the hint remembers where {key} is");
            }
            hint.set(start);
            assert_eq!(json_get_hinted(m, "user_i", &hint), None);
        }
    }
}
