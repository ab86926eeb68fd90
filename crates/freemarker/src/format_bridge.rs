//! The engine's one doorway to numbers and formatting.
//!
//! Everything the interpreter needs from number arithmetic, number/date formatting and string escaping
//! goes through here, so the formatting implementation can evolve without touching the interpreter.
//! This version carries a small interim implementation (i64/f64 numbers, the common `number_format`s).

use std::cmp::Ordering;

/// A FreeMarker number.
#[derive(Clone, Debug)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

/// An arithmetic failure such as division by zero.
#[derive(Debug)]
pub(crate) struct ArithError(pub String);

impl Number {
    pub fn from_json(n: &serde_json::Number) -> Number {
        if let Some(i) = n.as_i64() {
            Number::Int(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }
    pub fn parse_literal(s: &str) -> Option<Number> {
        if s.contains('.') {
            s.parse::<f64>().ok().map(Number::Float)
        } else {
            s.parse::<i64>()
                .ok()
                .map(Number::Int)
                .or_else(|| s.parse::<f64>().ok().map(Number::Float))
        }
    }
    pub fn from_i64(i: i64) -> Number {
        Number::Int(i)
    }
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
        }
    }
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.is_finite() => Some(f.trunc() as i64),
            Number::Float(_) => None,
        }
    }
    fn norm(f: f64) -> Number {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }
    pub fn add(&self, o: &Number) -> Number {
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a
                .checked_add(*b)
                .map_or(Number::Float(*a as f64 + *b as f64), Number::Int),
            _ => Number::norm(self.to_f64() + o.to_f64()),
        }
    }
    pub fn sub(&self, o: &Number) -> Number {
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a
                .checked_sub(*b)
                .map_or(Number::Float(*a as f64 - *b as f64), Number::Int),
            _ => Number::norm(self.to_f64() - o.to_f64()),
        }
    }
    pub fn mul(&self, o: &Number) -> Number {
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a
                .checked_mul(*b)
                .map_or(Number::Float(*a as f64 * *b as f64), Number::Int),
            _ => Number::norm(self.to_f64() * o.to_f64()),
        }
    }
    pub fn div(&self, o: &Number) -> Result<Number, ArithError> {
        if o.to_f64() == 0.0 {
            return Err(ArithError("Division by zero".into()));
        }
        Ok(Number::norm(self.to_f64() / o.to_f64()))
    }
    pub fn rem(&self, o: &Number) -> Result<Number, ArithError> {
        match (self, o) {
            (_, Number::Int(0)) => Err(ArithError("Division by zero".into())),
            (Number::Int(a), Number::Int(b)) => Ok(Number::Int(a.wrapping_rem(*b))),
            _ => Ok(Number::norm(self.to_f64() % o.to_f64())),
        }
    }
    pub fn neg(&self) -> Number {
        match self {
            Number::Int(i) => i
                .checked_neg()
                .map_or(Number::Float(-(*i as f64)), Number::Int),
            Number::Float(f) => Number::Float(-f),
        }
    }
    pub fn compare(&self, o: &Number) -> Ordering {
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a.cmp(b),
            _ => self
                .to_f64()
                .partial_cmp(&o.to_f64())
                .unwrap_or(Ordering::Equal),
        }
    }
    pub fn round(&self) -> Number {
        match self {
            Number::Int(_) => self.clone(),
            Number::Float(f) => Number::norm((f + 0.5).floor()),
        }
    }
    pub fn floor(&self) -> Number {
        match self {
            Number::Int(_) => self.clone(),
            Number::Float(f) => Number::norm(f.floor()),
        }
    }
    pub fn ceiling(&self) -> Number {
        match self {
            Number::Int(_) => self.clone(),
            Number::Float(f) => Number::norm(f.ceil()),
        }
    }
    pub fn int(&self) -> Number {
        match self {
            Number::Int(_) => self.clone(),
            Number::Float(f) => Number::Int(f.trunc() as i64),
        }
    }
    pub fn abs(&self) -> Number {
        match self {
            Number::Int(i) => Number::Int(i.wrapping_abs()),
            Number::Float(f) => Number::Float(f.abs()),
        }
    }
    pub fn is_nan(&self) -> bool {
        matches!(self, Number::Float(f) if f.is_nan())
    }
    pub fn is_infinite(&self) -> bool {
        matches!(self, Number::Float(f) if f.is_infinite())
    }
}

/// A compiled `number_format` setting value.
#[derive(Clone, Debug)]
pub(crate) struct NumberFormat {
    max_frac: usize,
    min_frac: usize,
    grouping: bool,
}

impl NumberFormat {
    pub fn new(spec: &str, _locale: &str) -> Result<NumberFormat, String> {
        match spec {
            "number" | "" => Ok(NumberFormat {
                max_frac: 3,
                min_frac: 0,
                grouping: true,
            }),
            "computer" => Ok(NumberFormat {
                max_frac: 16,
                min_frac: 0,
                grouping: false,
            }),
            "0.##" => Ok(NumberFormat {
                max_frac: 2,
                min_frac: 0,
                grouping: false,
            }),
            _ => {
                let frac = spec.split('.').nth(1).unwrap_or("");
                Ok(NumberFormat {
                    max_frac: frac.len(),
                    min_frac: frac.chars().filter(|c| *c == '0').count(),
                    grouping: spec.contains(','),
                })
            }
        }
    }

    pub fn format(&self, n: &Number) -> String {
        let f = match n {
            Number::Int(i) => {
                return group(
                    &i.abs().to_string(),
                    *i < 0,
                    "",
                    self.grouping,
                    self.min_frac,
                )
            }
            Number::Float(f) => *f,
        };
        if f.is_nan() {
            return "NaN".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { "∞".into() } else { "-∞".into() };
        }
        let s = format!("{:.*}", self.max_frac, f.abs());
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        let mut frac = frac.trim_end_matches('0').to_string();
        while frac.len() < self.min_frac {
            frac.push('0');
        }
        let neg = f < 0.0 && (int != "0" || !frac.is_empty());
        group(int, neg, &frac, self.grouping, 0)
    }
}

fn group(int: &str, neg: bool, frac: &str, grouping: bool, min_frac: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let len = int.len();
    for (i, c) in int.chars().enumerate() {
        if grouping && i > 0 && (len - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let mut frac = frac.to_string();
    while frac.len() < min_frac {
        frac.push('0');
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out
}

/// `?c` / computer format.
pub(crate) fn format_c(n: &Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::Float(f) if f.is_nan() => "NaN".into(),
        Number::Float(f) if f.is_infinite() => {
            if *f > 0.0 {
                "INF".into()
            } else {
                "-INF".into()
            }
        }
        Number::Float(f) => {
            let s = format!("{f}");
            s
        }
    }
}

/// String to number for `?number`.
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('+') && t[1..].starts_with(['+', '-']) {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Number::Int(i));
    }
    match t {
        "Infinity" | "INF" => return Some(Number::Float(f64::INFINITY)),
        "-Infinity" | "-INF" => return Some(Number::Float(f64::NEG_INFINITY)),
        "NaN" => return Some(Number::Float(f64::NAN)),
        _ => {}
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        t.parse::<f64>().ok().map(Number::norm)
    } else {
        None
    }
}

pub(crate) fn check_number_format(spec: &str, locale: &str) -> Result<(), String> {
    NumberFormat::new(spec, locale).map(|_| ())
}

pub(crate) fn check_boolean_format(spec: &str) -> Result<(), String> {
    if spec == "c" || spec.split(',').count() == 2 {
        Ok(())
    } else {
        Err(format!("Can't parse boolean format string {spec:?}"))
    }
}

pub(crate) fn check_locale(_s: &str) -> Result<(), String> {
    Ok(())
}

pub(crate) fn check_time_zone(_s: &str) -> Result<(), String> {
    Ok(())
}

// ----- string escapes -----

pub(crate) fn json_string(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push('/'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
}

pub(crate) fn html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

pub(crate) fn xml(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

pub(crate) fn url(s: &str, path: bool, out: &mut String) {
    for b in s.bytes() {
        let safe = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
            || (path && b == b'/');
        if safe {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

pub(crate) fn js_string(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\x3C"),
            '>' => out.push_str("\\x3E"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
}

pub(crate) fn j_string(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
}

pub(crate) fn cap_first(s: &str) -> String {
    let i = s.find(|c: char| !c.is_whitespace()).unwrap_or(s.len());
    let mut out = s[..i].to_string();
    let mut rest = s[i..].chars();
    if let Some(c) = rest.next() {
        out.extend(c.to_uppercase());
    }
    out.extend(rest);
    out
}

pub(crate) fn uncap_first(s: &str) -> String {
    let i = s.find(|c: char| !c.is_whitespace()).unwrap_or(s.len());
    let mut out = s[..i].to_string();
    let mut rest = s[i..].chars();
    if let Some(c) = rest.next() {
        out.extend(c.to_lowercase());
    }
    out.extend(rest);
    out
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            at_start = true;
            out.push(c);
        } else if at_start {
            out.extend(c.to_uppercase());
            at_start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}
