//! The engine's one doorway to numbers and formatting (implemented in `number.rs` and `format/`).
//!
//! The interpreter calls only what is re-exported or wrapped here, so the engine's needs are visible in
//! one place and formatting errors become plain messages the interpreter attaches a location to.

pub(crate) use crate::format::escape;
pub(crate) use crate::format::iso::{format_iso, Accuracy, IsoOptions, ZoneMode};
pub(crate) use crate::format::{
    format_c, parse_number, DateFormat, DateKind, DateValue, Locale, NumberFormat, TimeZone,
};
pub(crate) use crate::number::Number;

/// `?json_string` appended to `out`. Most strings need no escaping at all (printable ASCII without
/// quotes, backslashes, slashes or angle brackets, which are the only characters the rules of
/// [`escape::json_string`] can change); those are copied in one go.
pub(crate) fn json_string(s: &str, out: &mut String) {
    let plain = s
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b'/' | b'<' | b'>'));
    if plain {
        out.push_str(s);
    } else {
        escape::json_string(s, out);
    }
}

/// Compiles a `number_format` value for a locale given by name.
pub(crate) fn compile_number_format(spec: &str, locale: &str) -> Result<NumberFormat, String> {
    let loc = Locale::parse(locale).map_err(|e| e.to_string())?;
    NumberFormat::new(spec, &loc).map_err(|e| e.to_string())
}

pub(crate) fn check_number_format(spec: &str, locale: &str) -> Result<(), String> {
    compile_number_format(spec, locale).map(|_| ())
}

pub(crate) fn check_boolean_format(spec: &str) -> Result<(), String> {
    if spec == "c" || spec.split(',').count() == 2 {
        Ok(())
    } else {
        Err(format!("Can't parse boolean format string {spec:?}"))
    }
}

pub(crate) fn check_locale(s: &str) -> Result<(), String> {
    Locale::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

pub(crate) fn check_time_zone(s: &str) -> Result<(), String> {
    TimeZone::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

/// The ISO 8601 options a `?iso_...` built-in name stands for (`iso_utc_ms_nz`, `iso_local_h`, ...).
/// `None` for names that are not such built-ins.
pub(crate) fn iso_builtin_options(name: &str) -> Option<(IsoOptions, bool)> {
    let rest = name.strip_prefix("iso")?;
    let (utc, local, rest) = if let Some(r) = rest.strip_prefix("_utc") {
        (true, false, r)
    } else if let Some(r) = rest.strip_prefix("_local") {
        (false, true, r)
    } else {
        (false, false, rest)
    };
    let mut opts = IsoOptions {
        xs: false,
        accuracy: Accuracy::Seconds,
        zone: ZoneMode::Auto,
        utc,
    };
    let mut rest = rest;
    for (suffix, acc) in [
        ("_ms", Accuracy::MillisOptional),
        ("_m", Accuracy::Minutes),
        ("_h", Accuracy::Hours),
    ] {
        if let Some(r) = rest.strip_prefix(suffix) {
            if !(r.is_empty() || r.starts_with('_')) {
                continue;
            }
            opts.accuracy = acc;
            rest = r;
            break;
        }
    }
    if let Some(r) = rest.strip_prefix("_nz") {
        opts.zone = ZoneMode::Never;
        rest = r;
    }
    if !rest.is_empty() {
        return None;
    }
    // plain `?iso...` (neither _utc nor _local) takes the time zone as an argument
    Some((opts, utc || local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(s: &str) -> (String, String) {
        let (mut fast, mut full) = (String::new(), String::new());
        json_string(s, &mut fast);
        escape::json_string(s, &mut full);
        (fast, full)
    }

    #[test]
    fn json_string_shortcut_matches_the_full_escaping() {
        // every pair of ASCII characters (plus a few others) in every position
        let chars: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['\u{85}', '\u{2028}', 'é', '€'])
            .collect();
        for &a in &chars {
            for &b in &chars {
                let s: String = [a, b].iter().collect();
                let (fast, full) = both(&s);
                assert_eq!(fast, full, "{s:?}");
            }
        }
        proptest!(|(s in "[ -~\\n\\t\u{80}-\u{a0}\u{2028}é]{0,12}")| {
            let (fast, full) = both(&s);
            prop_assert_eq!(fast, full);
        });
    }
}
