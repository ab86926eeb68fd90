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

/// `?json_string` appended to `out`. The rules of [`escape::json_string`] look at the context of
/// only `/`, `<` and `>`, and touch controls and a few invisible characters; a string without those
/// (and not starting with `/`, which is escaped first or after `<`) needs only `"` and `\` escaped,
/// which is done here a run of plain text at a time. Anything else takes the full rules.
pub(crate) fn json_string(s: &str, out: &mut String) {
    let contextual = |c: char| {
        let u = c as u32;
        matches!(c, '<' | '>' | '\u{2028}' | '\u{2029}') || u < 0x20 || (0x7f..=0x9f).contains(&u)
    };
    if s.starts_with('/') || s.chars().any(contextual) {
        escape::json_string(s, out);
        return;
    }
    let mut rest = s;
    while let Some(i) = rest.find(['"', '\\']) {
        out.push_str(&rest[..i]);
        out.push_str(if rest.as_bytes()[i] == b'"' {
            "\\\""
        } else {
            "\\\\"
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// `?c` (the `computer` format, `0.################` with no grouping) appended to `out`. Numbers
/// whose exact decimal has at most 16 fraction digits and fits machine integers (JSON integers,
/// prices, most arithmetic results) are printed directly: that pattern prints them exactly, in
/// plain notation, without trailing fraction zeros. Everything else goes through [`format_c`].
pub(crate) fn write_c(n: &Number, out: &mut String) {
    if let Some((unscaled, scale)) = n.small_parts() {
        if write_plain(unscaled, scale, out) {
            return;
        }
    }
    out.push_str(&format_c(n));
}

/// `unscaled × 10^-scale` in plain notation without trailing fraction zeros; `false` (nothing
/// written) when the scale is beyond what [`write_c`] prints exactly this way.
fn write_plain(unscaled: i64, scale: i64, out: &mut String) -> bool {
    if !(-18..=16).contains(&scale) {
        return false;
    }
    if unscaled < 0 {
        out.push('-');
    }
    let abs = unscaled.unsigned_abs();
    if scale <= 0 {
        push_digits(abs as u128 * 10u128.pow((-scale) as u32), 1, out);
        return true;
    }
    let p = 10u64.pow(scale as u32);
    push_digits((abs / p) as u128, 1, out);
    let (mut frac, mut width) = (abs % p, scale as usize);
    if frac != 0 {
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        push_digits(frac as u128, width, out);
    }
    true
}

/// Appends the decimal digits of `v`, left-padded with zeros to `width` digits (at most 39).
fn push_digits(mut v: u128, width: usize, out: &mut String) {
    let mut buf = [b'0'; 40];
    let mut at = buf.len();
    // 128-bit division is a library call: only the digits of a value beyond 64 bits use it
    while v > u128::from(u64::MAX) {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut low = v as u64;
    while low > 0 || buf.len() - at < width.max(1) {
        at -= 1;
        buf[at] = b'0' + (low % 10) as u8;
        low /= 10;
    }
    if let Ok(s) = std::str::from_utf8(&buf[at..]) {
        out.push_str(s);
    }
}

/// `?string("0.00")`-style formatting (one integer zero, then up to 12 fraction zeros; locale
/// `en_US`, the default) of an integer or decimal whose unscaled value fits an `i64`, done with
/// machine integers: rounded half-even to the fraction digits like `DecimalFormat`. `None` for
/// every other pattern, locale or number (doubles round from their binary value in Java), and for
/// negative values that round to zero; the caller then uses the compiled pattern.
pub(crate) fn format_fixed(spec: &str, locale: &str, n: &Number) -> Option<String> {
    let mut out = String::with_capacity(24);
    format_fixed_into(spec, locale, n, &mut out).then_some(out)
}

/// [`format_fixed`] appended to `out`; `false` (nothing written) where that gives `None`.
pub(crate) fn format_fixed_into(spec: &str, locale: &str, n: &Number, out: &mut String) -> bool {
    format_fixed_parts(spec, locale, n).is_some_and(|(q, frac)| {
        if q < 0 {
            out.push('-');
        }
        let abs = q.unsigned_abs();
        // frac <= 12, so p fits; u64 division where the value allows (no 128-bit library call)
        let p = 10u64.pow(frac);
        let (int, fraction) = match u64::try_from(abs) {
            Ok(a) => (u128::from(a / p), u128::from(a % p)),
            Err(_) => (abs / u128::from(p), abs % u128::from(p)),
        };
        push_digits(int, 1, out);
        if frac > 0 {
            out.push('.');
            push_digits(fraction, frac as usize, out);
        }
        true
    })
}

/// What [`format_fixed`] prints, as the rounded value in units of the last fraction digit and the
/// number of fraction digits.
fn format_fixed_parts(spec: &str, locale: &str, n: &Number) -> Option<(i128, u32)> {
    if locale != "en_US" {
        return None;
    }
    let frac = match spec.strip_prefix("0.") {
        Some(zeros)
            if !zeros.is_empty() && zeros.len() <= 12 && zeros.bytes().all(|b| b == b'0') =>
        {
            zeros.len()
        }
        _ if spec == "0" => 0,
        _ => return None,
    };
    let (unscaled, scale) = match n {
        Number::Int(_) | Number::Decimal(_) | Number::Small(..) => n.small_parts()?,
        _ => return None,
    };
    let frac_i = frac as i64;
    let q: i128 = if scale <= frac_i {
        let p = 10i128.checked_pow(u32::try_from(frac_i - scale).ok()?)?;
        (unscaled as i128).checked_mul(p)?
    } else if let Some(d) = 10i64.checked_pow(u32::try_from(scale - frac_i).ok()?) {
        // the same rounding in i64 (|r| < d <= 10^18, so 2r fits)
        let (q, r) = (unscaled / d, (unscaled % d).abs());
        let away = match (2 * r).cmp(&d) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => q % 2 != 0,
            std::cmp::Ordering::Less => false,
        };
        i128::from(if away { q + unscaled.signum() } else { q })
    } else {
        let d = 10i128.checked_pow(u32::try_from(scale - frac_i).ok()?)?;
        let v = unscaled as i128;
        let (q, r) = (v / d, (v % d).abs());
        let away = match (2 * r).cmp(&d) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => q % 2 != 0,
            std::cmp::Ordering::Less => false,
        };
        if away {
            q + v.signum()
        } else {
            q
        }
    };
    if q == 0 && unscaled < 0 {
        return None;
    }
    Some((q, frac as u32))
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

    /// The direct `?c` printing agrees with the general computer format wherever it answers.
    #[test]
    fn direct_c_matches_the_computer_format() {
        use crate::format::decimal::Decimal;
        use num_bigint::BigInt;
        let check = |n: Number| -> Result<(), TestCaseError> {
            let mut direct = String::new();
            write_c(&n, &mut direct);
            prop_assert_eq!(direct, format_c(&n), "{:?}", n);
            Ok(())
        };
        let mut runner =
            proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(2000));
        let decimal = (any::<i64>(), -20i64..20)
            .prop_map(|(u, s)| Number::Decimal(Decimal::new(BigInt::from(u), s)));
        let small_decimal = (-100_000i64..100_000, -3i64..8)
            .prop_map(|(u, s)| Number::Decimal(Decimal::new(BigInt::from(u), s)));
        let short_double = (-1_000_000_000i64..1_000_000_000, 0u32..8)
            .prop_map(|(n, k)| Number::Double(n as f64 / 10f64.powi(k as i32)));
        let any_double = any::<u64>().prop_map(|b| Number::Double(f64::from_bits(b)));
        for strategy in [
            decimal.boxed(),
            small_decimal.boxed(),
            short_double.boxed(),
            any_double.boxed(),
            any::<i64>().prop_map(Number::Int).boxed(),
            (any::<i64>(), -20i64..20)
                .prop_map(|(u, s)| Number::Small(u, s))
                .boxed(),
        ] {
            runner
                .run(&strategy, check)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for n in [0.5, -0.5, 0.001, 19.99, 20.0, -0.0015, 9999999.999999] {
            check(Number::Double(n)).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// The machine-integer `0.00` formatting agrees with the compiled pattern wherever it answers.
    #[test]
    fn fixed_point_shortcut_matches_the_compiled_pattern() {
        use crate::format::decimal::Decimal;
        use num_bigint::BigInt;
        let specs = ["0", "0.0", "0.00", "0.000", "0.000000000000"];
        let formats: Vec<NumberFormat> = specs
            .iter()
            .map(|s| compile_number_format(s, "en_US").unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let check = |n: Number| -> Result<(), TestCaseError> {
            for (spec, f) in specs.iter().zip(&formats) {
                if let Some(fast) = format_fixed(spec, "en_US", &n) {
                    prop_assert_eq!(fast, f.format(&n), "{} {:?}", spec, n);
                }
            }
            Ok(())
        };
        let mut runner =
            proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(3000));
        let decimal = (any::<i64>(), -20i64..24)
            .prop_map(|(u, s)| Number::Decimal(Decimal::new(BigInt::from(u), s)));
        // ties and near-ties at the rounding position
        let ties = (
            -10_000i64..10_000,
            1i64..6,
            prop_oneof![Just(5i64), Just(4), Just(6), Just(0)],
        )
            .prop_map(|(u, s, last)| Number::Decimal(Decimal::new(BigInt::from(u * 10 + last), s)));
        for strategy in [
            decimal.boxed(),
            ties.boxed(),
            any::<i64>().prop_map(Number::Int).boxed(),
            (any::<i64>(), -20i64..24)
                .prop_map(|(u, s)| Number::Small(u, s))
                .boxed(),
        ] {
            runner
                .run(&strategy, check)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let answered = format_fixed(
            "0.00",
            "en_US",
            &Number::Decimal(Decimal::new(BigInt::from(1999), 2)),
        );
        assert_eq!(answered.as_deref(), Some("19.99"));
        assert_eq!(format_fixed("0.00", "de_DE", &Number::Int(1)), None);
        assert_eq!(format_fixed("0.##", "en_US", &Number::Int(1)), None);
    }

    #[test]
    fn push_digits_prints_u128_values_padded() {
        let check = |v: u128, width: usize| {
            let mut out = String::new();
            push_digits(v, width, &mut out);
            assert_eq!(out, format!("{v:0width$}"), "{v} width {width}");
        };
        for v in [
            0,
            1,
            9,
            10,
            12345,
            u64::MAX as u128,
            u64::MAX as u128 + 1,
            u128::MAX / 10,
            10u128.pow(38),
        ] {
            for width in [0, 1, 3, 12, 25, 39] {
                check(v, width);
            }
        }
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
        // every triple of the characters the rules look at (and plain ones)
        let special = [
            '"', '\\', '/', '<', '>', '!', '?', ']', '-', 'a', 'é', '\n', '\u{2028}',
        ];
        for &a in &special {
            for &b in &special {
                for &c in &special {
                    let s: String = [a, b, c].iter().collect();
                    let (fast, full) = both(&s);
                    assert_eq!(fast, full, "{s:?}");
                }
            }
        }
        proptest!(ProptestConfig::with_cases(2000), |(s in "[ -~\\n\\t\u{80}-\u{a0}\u{2028}é日]{0,12}")| {
            let (fast, full) = both(&s);
            prop_assert_eq!(fast, full);
        });
    }
}
