//! Exact decimal numbers with Java `BigDecimal`'s scale rules: the arithmetic of FreeMarker's default
//! (BigDecimal) arithmetic engine, and the exact digit source that number formatting rounds from.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// How a value is rounded to fewer digits; the names and meanings of `java.math.RoundingMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Up,
    Down,
    Ceiling,
    Floor,
    HalfUp,
    HalfDown,
    HalfEven,
    /// Java throws when rounding would be needed; we fall back to `HalfEven` (never reached by
    /// FreeMarker's own formats, only by an explicit `roundingMode=unnecessary`).
    Unnecessary,
}

/// `unscaled × 10^(-scale)`, exactly like `java.math.BigDecimal` (so `1.50` keeps scale 2).
#[derive(Clone, Debug)]
pub struct Decimal {
    unscaled: BigInt,
    scale: i64,
}

/// Powers of ten beyond this are refused instead of allocating absurd amounts of memory
/// (a literal like `1e999999999` must not exhaust the host).
const MAX_SCALE_SHIFT: i64 = 100_000;

fn pow10(n: i64) -> BigInt {
    num_traits::pow(BigInt::from(10u8), n.clamp(0, MAX_SCALE_SHIFT) as usize)
}

impl Decimal {
    /// The value `unscaled × 10^(-scale)`.
    pub fn new(unscaled: BigInt, scale: i64) -> Decimal {
        Decimal { unscaled, scale }
    }

    pub fn from_i64(i: i64) -> Decimal {
        Decimal::new(BigInt::from(i), 0)
    }

    pub fn from_bigint(i: &BigInt) -> Decimal {
        Decimal::new(i.clone(), 0)
    }

    pub fn unscaled(&self) -> &BigInt {
        &self.unscaled
    }

    pub fn scale(&self) -> i64 {
        self.scale
    }

    /// Parses like `new BigDecimal(String)`: optional sign, digits with an optional point (at least
    /// one digit in all), optional exponent `e`/`E` with optional sign. No spaces, no `_`.
    pub fn parse(s: &str) -> Option<Decimal> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            neg = b[i] == b'-';
            i += 1;
        }
        let mut digits = String::new();
        let mut frac_len: i64 = 0;
        let mut seen_point = false;
        while i < b.len() {
            match b[i] {
                b'0'..=b'9' => {
                    digits.push(b[i] as char);
                    if seen_point {
                        frac_len += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut eneg = false;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                eneg = b[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i || i - start > 10 {
                return None;
            }
            exp = s[start..i].parse::<i64>().ok()?;
            if eneg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return None;
        }
        let scale = frac_len - exp;
        if scale.abs() > i32::MAX as i64 {
            return None;
        }
        let mut unscaled: BigInt = digits.parse().ok()?;
        if neg {
            unscaled = -unscaled;
        }
        Some(Decimal::new(unscaled, scale))
    }

    /// `new BigDecimal(Double.toString(f))`, the conversion FreeMarker's arithmetic applies to a
    /// double; `None` for NaN and infinities (which Java refuses to convert).
    pub fn from_f64_java(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        Decimal::parse(&java_double_to_string(f))
    }

    /// The exact binary value of a finite double (what `new BigDecimal(double)` gives).
    pub fn from_f64_exact(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 {
            return Some(Decimal::from_i64(0));
        }
        let bits = f.to_bits();
        let sign = if bits >> 63 == 1 { -1 } else { 1 };
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mut mant, mut exp) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp_bits - 1075)
        };
        // the smallest scale: drop the mantissa's trailing binary zeros first
        let tz = mant.trailing_zeros() as i64;
        mant >>= tz;
        exp += tz;
        let m = BigInt::from(mant) * sign;
        if exp >= 0 {
            Some(Decimal::new(m << exp as usize, 0))
        } else {
            // m / 2^k = m * 5^k / 10^k
            let k = -exp;
            let five = num_traits::pow(BigInt::from(5u8), k as usize);
            Some(Decimal::new(m * five, k))
        }
    }

    pub fn is_zero(&self) -> bool {
        self.unscaled.is_zero()
    }

    pub fn signum(&self) -> i32 {
        match self.unscaled.sign() {
            Sign::Minus => -1,
            Sign::NoSign => 0,
            Sign::Plus => 1,
        }
    }

    /// This value with at least scale `scale` (exact: only adds zeros).
    fn upscaled(&self, scale: i64) -> BigInt {
        if scale <= self.scale {
            self.unscaled.clone()
        } else {
            &self.unscaled * pow10(scale - self.scale)
        }
    }

    pub fn add(&self, o: &Decimal) -> Decimal {
        let s = self.scale.max(o.scale);
        Decimal::new(self.upscaled(s) + o.upscaled(s), s)
    }

    pub fn sub(&self, o: &Decimal) -> Decimal {
        let s = self.scale.max(o.scale);
        Decimal::new(self.upscaled(s) - o.upscaled(s), s)
    }

    pub fn mul(&self, o: &Decimal) -> Decimal {
        Decimal::new(&self.unscaled * &o.unscaled, self.scale + o.scale)
    }

    pub fn neg(&self) -> Decimal {
        Decimal::new(-&self.unscaled, self.scale)
    }

    pub fn abs(&self) -> Decimal {
        Decimal::new(self.unscaled.abs(), self.scale)
    }

    /// `BigDecimal.divide(o, scale, mode)`; `None` when `o` is zero.
    pub fn div(&self, o: &Decimal, scale: i64, mode: Rounding) -> Option<Decimal> {
        if o.is_zero() {
            return None;
        }
        // self/o = (a·10^-sa) / (b·10^-sb); result unscaled = a·10^(scale - sa + sb) / b
        let shift = scale - self.scale + o.scale;
        let (num, den) = if shift >= 0 {
            (&self.unscaled * pow10(shift), o.unscaled.clone())
        } else {
            (self.unscaled.clone(), &o.unscaled * pow10(-shift))
        };
        Some(Decimal::new(round_quotient(&num, &den, mode), scale))
    }

    /// `BigDecimal.setScale(scale, mode)`.
    pub fn set_scale(&self, scale: i64, mode: Rounding) -> Decimal {
        if scale >= self.scale {
            Decimal::new(self.upscaled(scale), scale)
        } else {
            let den = pow10(self.scale - scale);
            Decimal::new(round_quotient(&self.unscaled, &den, mode), scale)
        }
    }

    /// The integer part (truncated toward zero), like `BigDecimal.toBigInteger()`.
    pub fn to_bigint(&self) -> BigInt {
        self.set_scale(0, Rounding::Down).upscaled(0)
    }

    /// Java's `longValue()`: the integer part, keeping its low 64 bits.
    pub fn to_i64_wrapping(&self) -> i64 {
        bigint_low_i64(&self.to_bigint())
    }

    pub fn to_f64(&self) -> f64 {
        format!("{}e{}", self.unscaled, -self.scale)
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    }

    /// The value as significant decimal digits (no leading or trailing zeros; empty for zero) and
    /// the position of the decimal point: value = 0.DIGITS × 10^point.
    pub fn digits(&self) -> (String, i64) {
        if self.is_zero() {
            return (String::new(), 0);
        }
        let s = self.unscaled.abs().to_string();
        let trimmed = s.trim_end_matches('0');
        let point = s.len() as i64 - self.scale;
        (trimmed.to_string(), point)
    }

    /// Java's `BigDecimal.toPlainString()`.
    pub fn to_plain_string(&self) -> String {
        let neg = self.signum() < 0;
        let digits = self.unscaled.abs().to_string();
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if self.scale <= 0 {
            out.push_str(&digits);
            for _ in 0..(-self.scale).min(MAX_SCALE_SHIFT) {
                out.push('0');
            }
        } else {
            let scale = self.scale as usize;
            if digits.len() > scale {
                out.push_str(&digits[..digits.len() - scale]);
                out.push('.');
                out.push_str(&digits[digits.len() - scale..]);
            } else {
                out.push_str("0.");
                for _ in 0..scale - digits.len() {
                    out.push('0');
                }
                out.push_str(&digits);
            }
        }
        out
    }
}

/// `num / den` rounded to an integer by `mode` (den != 0).
fn round_quotient(num: &BigInt, den: &BigInt, mode: Rounding) -> BigInt {
    let (q, r) = num.div_rem(den); // truncating toward zero
    if r.is_zero() {
        return q;
    }
    let positive = (num.sign() == Sign::Minus) == (den.sign() == Sign::Minus);
    let twice_r = r.abs() * 2u8;
    let half_cmp = twice_r.cmp(&den.abs());
    let away = match mode {
        Rounding::Up => true,
        Rounding::Down => false,
        Rounding::Ceiling => positive,
        Rounding::Floor => !positive,
        Rounding::HalfUp => half_cmp != Ordering::Less,
        Rounding::HalfDown => half_cmp == Ordering::Greater,
        Rounding::HalfEven | Rounding::Unnecessary => {
            half_cmp == Ordering::Greater || (half_cmp == Ordering::Equal && q.is_odd())
        }
    };
    if away {
        if positive {
            q + BigInt::one()
        } else {
            q - BigInt::one()
        }
    } else {
        q
    }
}

/// The low 64 bits of a big integer as a two's complement `i64` (Java's `BigInteger.longValue()`).
pub fn bigint_low_i64(i: &BigInt) -> i64 {
    if let Some(v) = i.to_i64() {
        return v;
    }
    let low = i.to_signed_bytes_le();
    let mut bytes = [if i.sign() == Sign::Minus { 0xffu8 } else { 0 }; 8];
    for (k, b) in low.iter().take(8).enumerate() {
        bytes[k] = *b;
    }
    i64::from_le_bytes(bytes)
}

impl PartialEq for Decimal {
    fn eq(&self, o: &Decimal) -> bool {
        self.cmp_value(o) == Ordering::Equal
    }
}

impl Decimal {
    /// Numeric comparison ignoring scale (`BigDecimal.compareTo`).
    pub fn cmp_value(&self, o: &Decimal) -> Ordering {
        let s = self.scale.max(o.scale);
        self.upscaled(s).cmp(&o.upscaled(s))
    }
}

/// The shortest decimal digits that read back as `f` (`f` finite and not zero), and the point
/// position: |f| ≈ 0.DIGITS × 10^point.
pub fn shortest_digits(f: f64) -> (String, i64) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp + 1)
}

/// The digits Java 17's `Double.toString` (and `DecimalFormat`) starts from for a finite,
/// non-zero double: the shortest round-trip digits, except for integer values in [2^53, 2^63),
/// where Java's old `FloatingDecimal` prints the exact integer with only its provably
/// insignificant low digits rounded away (2.249049295654513E16 prints as 22490492956545128).
pub fn java_double_digits(f: f64) -> (String, i64) {
    let a = f.abs();
    if (9_007_199_254_740_992.0..9_223_372_036_854_775_808.0).contains(&a) && a.fract() == 0.0 {
        let bin_exp = ((a.to_bits() >> 52) & 0x7ff) as i64 - 1023;
        // FloatingDecimal passes 53 "significant bits" for every normal double
        let significant_bits = 53;
        const INSIGNIFICANT: [u32; 64] = [
            0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8,
            8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15,
            15, 15, 16, 16, 16, 17, 17, 17, 18, 18, 18, 19,
        ];
        let p2 = bin_exp - significant_bits - 1;
        let insignificant = if bin_exp > significant_bits && p2 > 1 && p2 < 64 {
            INSIGNIFICANT[p2 as usize]
        } else {
            0
        };
        let mut value = a as u64;
        if insignificant > 0 {
            let pow10 = 10u64.pow(insignificant);
            let residue = value % pow10;
            value /= pow10;
            if residue >= pow10 / 2 {
                value += 1;
            }
        }
        let s = value.to_string();
        let point = s.len() as i64 + insignificant as i64;
        return (s.trim_end_matches('0').to_string(), point);
    }
    let (digits, point) = shortest_digits(f);
    if digits.len() >= 17 {
        // Seventeen digits can tie between two candidates (e.g. 1667619600411405.25); Java picks
        // the even one, so take the exact value rounded half-even to 17 digits instead.
        if let Some(exact) = Decimal::from_f64_exact(a) {
            let (_, p) = exact.digits();
            let rounded = exact.set_scale(17 - p, Rounding::HalfEven);
            return rounded.digits();
        }
    }
    (digits, point)
}

/// Java's `Double.toString(f)`: plain notation for 10^-3 <= |f| < 10^7, otherwise
/// `d.dddE±n`; always at least one fraction digit. (Java 17 occasionally prints one more digit
/// than the shortest round-trip form; we print the shortest.)
pub fn java_double_to_string(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push_str("0.0");
        return out;
    }
    let (digits, point) = java_double_digits(f);
    let a = f.abs();
    if (1e-3..1e7).contains(&a) {
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..-point {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let p = point as usize;
            if digits.len() <= p {
                out.push_str(&digits);
                for _ in digits.len()..p {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..p]);
                out.push('.');
                out.push_str(&digits[p..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&(point - 1).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_java_scale() {
        let d = Decimal::parse("1.50").unwrap();
        assert_eq!((d.unscaled().to_string(), d.scale()), ("150".into(), 2));
        let d = Decimal::parse("1.0E20").unwrap();
        assert_eq!((d.unscaled().to_string(), d.scale()), ("10".into(), -19));
        assert!(Decimal::parse(".").is_none());
        assert!(Decimal::parse("1e").is_none());
        assert!(Decimal::parse(" 1").is_none());
        assert_eq!(Decimal::parse(".5").unwrap().to_plain_string(), "0.5");
    }

    #[test]
    fn division_rounds_half_up_at_given_scale() {
        let one = Decimal::from_i64(1);
        let three = Decimal::from_i64(3);
        let two = Decimal::from_i64(2);
        let q = one.div(&three, 12, Rounding::HalfUp).unwrap();
        assert_eq!(q.to_plain_string(), "0.333333333333");
        let q = two.div(&three, 12, Rounding::HalfUp).unwrap();
        assert_eq!(q.to_plain_string(), "0.666666666667");
        let q = two.neg().div(&three, 12, Rounding::HalfUp).unwrap();
        assert_eq!(q.to_plain_string(), "-0.666666666667");
        assert!(one
            .div(&Decimal::from_i64(0), 12, Rounding::HalfUp)
            .is_none());
    }

    #[test]
    fn java_double_strings() {
        assert_eq!(java_double_to_string(1e20), "1.0E20");
        assert_eq!(java_double_to_string(100.0), "100.0");
        assert_eq!(java_double_to_string(0.001), "0.001");
        assert_eq!(java_double_to_string(1.0e-5), "1.0E-5");
        assert_eq!(java_double_to_string(1234567.5), "1234567.5");
        assert_eq!(java_double_to_string(12345678.9), "1.23456789E7");
        assert_eq!(java_double_to_string(-0.0), "-0.0");
    }

    #[test]
    fn exact_double_expansion() {
        let d = Decimal::from_f64_exact(0.125).unwrap();
        assert_eq!(d.to_plain_string(), "0.125");
        let d = Decimal::from_f64_exact(1.005).unwrap();
        assert!(d.to_plain_string().starts_with("1.00499999999999989"));
    }

    #[test]
    fn long_value_wraps_like_java() {
        let big: BigInt = "123456789012345678901234567890".parse().unwrap();
        // oracle: ${input.bi?long} with bi = 123456789012345678901234567890 -> -4,362,896,299,872,285,998
        assert_eq!(bigint_low_i64(&big), -4362896299872285998);
    }

    #[test]
    fn seventeen_digit_ties_go_to_even() {
        // oracle: -1667619600411.4053 with "0.0‰" -> -1667619600411405.2‰ (the product's exact
        // value ends in .25; Java prints the even candidate)
        let f = 1667619600411.4053_f64 * 1000.0;
        assert_eq!(java_double_digits(f), ("16676196004114052".to_string(), 16));
        assert_eq!(java_double_digits(0.1), ("1".to_string(), 0));
    }
}
