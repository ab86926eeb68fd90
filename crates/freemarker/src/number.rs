//! FreeMarker's numbers: the Java types a JSON value or literal becomes (Integer/Long, BigInteger,
//! Double, BigDecimal) and the arithmetic of FreeMarker's default BigDecimal arithmetic engine.
//!
//! Everything binary goes through exact decimals (`a + b`, `a / b` with scale `max(12, scales)`,
//! rounding half-up); `%` works on Java `long` values; built-ins like `?int` keep Java's
//! truncation and wrap-around. See `format/mod.rs` for the list of public signatures.
// Part of the API offered to the engine (e.g. to_epoch_ms) is not used by it yet.
#![allow(dead_code)]

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::format::decimal::{bigint_low_i64, java_double_to_string, Decimal, Rounding};

/// A FreeMarker number with the Java type it would have in Apache FreeMarker.
#[derive(Clone, Debug)]
pub enum Number {
    /// `Integer` or `Long` (JSON integers that fit, `?int`, `?long`, `%`, lengths, ...).
    Int(i64),
    /// `BigInteger`: JSON integers beyond the `long` range.
    BigInt(BigInt),
    /// `Double`: JSON numbers with a fraction or exponent; the only kind that can be NaN/infinite.
    Double(f64),
    /// `BigDecimal`: template literals and every arithmetic result.
    Decimal(Decimal),
    /// A `BigDecimal` whose unscaled value fits an `i64`, as (unscaled, scale): the same value as
    /// `Decimal(unscaled × 10^-scale)`, which arithmetic results take when they fit, to save the
    /// big-integer allocation. Everything but the hot paths converts it with [`Number::as_decimal`].
    Small(i64, i64),
}

/// An arithmetic failure; `Display` is FreeMarker's message first line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArithError(String);

impl fmt::Display for ArithError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArithError {}

impl ArithError {
    fn div_by_zero() -> ArithError {
        // oracle: ${1/0}, ${1%0}, ${1.5/0.0} -> "Arithmetic operation failed: / by zero"
        ArithError("Arithmetic operation failed: / by zero".into())
    }
}

/// Products (and negations) with more fraction digits than this are rounded half-up to it.
const MAX_SCALE: i64 = 12;

fn limit_scale(d: Decimal) -> Decimal {
    if d.scale() > MAX_SCALE {
        d.set_scale(MAX_SCALE, Rounding::HalfUp)
    } else {
        d
    }
}

/// FreeMarker's BigDecimal engine divides with at least this many fraction digits.
const MIN_DIVISION_SCALE: i64 = 12;

/// `new BigDecimal(Double.toString(f))` without printing `f`, for the common doubles with a short
/// decimal form (prices, coordinates): `10^-3 <= |f| < 10^7` (where `Double.toString` uses plain
/// notation, always with at least one fraction digit) and at most 6 fraction digits. Finds the
/// fewest fraction digits `k` (at least 1) for which an integer `n` reads back as `f` from `n / 10^k`:
/// those are the shortest round-trip digits Java prints. `None` for every other double.
fn short_double_decimal(f: f64) -> Option<Decimal> {
    short_double_parts(f).map(|(n, k)| Decimal::new(BigInt::from(n), k))
}

/// [`short_double_decimal`] as (unscaled, scale).
fn short_double_parts(f: f64) -> Option<(i64, i64)> {
    let a = f.abs();
    if !(1e-3..1e7).contains(&a) {
        return None;
    }
    // |n| < 10^13 < 2^53, so `n` and `10^k` are exact doubles and `n / 10^k` is the double nearest
    // to the decimal n/10^k, i.e. what parsing it gives; a unit in the k-th fraction digit is far
    // above the spacing of doubles this small, so at most one `n` reads back for each `k`.
    let mut pow = 1.0;
    for k in 1..=6 {
        pow *= 10.0;
        let n = (f * pow).round();
        if n / pow == f {
            return Some((n as i64, k));
        }
    }
    None
}

/// Exact decimal arithmetic on (unscaled, scale) pairs that fit machine integers: the same
/// results as [`Decimal`]'s, without its big-integer temporaries. `None` when a value does not fit.
pub(crate) mod small {
    use std::cmp::Ordering;

    /// A decimal as (unscaled, scale): unscaled × 10^-scale.
    pub type Parts = (i64, i64);
    /// A result of an exact operation, which may need more than 64 bits.
    pub type Wide = (i128, i64);

    /// `v × 10^k` (k >= 0).
    fn up(v: i64, k: i64) -> Option<i128> {
        let p = 10i128.checked_pow(u32::try_from(k).ok()?)?;
        (v as i128).checked_mul(p)
    }

    /// Both values at the larger scale: (a, b, scale).
    fn aligned(a: Parts, b: Parts) -> Option<(i128, i128, i64)> {
        let s = a.1.max(b.1);
        Some((up(a.0, s - a.1)?, up(b.0, s - b.1)?, s))
    }

    pub fn add(a: Parts, b: Parts) -> Option<Wide> {
        let (x, y, s) = aligned(a, b)?;
        Some((x.checked_add(y)?, s))
    }

    pub fn sub(a: Parts, b: Parts) -> Option<Wide> {
        let (x, y, s) = aligned(a, b)?;
        Some((x.checked_sub(y)?, s))
    }

    pub fn mul(a: Parts, b: Parts) -> Option<Wide> {
        Some((a.0 as i128 * b.0 as i128, a.1.checked_add(b.1)?))
    }

    pub fn cmp(a: Parts, b: Parts) -> Option<Ordering> {
        let (x, y, _) = aligned(a, b)?;
        Some(x.cmp(&y))
    }
}

impl Number {
    /// The Java type Jackson would give a JSON number: `Integer`/`Long` when the integer fits,
    /// `BigInteger` beyond, `Double` for anything with a fraction or exponent. (Without serde_json's
    /// `arbitrary_precision` feature, integers beyond `u64` already arrive as floats.)
    pub fn from_json(n: &serde_json::Number) -> Number {
        if let Some(i) = n.as_i64() {
            // oracle (corpus tricky abs-and-int-of-min-long): Jackson reads -9223372036854775808
            // as a BigInteger (?abs gives 9223372036854775808)
            if i == i64::MIN {
                return Number::BigInt(BigInt::from(i));
            }
            return Number::Int(i);
        }
        if let Some(u) = n.as_u64() {
            return Number::BigInt(BigInt::from(u));
        }
        // a double with a fraction prints with a point or an exponent: no need to print it to know
        if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.fract() != 0.0) {
            return Number::Double(f);
        }
        let text = n.to_string();
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(b) = text.parse::<BigInt>() {
                return Number::BigInt(b);
            }
        }
        Number::Double(
            n.as_f64()
                .unwrap_or_else(|| text.parse().unwrap_or(f64::NAN)),
        )
    }

    /// An FTL number literal (`1`, `0.5`, `.5`, `1.50`): a BigDecimal, or `None` when `s` is not
    /// digits with at most one point.
    pub fn parse_literal(s: &str) -> Option<Number> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        Decimal::parse(s).map(Number::Decimal)
    }

    pub fn from_i64(i: i64) -> Number {
        Number::Int(i)
    }

    pub fn from_f64(f: f64) -> Number {
        Number::Double(f)
    }

    /// The exact decimal FreeMarker's arithmetic converts this to (doubles via `Double.toString`).
    pub fn to_decimal(&self) -> Result<Decimal, ArithError> {
        self.as_decimal().map(Cow::into_owned)
    }

    /// [`Number::to_decimal`] that borrows a value that already is a decimal (arithmetic and
    /// comparisons only read their operands).
    fn as_decimal(&self) -> Result<Cow<'_, Decimal>, ArithError> {
        match self {
            Number::Decimal(d) => Ok(Cow::Borrowed(d)),
            Number::Small(u, scale) => Ok(Cow::Owned(Decimal::new(BigInt::from(*u), *scale))),
            Number::Int(i) => Ok(Cow::Owned(Decimal::from_i64(*i))),
            Number::BigInt(b) => Ok(Cow::Owned(Decimal::from_bigint(b))),
            Number::Double(f) => {
                if let Some(d) = short_double_decimal(*f) {
                    return Ok(Cow::Owned(d));
                }
                Decimal::from_f64_java(*f).map(Cow::Owned).ok_or_else(|| {
                    if f.is_nan() {
                        ArithError("Can't parse this as BigDecimal number: \"NaN\"".into())
                    } else {
                        ArithError(format!(
                        "It's impossible to convert an infinite value (Double {}) to BigDecimal.",
                        java_double_to_string(*f)
                    ))
                    }
                })
            }
        }
    }

    /// The decimal [`Number::to_decimal`] gives, as (unscaled, scale), when the unscaled value fits
    /// an `i64` and is cheap to find.
    pub(crate) fn small_parts(&self) -> Option<small::Parts> {
        match self {
            Number::Int(i) => Some((*i, 0)),
            Number::Decimal(d) => Some((d.unscaled().to_i64()?, d.scale())),
            Number::Small(u, scale) => Some((*u, *scale)),
            Number::Double(f) => short_double_parts(*f),
            Number::BigInt(_) => None,
        }
    }

    /// Applies a [`small`] operation when both operands fit it: the result as a `BigDecimal`,
    /// [`Number::Small`] when its unscaled value fits an `i64`.
    fn small_op(
        &self,
        o: &Number,
        op: fn(small::Parts, small::Parts) -> Option<small::Wide>,
    ) -> Option<Number> {
        let (n, scale) = op(self.small_parts()?, o.small_parts()?)?;
        Some(match i64::try_from(n) {
            Ok(u) => Number::Small(u, scale),
            Err(_) => Number::Decimal(Decimal::new(BigInt::from(n), scale)),
        })
    }

    /// `a + b` (exact).
    pub fn add(&self, o: &Number) -> Result<Number, ArithError> {
        if let Some(n) = self.small_op(o, small::add) {
            return Ok(n);
        }
        Ok(Number::Decimal(self.as_decimal()?.add(&*o.as_decimal()?)))
    }

    /// `a - b` (exact).
    pub fn sub(&self, o: &Number) -> Result<Number, ArithError> {
        if let Some(n) = self.small_op(o, small::sub) {
            return Ok(n);
        }
        Ok(Number::Decimal(self.as_decimal()?.sub(&*o.as_decimal()?)))
    }

    /// `a * b`, rounded half-up to 12 fraction digits when it has more.
    pub fn mul(&self, o: &Number) -> Result<Number, ArithError> {
        match self.small_op(o, small::mul) {
            Some(Number::Small(u, scale)) if scale <= MAX_SCALE => {
                return Ok(Number::Small(u, scale))
            }
            Some(n) => {
                if let Ok(d) = n.as_decimal() {
                    return Ok(Number::Decimal(limit_scale(d.into_owned())));
                }
            }
            None => {}
        }
        Ok(Number::Decimal(limit_scale(
            self.as_decimal()?.mul(&*o.as_decimal()?),
        )))
    }

    /// `a / b`: scale `max(12, scale(a), scale(b))`, rounded half-up; fails on division by zero.
    pub fn div(&self, o: &Number) -> Result<Number, ArithError> {
        let a = self.as_decimal()?;
        let b = o.as_decimal()?;
        let scale = a.scale().max(b.scale()).max(MIN_DIVISION_SCALE);
        a.div(&b, scale, Rounding::HalfUp)
            .map(Number::Decimal)
            .ok_or_else(ArithError::div_by_zero)
    }

    /// `a % b`: Java's `long` remainder of both operands' `longValue()` (so `7.9 % 2.9` is 1).
    pub fn rem(&self, o: &Number) -> Result<Number, ArithError> {
        let a = self.long_value();
        let b = o.long_value();
        if b == 0 {
            return Err(ArithError::div_by_zero());
        }
        Ok(Number::Int(a.wrapping_rem(b)))
    }

    /// Unary minus; keeps the Java type (FreeMarker multiplies by -1 keeping the type, so the
    /// most negative `int`/`long` stays itself and decimals get at most 12 fraction digits).
    pub fn neg(&self) -> Number {
        match self {
            // oracle: -(input.i) with i = -2147483648 -> -2147483648
            Number::Int(i) if *i == i32::MIN as i64 || *i == i64::MIN => Number::Int(*i),
            Number::Int(i) => Number::Int(-i),
            Number::BigInt(b) => Number::BigInt(-b),
            Number::Double(f) => Number::Double(-f),
            // oracle: -("-0.0662811405923388"?number) -> 0.066281140592
            Number::Decimal(d) => Number::Decimal(limit_scale(d.neg())),
            Number::Small(u, scale) if *u != i64::MIN && *scale <= MAX_SCALE => {
                Number::Small(-u, *scale)
            }
            Number::Small(u, scale) => {
                Number::Decimal(limit_scale(Decimal::new(BigInt::from(*u), *scale).neg()))
            }
        }
    }

    /// -1, 0 or 1 (0 for NaN).
    pub fn signum(&self) -> i32 {
        match self {
            Number::Int(i) => i.signum() as i32,
            Number::BigInt(b) => {
                if b.is_zero() {
                    0
                } else if b.is_negative() {
                    -1
                } else {
                    1
                }
            }
            Number::Double(f) => {
                if *f > 0.0 {
                    1
                } else if *f < 0.0 {
                    -1
                } else {
                    0
                }
            }
            Number::Decimal(d) => d.signum(),
            Number::Small(u, _) => u.signum() as i32,
        }
    }

    /// Numeric comparison as FreeMarker's BigDecimal engine does it: by sign first, then exactly.
    /// Infinities compare beyond every finite value; NaN compares equal to zero-signed values
    /// only by sign (Java would fail converting it; templates rarely meet NaN).
    pub fn compare(&self, o: &Number) -> Ordering {
        let (sa, sb) = (self.signum(), o.signum());
        if sa != sb {
            return sa.cmp(&sb);
        }
        if sa == 0 {
            return Ordering::Equal;
        }
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a.cmp(b),
            (Number::Double(a), Number::Double(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            _ => {
                let inf = |n: &Number| matches!(n, Number::Double(f) if f.is_infinite());
                match (inf(self), inf(o)) {
                    (true, true) => Ordering::Equal,
                    (true, false) => sa.cmp(&0),
                    (false, true) => 0.cmp(&sb),
                    (false, false) => {
                        if let Some(ord) = self
                            .small_parts()
                            .zip(o.small_parts())
                            .and_then(|(a, b)| small::cmp(a, b))
                        {
                            return ord;
                        }
                        match (self.as_decimal(), o.as_decimal()) {
                            (Ok(a), Ok(b)) => a.cmp_value(&b),
                            _ => Ordering::Equal,
                        }
                    }
                }
            }
        }
    }

    /// The value as a double (`Number.doubleValue()`).
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::BigInt(b) => b.to_f64().unwrap_or(f64::NAN),
            Number::Double(f) => *f,
            Number::Decimal(d) => d.to_f64(),
            Number::Small(u, scale) => Decimal::new(BigInt::from(*u), *scale).to_f64(),
        }
    }

    /// The integer part when it fits an `i64` (None for NaN, infinities, and out-of-range values);
    /// for indexes, counts and repeat arguments.
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::BigInt(b) => b.to_i64(),
            Number::Double(f) => {
                if f.is_finite() && f.abs() < 9.2e18 {
                    Some(f.trunc() as i64)
                } else {
                    None
                }
            }
            Number::Decimal(d) => d.to_bigint().to_i64(),
            Number::Small(u, scale) => Decimal::new(BigInt::from(*u), *scale).to_bigint().to_i64(),
        }
    }

    /// Java's `longValue()`: truncation; doubles saturate (NaN is 0), big values wrap.
    pub fn long_value(&self) -> i64 {
        match self {
            Number::Int(i) => *i,
            Number::BigInt(b) => bigint_low_i64(b),
            Number::Double(f) => *f as i64,
            Number::Decimal(d) => d.to_i64_wrapping(),
            Number::Small(u, scale) => Decimal::new(BigInt::from(*u), *scale).to_i64_wrapping(),
        }
    }

    /// Java's `intValue()`: truncation; doubles saturate (NaN is 0), everything else wraps.
    pub fn int_value(&self) -> i32 {
        match self {
            Number::Double(f) => *f as i32,
            other => other.long_value() as i32,
        }
    }

    /// The exact value of `doubleValue()`, which `?round`, `?floor` and `?ceiling` start from
    /// (so a long beyond 2^53 loses precision, as in FreeMarker).
    fn exact_double(&self) -> Result<Decimal, ArithError> {
        let f = self.to_f64();
        Decimal::from_f64_exact(f).ok_or_else(|| ArithError("Infinite or NaN".into()))
    }

    /// `?round`: floor(x + 0.5) on the double value, so halves go up (-2.5 -> -2).
    pub fn round(&self) -> Result<Number, ArithError> {
        let half = Decimal::new(BigInt::from(5), 1);
        let d = self.exact_double()?.add(&half);
        Ok(Number::Decimal(d.set_scale(0, Rounding::Floor)))
    }

    /// `?floor` (on the double value).
    pub fn floor(&self) -> Result<Number, ArithError> {
        Ok(Number::Decimal(
            self.exact_double()?.set_scale(0, Rounding::Floor),
        ))
    }

    /// `?ceiling` (on the double value).
    pub fn ceiling(&self) -> Result<Number, ArithError> {
        Ok(Number::Decimal(
            self.exact_double()?.set_scale(0, Rounding::Ceiling),
        ))
    }

    /// Epoch milliseconds for `?number_to_datetime` and friends (FreeMarker's `safeToLong`:
    /// doubles and decimals round half-up; out of the `long` range is an error).
    pub fn to_epoch_ms(&self) -> Result<i64, ArithError> {
        let too_big = |shown: String| {
            ArithError(format!(
                "Number doesn't fit into a 64 bit signed integer (long): {shown}"
            ))
        };
        match self {
            Number::Int(i) => Ok(*i),
            Number::Double(f) => {
                let r = (f + 0.5).floor();
                if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
                    return Err(too_big(java_double_to_string(r)));
                }
                Ok(r as i64)
            }
            Number::BigInt(b) => b.to_i64().ok_or_else(|| too_big(b.to_string())),
            Number::Decimal(_) | Number::Small(..) => {
                let d = self.as_decimal()?;
                let r = d.set_scale(0, Rounding::HalfUp);
                r.to_bigint()
                    .to_i64()
                    .ok_or_else(|| too_big(r.to_plain_string()))
            }
        }
    }

    /// `?int`: Java `intValue()` (truncates toward zero; 1e20 -> 2147483647, big integers wrap).
    pub fn int(&self) -> Number {
        Number::Int(self.int_value() as i64)
    }

    /// `?long`: Java `longValue()`.
    pub fn long(&self) -> Number {
        Number::Int(self.long_value())
    }

    /// `?abs`, keeping the type (like Java, the most negative `int`/`long` stays negative).
    pub fn abs(&self) -> Number {
        match self {
            Number::Int(i) if *i == i32::MIN as i64 || *i == i64::MIN => Number::Int(*i),
            Number::Int(i) => Number::Int(i.abs()),
            Number::BigInt(b) => Number::BigInt(b.abs()),
            Number::Double(f) => Number::Double(f.abs()),
            Number::Decimal(d) => Number::Decimal(d.abs()),
            Number::Small(u, scale) if *u != i64::MIN => Number::Small(u.abs(), *scale),
            Number::Small(u, scale) => {
                Number::Decimal(Decimal::new(BigInt::from(*u), *scale).abs())
            }
        }
    }

    pub fn is_nan(&self) -> bool {
        matches!(self, Number::Double(f) if f.is_nan())
    }

    pub fn is_infinite(&self) -> bool {
        matches!(self, Number::Double(f) if f.is_infinite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Number {
        Number::parse_literal(s).unwrap()
    }

    fn c(n: &Number) -> String {
        crate::format::format_c(n)
    }

    fn json(s: &str) -> Number {
        match serde_json::from_str::<serde_json::Value>(s).unwrap() {
            serde_json::Value::Number(n) => Number::from_json(&n),
            _ => panic!("not a number"),
        }
    }

    #[test]
    fn division_has_scale_twelve_half_up() {
        // oracle: ${(1/3)?c} -> 0.333333333333, ${(2/3)?c} -> 0.666666666667,
        // ${(1/3*3)?c} -> 0.999999999999, ${(1.0000000000001/3)?c} -> 0.3333333333334,
        // ${(input.d2/3)?c} with d2=0.1 -> 0.033333333333, ${(10/4)?c} -> 2.5
        let one = lit("1");
        let three = lit("3");
        assert_eq!(c(&one.div(&three).unwrap()), "0.333333333333");
        assert_eq!(c(&lit("2").div(&three).unwrap()), "0.666666666667");
        assert_eq!(
            c(&one.div(&three).unwrap().mul(&three).unwrap()),
            "0.999999999999"
        );
        assert_eq!(
            c(&lit("1.0000000000001").div(&three).unwrap()),
            "0.3333333333334"
        );
        assert_eq!(c(&json("0.1").div(&three).unwrap()), "0.033333333333");
        assert_eq!(c(&lit("10").div(&lit("4")).unwrap()), "2.5");
    }

    #[test]
    fn division_and_remainder_by_zero_fail() {
        // oracle: ${1/0}, ${1%0}, ${1.5/0.0} -> "Arithmetic operation failed: / by zero"
        let e = lit("1").div(&lit("0")).unwrap_err();
        assert_eq!(e.to_string(), "Arithmetic operation failed: / by zero");
        assert!(lit("1").rem(&lit("0")).is_err());
        assert!(lit("1.5").div(&lit("0.0")).is_err());
    }

    #[test]
    fn remainder_uses_long_values() {
        // oracle: ${7 % 3} ${7.5 % 2} ${-7 % 3} ${7 % -3} ${7.9 % 2.9} -> "1 1 -1 1 1"
        let r = |a: &Number, b: &Number| a.rem(b).unwrap().long_value();
        assert_eq!(r(&lit("7"), &lit("3")), 1);
        assert_eq!(r(&lit("7.5"), &lit("2")), 1);
        assert_eq!(r(&lit("7").neg(), &lit("3")), -1);
        assert_eq!(r(&lit("7"), &lit("3").neg()), 1);
        assert_eq!(r(&lit("7.9"), &lit("2.9")), 1);
    }

    #[test]
    fn doubles_add_through_their_decimal_string() {
        // oracle: ${(input.d2 + 0.2)?c} with d2=0.1 -> 0.3; ${(input.d3 * 10)?c} with d3=1e20
        // -> 1000000000000000000000
        assert_eq!(c(&json("0.1").add(&lit("0.2")).unwrap()), "0.3");
        assert_eq!(
            c(&json("1e20").mul(&lit("10")).unwrap()),
            "1000000000000000000000"
        );
    }

    #[test]
    fn rounding_builtins() {
        // oracle: ${1.5?round} ${2.5?round} ${(-2.5)?round} ${(-1.5)?round} ${(-0.5)?round} -> 2 3 -2 -1 0
        let r = |s: &str, neg: bool| {
            let n = if neg { lit(s).neg() } else { lit(s) };
            c(&n.round().unwrap())
        };
        assert_eq!(
            [
                r("1.5", false),
                r("2.5", false),
                r("2.5", true),
                r("1.5", true),
                r("0.5", true)
            ],
            ["2", "3", "-2", "-1", "0"]
        );
        // oracle: ${2.5?floor} ${(-2.5)?floor} ${2.5?ceiling} ${(-2.5)?ceiling} ${(-2.5)?int} ${(-2.5)?abs}
        // -> 2 -3 3 -2 -2 2.5
        let m = lit("2.5").neg();
        assert_eq!(c(&lit("2.5").floor().unwrap()), "2");
        assert_eq!(c(&m.floor().unwrap()), "-3");
        assert_eq!(c(&lit("2.5").ceiling().unwrap()), "3");
        assert_eq!(c(&m.ceiling().unwrap()), "-2");
        assert_eq!(c(&m.int()), "-2");
        assert_eq!(c(&m.abs()), "2.5");
        assert_eq!(c(&json("-2.5").int()), "-2");
    }

    #[test]
    fn int_and_long_truncate_and_wrap_like_java() {
        // oracle (bi=123456789012345678901234567890, l=10000000000, d3=1e20, d9=1.23456789012345678E-10):
        // ${input.bi?int} ${input.l?int} ${input.bi?long} ${input.d3?long} ${input.d3?int} ${input.d9?long}
        // -> 1,312,754,386 1,410,065,408 -4,362,896,299,872,285,998 9,223,372,036,854,775,807 2,147,483,647 0
        let bi = Number::BigInt("123456789012345678901234567890".parse().unwrap());
        assert_eq!(bi.int_value(), 1312754386);
        assert_eq!(json("10000000000").int_value(), 1410065408);
        assert_eq!(bi.long_value(), -4362896299872285998);
        assert_eq!(json("1e20").long_value(), i64::MAX);
        assert_eq!(json("1e20").int_value(), i32::MAX);
        assert_eq!(json("1.23456789012345678E-10").long_value(), 0);
    }

    #[test]
    fn comparisons_cross_types() {
        // oracle: ${(input.i == 1.0)?c} ${(input.d6 == 1)?c} with i=1, d6=1.0 -> true true
        assert_eq!(json("1").compare(&lit("1.0")), Ordering::Equal);
        assert_eq!(json("1.0").compare(&lit("1")), Ordering::Equal);
        assert_eq!(json("0.1").compare(&lit("0.10")), Ordering::Equal);
        assert_eq!(lit("2").compare(&json("1.5")), Ordering::Greater);
        assert_eq!(lit("2").neg().compare(&json("-1.5")), Ordering::Less);
    }

    #[test]
    fn products_and_negation_keep_at_most_twelve_fraction_digits() {
        // oracle: ("5343152582959.241"?number * "-5.424755574590948e-10"?number)?c -> -2898.529676029817
        let a = parse_str("5343152582959.241");
        let b = parse_str("-5.424755574590948e-10");
        assert_eq!(c(&a.mul(&b).unwrap()), "-2898.529676029817");
        // oracle: (-("-0.0662811405923388"?number))?c -> 0.066281140592; -(-2147483648) -> -2147483648
        assert_eq!(c(&parse_str("-0.0662811405923388").neg()), "0.066281140592");
        assert_eq!(c(&json("-2147483648").neg()), "-2147483648");
    }

    #[test]
    fn rounding_builtins_go_through_double() {
        // oracle: input.a = -495525280377343427 (Long): ?round, ?floor, ?ceiling -> -495525280377343424
        let a = json("-495525280377343427");
        assert_eq!(c(&a.round().unwrap()), "-495525280377343424");
        assert_eq!(c(&a.floor().unwrap()), "-495525280377343424");
        // oracle: "4.26873996799682e+19"?number?round -> 42687399679968198656
        assert_eq!(
            c(&parse_str("4.26873996799682e+19").round().unwrap()),
            "42687399679968198656"
        );
    }

    #[test]
    fn epoch_ms_conversion() {
        assert_eq!(
            json("1643659621795").to_epoch_ms().unwrap(),
            1_643_659_621_795
        );
        assert_eq!(parse_str("1.5").to_epoch_ms().unwrap(), 2);
        assert!(json("1e300").to_epoch_ms().is_err());
    }

    fn parse_str(s: &str) -> Number {
        crate::format::parse_number(s).unwrap()
    }

    #[test]
    fn json_numbers_get_jacksons_types() {
        assert!(matches!(json("1"), Number::Int(1)));
        assert!(matches!(json("10000000000"), Number::Int(_)));
        assert!(matches!(json("18446744073709551615"), Number::BigInt(_)));
        assert!(matches!(json("1.0"), Number::Double(_)));
        assert!(matches!(json("1e2"), Number::Double(_)));
    }

    #[test]
    fn min_long_from_json_is_a_big_integer() {
        // oracle: ${input.n?abs?c} ${input.n?int?c} with n = -9223372036854775808 -> "9223372036854775808 0";
        // with n = -2147483648 -> "-2147483648 -2147483648"
        let n = json("-9223372036854775808");
        assert_eq!(
            (c(&n.abs()), c(&n.int())),
            ("9223372036854775808".into(), "0".into())
        );
        let n = json("-2147483648");
        assert_eq!(
            (c(&n.abs()), c(&n.int())),
            ("-2147483648".into(), "-2147483648".into())
        );
    }

    /// The shortcut for short doubles gives exactly `new BigDecimal(Double.toString(f))` (value and
    /// scale) wherever it answers, over decimal-looking doubles and arbitrary bit patterns.
    #[test]
    fn short_double_decimals_match_the_java_conversion() {
        use proptest::prelude::*;
        let check = |f: f64| -> Result<(), TestCaseError> {
            if let Some(fast) = short_double_decimal(f) {
                let java = Decimal::from_f64_java(f)
                    .ok_or_else(|| TestCaseError::fail(format!("{f} does not convert")))?;
                prop_assert_eq!(
                    (fast.unscaled(), fast.scale()),
                    (java.unscaled(), java.scale()),
                    "{}",
                    f
                );
            }
            Ok(())
        };
        let mut runner = proptest::test_runner::TestRunner::default();
        let decimal_like = (-100_000_000_000i64..100_000_000_000, 0u32..9)
            .prop_map(|(n, k)| n as f64 / 10f64.powi(k as i32));
        runner
            .run(&decimal_like, check)
            .unwrap_or_else(|e| panic!("{e}"));
        runner
            .run(&any::<u64>().prop_map(f64::from_bits), check)
            .unwrap_or_else(|e| panic!("{e}"));
        runner
            .run(&(0.0001f64..2e7), check)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut answered = 0;
        for f in [
            19.99, 20.0, -0.5, 0.001, 0.0015, 9999999.5, 1234567.0, 37.7749, -122.4194,
        ] {
            check(f).unwrap_or_else(|e| panic!("{e}"));
            answered += usize::from(short_double_decimal(f).is_some());
        }
        assert_eq!(answered, 9, "the shortcut answers for short decimals");
    }

    /// A `Small` number behaves exactly like the `Decimal` of the same value and scale in every
    /// operation that has its own `Small` arm (and in formatting, which converts it).
    #[test]
    fn small_variant_matches_its_decimal() {
        use crate::format::locale::Locale;
        use crate::format::number::{format_c, NumberFormat};
        use proptest::prelude::*;
        let en = Locale::parse("en_US").unwrap_or_else(|e| panic!("{e}"));
        let formats: Vec<NumberFormat> = ["0.00", "#,##0.###", "number", "percent"]
            .iter()
            .map(|p| NumberFormat::new(p, &en).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let mut runner = proptest::test_runner::TestRunner::default();
        let cases = prop_oneof![
            (any::<i64>(), -20i64..20),
            (-1_000_000i64..1_000_000, 0i64..16),
            (
                prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64)],
                -3i64..14
            ),
        ];
        runner
            .run(&cases, |(u, s)| {
                let small = Number::Small(u, s);
                let big = Number::Decimal(Decimal::new(BigInt::from(u), s));
                let same = |a: &Number, b: &Number| -> Result<(), TestCaseError> {
                    let (da, db) = (a.to_decimal(), b.to_decimal());
                    let da = da.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let db = db.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(
                        (da.unscaled().clone(), da.scale()),
                        (db.unscaled().clone(), db.scale())
                    );
                    Ok(())
                };
                same(&small.neg(), &big.neg())?;
                same(&small.abs(), &big.abs())?;
                prop_assert_eq!(small.signum(), big.signum());
                prop_assert_eq!(small.to_f64().to_bits(), big.to_f64().to_bits());
                prop_assert_eq!(small.to_i64(), big.to_i64());
                prop_assert_eq!(small.long_value(), big.long_value());
                prop_assert_eq!(
                    small.to_epoch_ms().map_err(|e| e.to_string()),
                    big.to_epoch_ms().map_err(|e| e.to_string())
                );
                prop_assert_eq!(small.compare(&big), Ordering::Equal);
                prop_assert_eq!(format_c(&small), format_c(&big));
                for f in &formats {
                    prop_assert_eq!(f.format(&small), f.format(&big));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Add, subtract, multiply and compare give the same decimals (value and scale) through the
    /// machine-integer shortcut as through `Decimal`'s big-integer arithmetic.
    #[test]
    fn small_arithmetic_matches_big_decimal_arithmetic() {
        use proptest::prelude::*;
        let number = prop_oneof![
            any::<i64>().prop_map(Number::Int),
            (-1_000_000_000i64..1_000_000_000, 0u32..7)
                .prop_map(|(n, k)| Number::Double(n as f64 / 10f64.powi(k as i32))),
            (any::<i64>(), -40i64..40)
                .prop_map(|(n, s)| Number::Decimal(Decimal::new(BigInt::from(n), s))),
            (-100_000i64..100_000, 0i64..4)
                .prop_map(|(n, s)| Number::Decimal(Decimal::new(BigInt::from(n), s))),
            (any::<i64>(), -20i64..20).prop_map(|(n, s)| Number::Small(n, s)),
        ];
        let parts = |n: &Number| {
            let d = n.to_decimal().unwrap_or_else(|e| panic!("{e}"));
            (d.unscaled().clone(), d.scale())
        };
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&(number.clone(), number), |(a, b)| {
                let (da, db) = (a.to_decimal(), b.to_decimal());
                let (da, db) = (
                    da.map_err(|e| TestCaseError::fail(e.to_string()))?,
                    db.map_err(|e| TestCaseError::fail(e.to_string()))?,
                );
                let expect = |d: Decimal| (d.unscaled().clone(), d.scale());
                let sum = a.add(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(parts(&sum), expect(da.add(&db)));
                let diff = a.sub(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(parts(&diff), expect(da.sub(&db)));
                let prod = a.mul(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(parts(&prod), expect(limit_scale(da.mul(&db))));
                let want = if a.signum() != b.signum() {
                    a.signum().cmp(&b.signum())
                } else {
                    da.cmp_value(&db)
                };
                prop_assert_eq!(a.compare(&b), want);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
