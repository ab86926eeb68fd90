//! Number formatting as Java's `java.text.DecimalFormat` does it (the `number_format` setting,
//! `?string(...)`), FreeMarker's computer format (`?c`), and `?number`'s string parsing.

use num_bigint::BigInt;

use super::decimal::{java_double_digits, Decimal, Rounding};
use super::locale::{Locale, Symbols};
use super::FormatError;
use crate::number::Number;

/// A compiled `number_format` value: `number`, `computer`, `currency`, `percent`, or a
/// `DecimalFormat` pattern (`0.##`, `#,##0.00;(#)`, `0.###E0`, `'#'0`, ...) optionally followed by
/// FreeMarker's extended options after `;;` (`0.0;; roundingMode=halfUp`).
#[derive(Clone, Debug)]
pub struct NumberFormat {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// `?c` semantics (`number_format="computer"` differs only for infinities/NaN).
    Computer,
    Decimal(Box<DecimalPattern>),
}

/// A parsed `DecimalFormat` pattern, with the locale's symbols substituted into the affixes.
#[derive(Clone, Debug)]
struct DecimalPattern {
    pos_prefix: String,
    pos_suffix: String,
    neg_prefix: String,
    neg_suffix: String,
    multiplier: i64,
    grouping_size: usize,
    min_int: usize,
    max_int: usize,
    min_frac: usize,
    max_frac: usize,
    decimal_always_shown: bool,
    /// Minimum exponent digits when the pattern has `E0..`.
    exponent: Option<usize>,
    rounding: Rounding,
    symbols: Symbols,
}

impl NumberFormat {
    /// Compiles a `number_format` value for `locale`; a malformed pattern is an error naming it.
    pub fn new(spec: &str, locale: &Locale) -> Result<NumberFormat, FormatError> {
        let kind = match spec {
            "computer" => Kind::Computer,
            // oracle: ?string("") prints 7137.2601277 as "7,137.2601277" and 0.0023 as ".0023"
            "" => Kind::Decimal(Box::new(DecimalPattern::empty(locale.symbols()))),
            "number" => Kind::Decimal(Box::new(DecimalPattern::parse(
                locale.number_pattern(),
                locale.symbols(),
            )
            .map_err(FormatError::new)?)),
            "currency" => Kind::Decimal(Box::new(DecimalPattern::parse(
                locale.currency_pattern(),
                locale.symbols(),
            )
            .map_err(FormatError::new)?)),
            "percent" => Kind::Decimal(Box::new(DecimalPattern::parse(
                locale.percent_pattern(),
                locale.symbols(),
            )
            .map_err(FormatError::new)?)),
            pattern => Kind::Decimal(Box::new(
                DecimalPattern::parse_extended(pattern, locale.symbols()).map_err(|why| {
                    FormatError::with_detail(
                        format!(
                            "Failed to get number format object for the \"{pattern}\" number format string: {why}"
                        ),
                        why,
                    )
                })?,
            )),
        };
        Ok(NumberFormat { kind })
    }

    /// Formats `n` (never fails: NaN and infinities have symbols).
    pub fn format(&self, n: &Number) -> String {
        match &self.kind {
            // oracle: ${"INF"?number?string("computer")} -> INF, like ?c
            Kind::Computer => format_c(n),
            Kind::Decimal(p) => p.format(n),
        }
    }
}

/// The computer format, built once.
fn c_pattern() -> &'static DecimalPattern {
    static C: std::sync::OnceLock<DecimalPattern> = std::sync::OnceLock::new();
    C.get_or_init(build_c_pattern)
}

fn build_c_pattern() -> DecimalPattern {
    let mut symbols = Locale::en_us().symbols();
    symbols.infinity = "\u{221e}".into();
    // "0.################", never grouped; built by hand so it cannot fail.
    DecimalPattern {
        pos_prefix: String::new(),
        pos_suffix: String::new(),
        neg_prefix: "-".into(),
        neg_suffix: String::new(),
        multiplier: 1,
        grouping_size: 0,
        min_int: 1,
        max_int: usize::MAX,
        min_frac: 0,
        max_frac: 16,
        decimal_always_shown: false,
        exponent: None,
        rounding: Rounding::HalfEven,
        symbols,
    }
}

/// `?c` (FreeMarker 2.3.31): integers as they are, doubles' infinities as `INF`/`-INF`, NaN as
/// `NaN`, everything else with `DecimalFormat("0.################")` (so `1e20` prints all its
/// digits and fractions round half-even to 16 places).
pub fn format_c(n: &Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::Double(f) if f.is_nan() => "NaN".into(),
        Number::Double(f) if f.is_infinite() => {
            if *f > 0.0 {
                "INF".into()
            } else {
                "-INF".into()
            }
        }
        _ => c_pattern().format(n),
    }
}

/// `?number`: a string to a number the way FreeMarker's BigDecimal engine reads it:
/// `INF`, `Infinity`, `-INF`, `-Infinity`, `NaN` as doubles, else `new BigDecimal(s)` (so "1.5",
/// "-3", "1e3", "+2", ".5", "5." are accepted; " 2", "1,000", "0x1", "+INF" and "" are not).
pub fn parse_number(s: &str) -> Option<Number> {
    match s {
        "INF" | "Infinity" => Some(Number::Double(f64::INFINITY)),
        "-INF" | "-Infinity" => Some(Number::Double(f64::NEG_INFINITY)),
        "NaN" => Some(Number::Double(f64::NAN)),
        _ => Decimal::parse(s).map(Number::Decimal),
    }
}

/// The exact value behind a number being formatted, built only when rounding needs it.
enum Exact {
    Int(i64),
    Double(f64),
    Decimal(Decimal),
}

impl Exact {
    fn decimal(self) -> Decimal {
        match self {
            Exact::Int(i) => Decimal::from_i64(i),
            Exact::Double(f) => Decimal::from_f64_exact(f).unwrap_or_else(|| Decimal::from_i64(0)),
            Exact::Decimal(d) => d,
        }
    }
}

/// The digits to print: value = 0.DIGITS × 10^point, DIGITS without leading/trailing zeros
/// (empty for zero).
struct Digits {
    digits: Vec<u8>,
    point: i64,
}

impl Digits {
    fn from_decimal(d: &Decimal) -> Digits {
        let (s, point) = d.abs().digits();
        Digits {
            digits: s.into_bytes(),
            point,
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }
}

/// The magnitude of `n`, rounded to `max_frac` fraction digits (fixed) or `max_sig` significant
/// digits; doubles print their shortest digits and round from their exact binary value, which is
/// what Java's `DigitList` amounts to. `digits_inexact` is for integral doubles below 2^63, whose
/// digits Java's `FloatingDecimal` never marks exact: a 5 as their last rounded-away digit rounds
/// up in the HALF_* modes (oracle: 1250.0 with "0.#E0" -> "1.3E3", but 12.5 -> "1.2E1").
fn rounded_digits(
    exact: impl FnOnce() -> Decimal,
    shortest: Option<(String, i64)>,
    fixed: Option<usize>,
    max_sig: usize,
    mode: Rounding,
    digits_inexact: bool,
) -> Digits {
    if let (Some((s, point)), Some(max_frac)) = (&shortest, fixed) {
        // Java's DigitList reads the digits of Double.toString; for a lone 5 in E-form
        // ("5.0E-4") that is "50", which at the rounding position counts as an exact tie
        // (oracle: 0.0005 with "#,##0.###" -> "0", but 0.005 with "0.##" -> "0.01")
        if s == "5" && *point <= -3 && -*point == max_frac as i64 {
            // oracle: HALF_UP and HALF_DOWN see "digits after the 5" and go up; HALF_EVEN
            // finds them all zero and goes down
            let up = matches!(
                mode,
                Rounding::Up | Rounding::Ceiling | Rounding::HalfUp | Rounding::HalfDown
            );
            return if up {
                Digits {
                    digits: b"1".to_vec(),
                    point: point + 1,
                }
            } else {
                Digits {
                    digits: Vec::new(),
                    point: 0,
                }
            };
        }
    }
    if let Some((s, point)) = shortest {
        let fits = match fixed {
            Some(max_frac) => (s.len() as i64 - point) <= max_frac as i64,
            None => max_sig == 0 || s.len() <= max_sig,
        };
        if fits {
            return Digits {
                digits: s.into_bytes(),
                point,
            };
        }
        let half = matches!(
            mode,
            Rounding::HalfEven | Rounding::HalfUp | Rounding::HalfDown
        );
        if digits_inexact && half {
            let keep = match fixed {
                Some(max_frac) => point + max_frac as i64,
                None => max_sig as i64,
            };
            if keep >= 0 {
                return round_digits_half_up(s.as_bytes(), point, keep as usize);
            }
        }
    }
    let abs = exact().abs();
    if let Some(max_frac) = fixed {
        // Java's DigitList: a value whose first digit lies beyond the next-to-last printable
        // place becomes zero whatever the rounding mode (so UP/CEILING never make it 0.01)
        let (_, point) = abs.digits();
        if !abs.is_zero() && -point > max_frac as i64 {
            return Digits {
                digits: Vec::new(),
                point: 0,
            };
        }
    }
    let rounded = match fixed {
        Some(max_frac) => abs.set_scale(max_frac as i64, mode),
        None if max_sig == 0 => abs,
        None => {
            let (_, point) = abs.digits();
            abs.set_scale(max_sig as i64 - point, mode)
        }
    };
    Digits::from_decimal(&rounded)
}

/// `digits` (a decimal point after `point` of them) cut to `keep` digits, rounding half up.
fn round_digits_half_up(digits: &[u8], point: i64, keep: usize) -> Digits {
    let mut kept = digits[..keep.min(digits.len())].to_vec();
    let mut point = point;
    if digits.get(keep).is_some_and(|d| *d >= b'5') {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                point += 1;
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    while kept.last() == Some(&b'0') {
        kept.pop();
    }
    if kept.is_empty() {
        point = 0;
    }
    Digits {
        digits: kept,
        point,
    }
}

impl DecimalPattern {
    /// `new DecimalFormat("")`: no minimum digits, grouping by 3, all fraction digits.
    fn empty(symbols: Symbols) -> DecimalPattern {
        DecimalPattern {
            pos_prefix: String::new(),
            pos_suffix: String::new(),
            neg_prefix: symbols.minus.clone(),
            neg_suffix: String::new(),
            multiplier: 1,
            grouping_size: 3,
            min_int: 0,
            max_int: usize::MAX,
            min_frac: 0,
            max_frac: 340,
            decimal_always_shown: false,
            exponent: None,
            rounding: Rounding::HalfEven,
            symbols,
        }
    }

    /// A pattern with FreeMarker's extended options: `PATTERN;; name=value ...` or
    /// `POS;NEG; name=value ...`.
    fn parse_extended(spec: &str, symbols: Symbols) -> Result<DecimalPattern, String> {
        let (pattern, options) = split_options(spec);
        let mut symbols = symbols;
        let mut rounding = Rounding::HalfEven;
        let mut multiplier = None;
        if let Some((options_at, options)) = options {
            for (name, value) in parse_options(options, options_at)? {
                let one_char = |v: &str| -> Result<String, String> {
                    if v.chars().count() == 1 {
                        Ok(v.to_string())
                    } else {
                        Err(format!(
                            "\"{v}\" is an invalid value for the \"{name}\" parameter: Must contain exactly 1 character."
                        ))
                    }
                };
                let value = value.as_str();
                match name.as_str() {
                    "roundingMode" => {
                        rounding = match value {
                            "up" => Rounding::Up,
                            "down" => Rounding::Down,
                            "ceiling" => Rounding::Ceiling,
                            "floor" => Rounding::Floor,
                            "halfUp" => Rounding::HalfUp,
                            "halfDown" => Rounding::HalfDown,
                            "halfEven" => Rounding::HalfEven,
                            "unnecessary" => Rounding::Unnecessary,
                            // oracle: FreeMarker's own message (it omits halfUp from the list)
                            _ => return Err(format!(
                                "\"{value}\" is an invalid value for the \"roundingMode\" parameter: Should be one of: up, down, ceiling, floor, halfDown, halfEven, unnecessary"
                            )),
                        }
                    }
                    "multiplier" | "multipier" => {
                        multiplier = Some(value.parse::<i64>().map_err(|_| {
                            format!("Malformed multiplier value: \"{value}\"")
                        })?)
                    }
                    // oracle: each applies to its own kind of pattern (with or without "\u{a4}")
                    "decimalSeparator" => symbols.decimal = one_char(value)?,
                    "monetaryDecimalSeparator" => symbols.monetary_decimal = one_char(value)?,
                    "groupingSeparator" => symbols.grouping = one_char(value)?,
                    "minusSign" => symbols.minus = one_char(value)?,
                    "percent" => symbols.percent = one_char(value)?,
                    "perMill" => symbols.per_mill = one_char(value)?,
                    "zeroDigit" => symbols.zero = one_char(value)?.chars().next().unwrap_or('0'),
                    "infinity" => symbols.infinity = value.into(),
                    "nan" => symbols.nan = value.into(),
                    "exponentSeparator" => symbols.exponent = value.into(),
                    "currencySymbol" => symbols.currency = value.into(),
                    "currencyCode" => symbols.currency_code = value.into(),
                    _ => return Err(format!(
                        "Unsupported parameter name, \"{name}\". The supported names are: currencyCode, decimalSeparator, exponentSeparator, groupingSeparator, infinity, minusSign, monetaryDecimalSeparator, multipier, multiplier, nan, perMill, percent, roundingMode, zeroDigit"
                    )),
                }
            }
        }
        let mut p = DecimalPattern::parse(pattern, symbols)?;
        p.rounding = rounding;
        if let Some(m) = multiplier {
            p.multiplier = m;
        }
        Ok(p)
    }

    /// Java's `DecimalFormat.applyPattern`.
    fn parse(pattern: &str, symbols: Symbols) -> Result<DecimalPattern, String> {
        // currency formats group with the monetary separator (oracle: de_AT "€ 1.234,00" but
        // "1 234 567,891" for numbers)
        let mut symbols = symbols;
        if pattern.contains('\u{a4}') {
            symbols.grouping = symbols.monetary_grouping.clone();
            symbols.decimal = symbols.monetary_decimal.clone();
        }
        // Java's IllegalArgumentException messages
        let bad = |why: &str| format!("{why} in pattern \"{pattern}\"");
        let malformed = || format!("Malformed pattern \"{pattern}\"");
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        // (prefix, suffix) for the positive and the optional negative subpattern
        let mut affixes: Vec<(String, String)> = Vec::new();
        let mut multiplier = 1i64;
        let mut number = NumberPart::default();
        for sub in 0..2 {
            let mut prefix = String::new();
            let mut suffix = String::new();
            let mut phase = 0; // 0 prefix, 1 number, 2 suffix
            let mut part = NumberPart::default();
            let mut in_quote = false;
            while i < chars.len() {
                let c = chars[i];
                if phase == 1 && sub == 1 {
                    // Java ignores the digits of the negative subpattern (only its affixes count)
                    if matches!(c, '#' | '0' | ',' | '.' | 'E') {
                        i += 1;
                    } else {
                        phase = 2;
                    }
                    continue;
                }
                if phase == 1 {
                    match c {
                        '#' => {
                            if part.zero > 0 {
                                part.right += 1;
                            } else {
                                part.left += 1;
                            }
                            if part.grouping >= 0 && part.decimal_pos.is_none() {
                                part.grouping += 1;
                            }
                            i += 1;
                            continue;
                        }
                        '0' => {
                            if part.right > 0 {
                                return Err(bad("Unexpected '0'"));
                            }
                            part.zero += 1;
                            if part.grouping >= 0 && part.decimal_pos.is_none() {
                                part.grouping += 1;
                            }
                            i += 1;
                            continue;
                        }
                        ',' => {
                            part.grouping = 0;
                            i += 1;
                            continue;
                        }
                        '.' => {
                            if part.decimal_pos.is_some() {
                                return Err(bad("Multiple decimal separators"));
                            }
                            part.decimal_pos = Some(part.left + part.zero + part.right);
                            i += 1;
                            continue;
                        }
                        'E' => {
                            if part.exponent.is_some() {
                                return Err(bad("Multiple exponential symbols"));
                            }
                            i += 1;
                            let mut n = 0;
                            while i < chars.len() && chars[i] == '0' {
                                n += 1;
                                i += 1;
                            }
                            if part.left + part.zero < 1 || n < 1 {
                                return Err(format!("Malformed exponential pattern \"{pattern}\""));
                            }
                            part.exponent = Some(n);
                            phase = 2;
                            continue;
                        }
                        _ => {
                            phase = 2;
                            continue;
                        }
                    }
                }
                // prefix or suffix
                let target = if phase == 0 { &mut prefix } else { &mut suffix };
                if in_quote {
                    if c == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            target.push('\'');
                            i += 2;
                        } else {
                            in_quote = false;
                            i += 1;
                        }
                    } else {
                        target.push(c);
                        i += 1;
                    }
                    continue;
                }
                match c {
                    // Java: digits after the suffix started still belong to the number part
                    // (oracle: "0x0.0" formats 1 as "01.0x", "0 #" is malformed)
                    '#' | '0' | ',' | '.' => {
                        phase = 1;
                        continue;
                    }
                    '\'' => {
                        if chars.get(i + 1) == Some(&'\'') {
                            target.push('\'');
                            i += 2;
                        } else {
                            in_quote = true;
                            i += 1;
                        }
                        continue;
                    }
                    ';' => {
                        if phase == 0 || sub == 1 {
                            return Err(bad("Unquoted special character ';'"));
                        }
                        i += 1;
                        break;
                    }
                    '%' => {
                        multiplier = 100;
                        target.push_str(&symbols.percent);
                    }
                    '\u{2030}' => {
                        multiplier = 1000;
                        target.push_str(&symbols.per_mill);
                    }
                    '\u{a4}' => {
                        if chars.get(i + 1) == Some(&'\u{a4}') {
                            target.push_str(&symbols.currency_code);
                            i += 1;
                        } else {
                            target.push_str(&symbols.currency);
                        }
                    }
                    '-' => target.push_str(&symbols.minus),
                    _ => target.push(c),
                }
                i += 1;
            }
            if in_quote || (sub == 0 && (part.grouping == 0 || !part.is_well_formed())) {
                return Err(malformed());
            }
            if sub == 0 {
                number = part;
            }
            affixes.push((prefix, suffix));
            if i >= chars.len() {
                break;
            }
        }
        let (pos_prefix, pos_suffix) = affixes[0].clone();
        // Java: a negative subpattern with the positive affixes is as good as none ("#;0#")
        let (neg_prefix, neg_suffix) = match affixes.get(1) {
            Some((p, s)) if (p, s) != (&pos_prefix, &pos_suffix) => (p.clone(), s.clone()),
            _ => (
                format!("{}{}", symbols.minus, pos_prefix),
                pos_suffix.clone(),
            ),
        };

        let mut p = number;
        if p.zero == 0 && p.left > 0 {
            if let Some(dp) = p.decimal_pos {
                // "###.###", "###." and ".###"
                let n = dp.max(1);
                p.right = p.left - n;
                p.left = n - 1;
                p.zero = 1;
            }
        }
        let total = p.left + p.zero + p.right;
        let effective_dp = p.decimal_pos.unwrap_or(total);
        let min_int = effective_dp - p.left;
        let max_int = if p.exponent.is_some() {
            p.left + min_int
        } else {
            usize::MAX
        };
        let max_frac = p.decimal_pos.map(|dp| total - dp).unwrap_or(0);
        let min_frac = p
            .decimal_pos
            .map(|dp| (p.left + p.zero).saturating_sub(dp))
            .unwrap_or(0);
        Ok(DecimalPattern {
            pos_prefix,
            pos_suffix,
            neg_prefix,
            neg_suffix,
            multiplier,
            grouping_size: if p.grouping > 0 {
                p.grouping as usize
            } else {
                0
            },
            min_int,
            max_int,
            min_frac,
            max_frac,
            decimal_always_shown: p.decimal_pos == Some(0) || p.decimal_pos == Some(total),
            exponent: p.exponent,
            rounding: Rounding::HalfEven,
            symbols,
        })
    }

    fn format(&self, n: &Number) -> String {
        if let Number::Int(v) = n {
            if let Some(s) = self.format_plain_int(*v) {
                return s;
            }
        }
        self.format_general(n)
    }

    /// A machine integer under a pattern that prints integers as their grouped digits (no
    /// multiplier, exponent, zero padding, integer digit limit, forced fraction or non-ASCII
    /// digits, as in the locales' "number" patterns): what [`DecimalPattern::format_general`]
    /// prints, without its digit strings. `None` for every other pattern.
    fn format_plain_int(&self, v: i64) -> Option<String> {
        if self.multiplier != 1
            || self.exponent.is_some()
            || self.min_int > 1
            || self.max_int != usize::MAX
            || self.min_frac != 0
            || self.decimal_always_shown
            || self.symbols.zero != '0'
        {
            return None;
        }
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        let mut rest = v.unsigned_abs();
        loop {
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let digits = &buf[at..];
        let (pre, suf) = self.affixes(v < 0);
        let mut out = String::with_capacity(pre.len() + suf.len() + digits.len() * 2);
        out.push_str(pre);
        for (i, &d) in digits.iter().enumerate() {
            let left = digits.len() - i;
            if i > 0 && self.grouping_size != 0 && left % self.grouping_size == 0 {
                out.push_str(&self.symbols.grouping);
            }
            out.push(char::from(d));
        }
        out.push_str(suf);
        Some(out)
    }

    /// `DecimalFormat.format` for any number.
    fn format_general(&self, n: &Number) -> String {
        let m = self.multiplier;
        // the value after the multiplier, its sign, and (for doubles) its shortest digits
        let mut digits_inexact = false;
        let (negative, exact, shortest) = match n {
            Number::Double(f) => {
                let f = if m != 1 { f * m as f64 } else { *f };
                digits_inexact = f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0;
                if f.is_nan() {
                    return self.symbols.nan.clone();
                }
                let negative = f.is_sign_negative();
                if f.is_infinite() {
                    let (pre, suf) = self.affixes(negative);
                    return format!("{pre}{}{suf}", self.symbols.infinity);
                }
                let shortest = if f == 0.0 {
                    None
                } else {
                    Some(java_double_digits(f))
                };
                (negative, Exact::Double(f), shortest)
            }
            Number::Int(i) => match i.checked_mul(m) {
                // fast path: a machine integer's digits are exact and need no rounding
                Some(v) => {
                    let digits = v.unsigned_abs().to_string();
                    let point = digits.len() as i64;
                    let trimmed = digits.trim_end_matches('0').to_string();
                    let shortest = if v == 0 { None } else { Some((trimmed, point)) };
                    (v < 0, Exact::Int(v), shortest)
                }
                None => {
                    let d = Decimal::from_i64(*i).mul(&Decimal::from_i64(m));
                    (d.signum() < 0, Exact::Decimal(d), None)
                }
            },
            Number::BigInt(b) => {
                let d = Decimal::new(b * BigInt::from(m), 0);
                (d.signum() < 0, Exact::Decimal(d), None)
            }
            Number::Decimal(d) => {
                let d = d.mul(&Decimal::from_i64(m));
                (d.signum() < 0, Exact::Decimal(d), None)
            }
            Number::Small(u, scale) => {
                let d = Decimal::new(BigInt::from(*u), *scale).mul(&Decimal::from_i64(m));
                (d.signum() < 0, Exact::Decimal(d), None)
            }
        };
        // digits are rounded as magnitudes, so directed modes flip for negative values
        let rounding = match (negative, self.rounding) {
            (true, Rounding::Ceiling) => Rounding::Floor,
            (true, Rounding::Floor) => Rounding::Ceiling,
            (_, r) => r,
        };
        let mut out = String::new();
        let (pre, suf) = self.affixes(negative);
        out.push_str(pre);
        let mut body = String::new();
        match self.exponent {
            None => {
                let digits = rounded_digits(
                    || exact.decimal(),
                    shortest,
                    Some(self.max_frac),
                    0,
                    rounding,
                    digits_inexact,
                );
                self.write_fixed(&digits, &mut body);
            }
            Some(min_exp_digits) => {
                let max_sig = self.max_int.saturating_add(self.max_frac);
                let digits = rounded_digits(
                    || exact.decimal(),
                    shortest,
                    None,
                    max_sig,
                    rounding,
                    digits_inexact,
                );
                self.write_scientific(&digits, min_exp_digits, &mut body);
            }
        }
        if self.symbols.zero == '0' {
            out.push_str(&body);
        } else {
            // oracle: zeroDigit='a' prints 1.5 as "b.f"
            let zero = self.symbols.zero as u32;
            out.extend(body.chars().map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(zero + d).unwrap_or(c),
                None => c,
            }));
        }
        out.push_str(suf);
        out
    }

    fn affixes(&self, negative: bool) -> (&str, &str) {
        if negative {
            (&self.neg_prefix, &self.neg_suffix)
        } else {
            (&self.pos_prefix, &self.pos_suffix)
        }
    }

    /// `DecimalFormat.subformat` for fixed notation.
    fn write_fixed(&self, d: &Digits, out: &mut String) {
        let digit = |k: usize| (d.digits[k]) as char;
        let decimal_at = if d.is_zero() { 0 } else { d.point };
        let mut count = self.min_int as i64;
        let mut index: i64 = 0;
        if decimal_at > 0 && count < decimal_at {
            count = decimal_at;
        }
        if self.max_int != usize::MAX && count > self.max_int as i64 {
            count = self.max_int as i64;
            index = decimal_at - count;
        }
        let start_len = out.len();
        let mut i = count - 1;
        while i >= 0 {
            if i < decimal_at && index >= 0 && (index as usize) < d.digits.len() {
                out.push(digit(index as usize));
                index += 1;
            } else {
                out.push('0');
            }
            if self.grouping_size != 0 && i > 0 && i % self.grouping_size as i64 == 0 {
                out.push_str(&self.symbols.grouping);
            }
            i -= 1;
        }
        let index = index.max(0) as usize;
        let fraction_present = self.min_frac > 0 || index < d.digits.len();
        if !fraction_present && out.len() == start_len {
            out.push('0');
        }
        if self.decimal_always_shown || fraction_present {
            out.push_str(&self.symbols.decimal);
        }
        let mut index = index;
        for k in 0..self.max_frac {
            if k >= self.min_frac && index >= d.digits.len() {
                break;
            }
            // fraction position k is 10^-(k+1); digits start at 10^(decimal_at-1)
            if -1 - (k as i64) > decimal_at - 1 {
                out.push('0');
                continue;
            }
            if index < d.digits.len() {
                out.push(digit(index));
                index += 1;
            } else {
                out.push('0');
            }
        }
    }

    /// `DecimalFormat.subformat` for exponential notation.
    fn write_scientific(&self, d: &Digits, min_exp_digits: usize, out: &mut String) {
        let decimal_at = d.point;
        let mut exponent = decimal_at;
        let repeat = self.max_int as i64;
        let mut min_int_digits = self.min_int as i64;
        if repeat > 1 && repeat > self.min_int as i64 {
            exponent = if exponent >= 1 {
                ((exponent - 1) / repeat) * repeat
            } else {
                ((exponent - repeat) / repeat) * repeat
            };
            min_int_digits = 1;
        } else {
            exponent -= min_int_digits;
        }
        let mut minimum_digits = self.min_int as i64 + self.min_frac as i64;
        let integer_digits = if d.is_zero() {
            min_int_digits
        } else {
            decimal_at - exponent
        };
        if minimum_digits < integer_digits {
            minimum_digits = integer_digits;
        }
        let mut total = d.digits.len() as i64;
        if minimum_digits > total {
            total = minimum_digits;
        }
        for k in 0..total {
            if k == integer_digits {
                out.push_str(&self.symbols.decimal);
            }
            match d.digits.get(k as usize) {
                Some(c) => out.push(*c as char),
                None => out.push('0'),
            }
        }
        if self.decimal_always_shown && total == integer_digits {
            out.push_str(&self.symbols.decimal);
        }
        out.push_str(&self.symbols.exponent);
        if d.is_zero() {
            exponent = 0;
        }
        if exponent < 0 {
            out.push_str(&self.symbols.minus);
        }
        let e = exponent.unsigned_abs().to_string();
        for _ in e.len()..min_exp_digits {
            out.push('0');
        }
        out.push_str(&e);
    }
}

#[derive(Clone, Copy)]
struct NumberPart {
    left: usize,
    zero: usize,
    right: usize,
    /// -1 until a ',' is seen, then digits since the last ','.
    grouping: i64,
    decimal_pos: Option<usize>,
    exponent: Option<usize>,
}

impl NumberPart {
    /// Java's digit syntax check (after interpreting "##.##" as "#0.##").
    fn is_well_formed(&self) -> bool {
        let mut p = *self;
        if p.zero == 0 && p.left > 0 {
            if let Some(dp) = p.decimal_pos {
                let n = dp.max(1);
                p.right = p.left - n;
                p.left = n - 1;
                p.zero = 1;
            }
        }
        match p.decimal_pos {
            None => p.right == 0,
            Some(dp) => dp >= p.left && dp <= p.left + p.zero,
        }
    }
}

impl Default for NumberPart {
    fn default() -> NumberPart {
        NumberPart {
            left: 0,
            zero: 0,
            right: 0,
            grouping: -1,
            decimal_pos: None,
            exponent: None,
        }
    }
}

/// Splits FreeMarker's extended syntax: the options follow the second `;` outside quotes.
/// Returns the pattern and (char offset of the options in `spec`, options text).
fn split_options(spec: &str) -> (&str, Option<(usize, &str)>) {
    let mut in_quote = false;
    let mut semis = Vec::new();
    for (k, c) in spec.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            ';' if !in_quote => semis.push(k),
            _ => {}
        }
    }
    if semis.len() >= 2 {
        let first = semis[0];
        let second = semis[1];
        let pattern = if second == first + 1 {
            &spec[..first]
        } else {
            &spec[..second]
        };
        let at = spec[..second + 1].chars().count();
        (pattern, Some((at, &spec[second + 1..])))
    } else {
        (spec, None)
    }
}

/// FreeMarker's `name=value` option list: separated by spaces or commas; values quoted with
/// `'` or `"`, or bare words of letters and digits. `at` is the options' offset for messages.
fn parse_options(text: &str, at: usize) -> Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let found = |i: usize| match chars.get(i) {
        Some(c) => format!("found: {c}"),
        None => "reached the end of the input.".to_string(),
    };
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let name = word(&mut i);
        if name.is_empty() {
            return Err(format!(
                "Expected a(n) name at position {} (0-based), but {}",
                at + i,
                found(i)
            ));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars.get(i) != Some(&'=') {
            return Err(format!(
                "Expected a(n) \"=\" at position {} (0-based), but {}",
                at + i,
                found(i)
            ));
        }
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let value = match chars.get(i) {
            Some(&q) if q == '\'' || q == '"' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| *c == q)
                    .map(|p| start + p);
                let Some(end) = end else {
                    return Err(format!(
                        "The \"{q}\" quotation mark was never closed at position {} (0-based)",
                        at + i
                    ));
                };
                i = end + 1;
                chars[start..end].iter().collect()
            }
            _ => {
                let v = word(&mut i);
                if v.is_empty() {
                    return Err(format!(
                        "Expected a(n) value at position {} (0-based), but {}",
                        at + i,
                        found(i)
                    ));
                }
                v
            }
        };
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Number {
        Number::parse_literal(s).unwrap()
    }

    /// The integer shortcut prints what the general path prints, for every locale's number,
    /// currency and percent pattern and a few custom ones (those it does not apply to included).
    #[test]
    fn plain_int_shortcut_matches_the_general_path() {
        use proptest::prelude::*;
        let mut patterns = Vec::new();
        for locale in [
            "en_US", "de_DE", "fr_FR", "de_CH", "hu_HU", "en_IN", "ru_RU", "xx_YY",
        ] {
            let locale = Locale::parse(locale).unwrap_or_else(|e| panic!("{e}"));
            for spec in [
                "number",
                "currency",
                "percent",
                "#,##0.###",
                "0",
                "#",
                "#,#",
                "0.00",
                "000",
                "#,##0;(#)",
                "'#'#",
            ] {
                let f = NumberFormat::new(spec, &locale).unwrap_or_else(|e| panic!("{e}"));
                if let Kind::Decimal(p) = f.kind {
                    patterns.push(p);
                }
            }
        }
        let applied = patterns
            .iter()
            .filter(|p| p.format_plain_int(1).is_some())
            .count();
        assert!(
            applied >= 8,
            "the shortcut applies to the plain patterns ({applied})"
        );
        let mut runner = proptest::test_runner::TestRunner::default();
        let ints = prop_oneof![
            any::<i64>(),
            -100_000i64..100_000,
            prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0)],
        ];
        runner
            .run(&ints, |v| {
                for p in &patterns {
                    if let Some(fast) = p.format_plain_int(v) {
                        prop_assert_eq!(fast, p.format_general(&Number::Int(v)));
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn fmt(spec: &str, locale: &str, n: &Number) -> String {
        NumberFormat::new(spec, &Locale::parse(locale).unwrap())
            .unwrap()
            .format(n)
    }

    #[test]
    fn default_number_format_en_us() {
        // oracle: ${1234567.891} -> 1,234,567.891; ${1.0005} -> 1; ${0.0005} -> 0; ${input.d4} (1.0E-5) -> 0;
        // ${input.d5} (123456789.125) -> 123,456,789.125; ${1.23456789012345678} -> 1.235
        assert_eq!(fmt("number", "en_US", &lit("1234567.891")), "1,234,567.891");
        assert_eq!(fmt("number", "en_US", &lit("1.0005")), "1");
        assert_eq!(fmt("number", "en_US", &lit("0.0005")), "0");
        assert_eq!(fmt("number", "en_US", &Number::Double(1.0e-5)), "0");
        assert_eq!(
            fmt("number", "en_US", &Number::Double(123456789.125)),
            "123,456,789.125"
        );
        assert_eq!(fmt("number", "en_US", &lit("1.23456789012345678")), "1.235");
        // oracle: ${input.d11} (-0.0) -> -0
        assert_eq!(fmt("number", "en_US", &Number::Double(-0.0)), "-0");
    }

    #[test]
    fn locale_patterns() {
        // oracle: locale=de_DE: ${1234567.891} ${1234?string.currency} ${0.256?string.percent}
        // -> "1.234.567,891", "1.234,00\u00a0€", "26\u00a0%"
        assert_eq!(fmt("number", "de_DE", &lit("1234567.891")), "1.234.567,891");
        assert_eq!(
            fmt("currency", "de_DE", &lit("1234")),
            "1.234,00\u{a0}\u{20ac}"
        );
        assert_eq!(fmt("percent", "de_DE", &lit("0.256")), "26\u{a0}%");
        // oracle: locale=en_US: $1,234.00 -$1,234.50 26% -26%
        assert_eq!(fmt("currency", "en_US", &lit("1234")), "$1,234.00");
        assert_eq!(fmt("currency", "en_US", &lit("1234.5").neg()), "-$1,234.50");
        assert_eq!(fmt("percent", "en_US", &lit("0.256").neg()), "-26%");
        // oracle: locale=ja_JP: ${1234?string.currency} -> ￥1,234; locale=xx_YY -> "¤\u00a01,234.00"
        assert_eq!(fmt("currency", "ja_JP", &lit("1234")), "\u{ffe5}1,234");
        assert_eq!(
            fmt("currency", "xx_YY", &lit("1234")),
            "\u{a4}\u{a0}1,234.00"
        );
        // oracle: locale=sv_SE: ${-1234567.891} -> "\u22121\u00a0234\u00a0567,891"
        assert_eq!(
            fmt("number", "sv_SE", &lit("1234567.891").neg()),
            "\u{2212}1\u{a0}234\u{a0}567,891"
        );
    }

    #[test]
    fn patterns_with_negative_subpattern_and_exponent() {
        // oracle: ${(-1234.5)?string("#,##0.0;(#)")} -> (1,234.5); ${1234.5?string("0.00E0")} -> 1.23E3
        assert_eq!(
            fmt("#,##0.0;(#)", "en_US", &lit("1234.5").neg()),
            "(1,234.5)"
        );
        assert_eq!(fmt("0.00E0", "en_US", &lit("1234.5")), "1.23E3");
        assert_eq!(fmt("0.00E0", "de_DE", &lit("1234.5")), "1,23E3");
    }

    #[test]
    fn number_parsing() {
        // oracle: ${"1.5"?number} ${"-3"?number} ${"1e3"?number} ${"+2"?number} ${".5"?number} ${"5."?number}
        // ${"1E-3"?number?c} -> "1.5 -3 1,000 2 0.5 5 0.001"
        let f = |s: &str| fmt("number", "en_US", &parse_number(s).unwrap());
        assert_eq!(
            ["1.5", "-3", "1e3", "+2", ".5", "5."].map(f),
            ["1.5", "-3", "1,000", "2", "0.5", "5"]
        );
        assert_eq!(format_c(&parse_number("1E-3").unwrap()), "0.001");
        // oracle: INF -> INF, -INF -> -INF, Infinity -> INF, NaN -> NaN (with ?c)
        assert_eq!(format_c(&parse_number("INF").unwrap()), "INF");
        assert_eq!(format_c(&parse_number("-INF").unwrap()), "-INF");
        assert_eq!(format_c(&parse_number("Infinity").unwrap()), "INF");
        assert_eq!(format_c(&parse_number("NaN").unwrap()), "NaN");
        // oracle: Can't convert this string to number: " 2" / "2 " / "0x1" / "+INF" / "1,000" / ""
        for bad in [" 2", "2 ", "0x1", "+INF", "1,000", ""] {
            assert!(parse_number(bad).is_none(), "{bad:?}");
        }
        // oracle: ${("1.0000000000000"?number/3)?c} -> 0.3333333333333 (the string's scale is kept)
        let n = parse_number("1.0000000000000").unwrap();
        assert_eq!(
            format_c(&n.div(&Number::Int(3)).unwrap()),
            "0.3333333333333"
        );
    }

    #[test]
    fn java_quirks_in_digits() {
        // oracle: 2.249049295654513e16 (JSON) with "number" -> 22,490,492,956,545,128 (Java 17 prints
        // integer-valued doubles below 2^63 with their exact digits)
        assert_eq!(
            fmt("number", "en_US", &Number::Double(2.249049295654513e16)),
            "22,490,492,956,545,128"
        );
        // oracle: -8.335317243922042e-12 with "0.00;; roundingMode=floor" -> -0.00 and with
        // "0.0;; roundingMode=up" -> -0.0 (values far below the last place underflow to zero)
        let tiny = Number::Double(-8.335317243922042e-12);
        assert_eq!(fmt("0.00;; roundingMode=floor", "en_US", &tiny), "-0.00");
        assert_eq!(fmt("0.0;; roundingMode=up", "en_US", &tiny), "-0.0");
        // oracle: -870.261 with "0.00;; roundingMode=ceiling" -> -870.26, "floor" -> -870.27
        let n = Number::Double(-870.261);
        assert_eq!(fmt("0.00;; roundingMode=ceiling", "en_US", &n), "-870.26");
        assert_eq!(fmt("0.00;; roundingMode=floor", "en_US", &n), "-870.27");
        // oracle: "INF"?number?string("computer") -> INF
        assert_eq!(
            fmt("computer", "en_US", &Number::Double(f64::INFINITY)),
            "INF"
        );
        // oracle: 777197 with "0000" -> 777197, "#,##,###" groups by the last interval
        assert_eq!(fmt("0000", "en_US", &Number::Int(777197)), "777197");
        assert_eq!(fmt("#,##,###", "en_US", &Number::Int(1234567)), "1,234,567");
    }

    #[test]
    fn computer_format() {
        // oracle: ${input.d3?c} (1e20) -> 100000000000000000000; ${input.d4?c} (1.0E-5) -> 0.00001;
        // ${input.d9?c} (1.23456789012345678E-10) -> 0.0000000001234568; ${input.d11?c} (-0.0) -> -0;
        // ${0.12345678901234567890?c} -> 0.1234567890123457; ${input.d10?c} (12345678.9) -> 12345678.9
        assert_eq!(format_c(&Number::Double(1e20)), "100000000000000000000");
        assert_eq!(format_c(&Number::Double(1.0e-5)), "0.00001");
        assert_eq!(
            format_c(&Number::Double(1.234_567_890_123_456_8e-10)),
            "0.0000000001234568"
        );
        assert_eq!(format_c(&Number::Double(-0.0)), "-0");
        assert_eq!(
            format_c(&lit("0.12345678901234567890")),
            "0.1234567890123457"
        );
        assert_eq!(format_c(&Number::Double(12345678.9)), "12345678.9");
        assert_eq!(format_c(&Number::Double(f64::INFINITY)), "INF");
        assert_eq!(format_c(&Number::Double(f64::NAN)), "NaN");
    }

    #[test]
    fn pattern_errors_use_java_and_freemarker_messages() {
        let err = |spec: &str| {
            NumberFormat::new(spec, &Locale::en_us())
                .unwrap_err()
                .to_string()
        };
        // oracle: Failed to get number format object for the "0.0.0" number format string:
        // Multiple decimal separators in pattern "0.0.0"
        assert_eq!(
            err("0.0.0"),
            "Failed to get number format object for the \"0.0.0\" number format string: Multiple decimal separators in pattern \"0.0.0\""
        );
        // oracle: "#0#0" -> Unexpected '0' in pattern; "0#" -> Malformed pattern; ";" -> Unquoted
        // special character ';'; "0E" -> Malformed exponential pattern
        assert!(err("#0#0").ends_with("Unexpected '0' in pattern \"#0#0\""));
        assert!(err("0#").ends_with("Malformed pattern \"0#\""));
        assert!(err(";").ends_with("Unquoted special character ';' in pattern \";\""));
        assert!(err("0E").ends_with("Malformed exponential pattern \"0E\""));
        // oracle: option errors
        assert!(err("0.0;; minusSign=~")
            .ends_with("Expected a(n) value at position 16 (0-based), but found: ~"));
        assert!(err("0.0;; roundingMode").ends_with(
            "Expected a(n) \"=\" at position 18 (0-based), but reached the end of the input."
        ));
        assert!(err("0.0;; decimalSeparator='ab'").ends_with(
            "\"ab\" is an invalid value for the \"decimalSeparator\" parameter: Must contain exactly 1 character."
        ));
        assert!(err("0.0;; foo=bar").contains("Unsupported parameter name, \"foo\"."));
    }

    #[test]
    fn extended_options_and_odd_patterns() {
        let n = Number::Double(1234.5);
        // oracle: "abc" -> abc1234; "0;" -> 1234; "#,##0.0;; groupingSeparator=' '" -> "1 234.5";
        // "0.0;; roundingMode=halfUp,multiplier=2" on -1.5 -> -3.0; zeroDigit='a' on 1.5 -> b.f
        assert_eq!(fmt("abc", "en_US", &n), "abc1234");
        assert_eq!(fmt("0;", "en_US", &n), "1234");
        assert_eq!(
            fmt("#,##0.0;; groupingSeparator=' '", "en_US", &n),
            "1 234.5"
        );
        assert_eq!(
            fmt(
                "0.0;; roundingMode=halfUp,multiplier=2",
                "en_US",
                &Number::Double(-1.5)
            ),
            "-3.0"
        );
        assert_eq!(
            fmt("0.0;; nan='N' zeroDigit='a'", "en_US", &Number::Double(1.5)),
            "b.f"
        );
        // oracle: ?string("") on 1234.5 -> "1,234.5"
        assert_eq!(fmt("", "en_US", &n), "1,234.5");
    }

    #[test]
    fn error_detail_is_the_java_message() {
        // oracle (corpus number-format-bad-pattern-error): a bad number_format setting reads
        // "Failed to get number format object for the current number format string, "0.0.0":
        // Multiple decimal separators in pattern "0.0.0"" -- the engine wraps `detail()` itself
        let e = NumberFormat::new("0.0.0", &Locale::en_us()).unwrap_err();
        assert_eq!(
            e.detail(),
            "Multiple decimal separators in pattern \"0.0.0\""
        );
    }

    #[test]
    fn lone_five_in_e_form_is_an_exact_tie() {
        // oracle: 0.0005 with "0.###" -> 0, halfUp/halfDown -> 0.001; 0.005 with "0.##" -> 0.01;
        // -0.0005 with "0.###;; roundingMode=halfDown" -> -0.001
        let n = Number::Double(0.0005);
        assert_eq!(fmt("0.###", "en_US", &n), "0");
        assert_eq!(fmt("number", "en_US", &n), "0");
        assert_eq!(fmt("0.###;; roundingMode=halfUp", "en_US", &n), "0.001");
        assert_eq!(
            fmt(
                "0.###;; roundingMode=halfDown",
                "en_US",
                &Number::Double(-0.0005)
            ),
            "-0.001"
        );
        assert_eq!(fmt("0.##", "en_US", &Number::Double(0.005)), "0.01");
    }

    #[test]
    fn more_locales_number_data() {
        // oracle: de_AT "1 234 567,891" (NBSP) but currency "€ 1.234,00"; nl_NL currency
        // "€ -1.234,50"; tr_TR percent "%26"; ru_RU NaN "не число"; en_AU exponent "1.23e3"
        let n = |s: &str| Number::parse_literal(s).unwrap();
        assert_eq!(
            fmt("number", "de_AT", &n("1234567.891")),
            "1\u{a0}234\u{a0}567,891"
        );
        assert_eq!(
            fmt("currency", "de_AT", &n("1234")),
            "\u{20ac}\u{a0}1.234,00"
        );
        assert_eq!(
            fmt("currency", "nl_NL", &n("1234.5").neg()),
            "\u{20ac}\u{a0}-1.234,50"
        );
        assert_eq!(fmt("percent", "tr_TR", &n("0.256")), "%26");
        assert_eq!(
            fmt("number", "ru_RU", &Number::Double(f64::NAN)),
            "\u{43d}\u{435}\u{a0}\u{447}\u{438}\u{441}\u{43b}\u{43e}"
        );
        assert_eq!(fmt("0.00E0", "en_AU", &n("1234.5")), "1.23e3");
    }
}
