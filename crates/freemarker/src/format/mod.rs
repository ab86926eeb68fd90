//! Number, date and string formatting with Apache FreeMarker 2.3.31's (that is, Java 17's) exact
//! output: the pure functions behind `number_format`, `?c`, `?string(...)`, `date_format`,
//! `?html`, `?url` and friends. The engine calls these; nothing here knows about templates.
//!
//! Final signatures (the engine's side of the contract):
//! ```text
//! crate::number::Number            enum { Int(i64), BigInt(BigInt), Double(f64), Decimal(Decimal) }
//!   from_json(&serde_json::Number) -> Number          Jackson's Integer/Long, BigInteger, Double
//!   parse_literal(&str) -> Option<Number>             FTL literal "1", "0.5", ".5" (BigDecimal)
//!   from_i64(i64), from_f64(f64) -> Number
//!   add/sub/mul/div/rem(&self, &Number) -> Result<Number, ArithError>   (all fallible: infinite
//!                                                     doubles cannot become BigDecimal, x/0 fails)
//!   neg(&self) -> Number; abs(&self) -> Number; int(&self) -> Number; long(&self) -> Number
//!   round/floor/ceiling(&self) -> Result<Number, ArithError>
//!   compare(&self, &Number) -> Ordering; signum(&self) -> i32
//!   to_f64(&self) -> f64; to_i64(&self) -> Option<i64> (integer part, None if NaN/inf/too big)
//!   long_value(&self) -> i64; int_value(&self) -> i32  (Java's truncating/wrapping conversions)
//!   is_nan(&self), is_infinite(&self) -> bool
//!   to_epoch_ms(&self) -> Result<i64, ArithError>     ?number_to_datetime & co (FreeMarker's safeToLong:
//!                                                     half-up, "Number doesn't fit into a 64 bit signed integer (long): ...")
//!   Notes: * rounds products and negations to 12 fraction digits; ?round/?floor/?ceiling go through
//!   doubleValue(); -9223372036854775808 from JSON is a BigInteger (Jackson)
//! crate::number::ArithError        Display = FreeMarker's first line ("Arithmetic operation failed: / by zero")
//! format::NumberFormat::new(spec: &str, &Locale) -> Result<NumberFormat, FormatError>
//!   spec = "number" | "computer" | "currency" | "percent" | DecimalFormat pattern [";; options"]
//!   .format(&Number) -> String
//! format::format_c(&Number) -> String                 ?c
//! format::parse_number(&str) -> Option<Number>        ?number
//! format::Locale::parse(&str) -> Result<Locale, FormatError>; Locale::en_us()
//!   dates: en (US, GB), de, fr, hu, ja, it, es, pt (BR), sv; numbers: those plus nl, pl, ru, zh, ko,
//!   da, nb, fi, cs, tr, pt_PT, es_MX, fr_CA, de_AT, de_CH, en_AU/CA/IN;
//!   other languages format numbers like Java's root locale and dates like en_US
//! format::FormatError                                 Display = FreeMarker's first line, e.g. "Failed to get number
//!                                                     format object for the \"0.0.0\" number format string: ...";
//!   .detail() -> &str: the Java part alone, for the number_format setting's different wording
//! format::DateFormat::new(spec: &str, DateKind, &Locale) -> Result<DateFormat, FormatError>
//!   spec = "" (= medium) | "short" | "medium" | "long" | "full" | "long_short" (date-times) |
//!          "iso"/"xs" [options: h m s ms nz fz u, separated by ' ' or '_'] | SimpleDateFormat pattern
//!   .format(epoch_ms: i64, &TimeZone) -> String
//!   .parse(&str, &TimeZone) -> Result<i64, FormatError>   (lenient like Java; error text is FreeMarker's
//!                                                          "The string doesn't match the expected ...")
//! format::{DateKind, DateValue}                       DateKind::{Date, Time, DateTime, Unknown}
//! format::TimeZone::parse(&str) -> Result<TimeZone, FormatError>  (unknown ids -> GMT, like Java); TimeZone::utc()
//! format::iso::{IsoOptions, Accuracy, ZoneMode}        for ?iso_utc, ?iso_local_ms_nz, ?iso(tz), ...:
//!   format::iso::format_iso(epoch_ms, DateKind, &TimeZone, &IsoOptions) -> String
//!   ?iso_utc = {xs:false, accuracy:Seconds, zone:Auto, utc:true}; _ms suffix -> MillisOptional
//!   (".5", nothing for .000); _m -> Minutes; _h -> Hours; _nz -> ZoneMode::Never; ?iso_local -> utc:false
//! format::escape::{html, xhtml, xml, rtf, js_string, json_string, j_string}(s: &str, out: &mut String)
//! format::escape::{url, url_path}(s: &str, charset: &str, out: &mut String) -> Result<(), FormatError>
//!   (FreeMarker has no default charset: with neither url_escaping_charset nor output_encoding set,
//!   ?url fails: "To do URL encoding, the framework that encloses FreeMarker must specify the
//!   \"output_encoding\" setting or the \"url_escaping_charset\" setting, so ask the programmers to set them. ...")
//! format::escape::{cap_first, uncap_first, capitalize, upper_case, lower_case}(s: &str) -> String
//! format::escape::{upper_case_in, lower_case_in}(s: &str, &Locale) -> String  (use these for
//!   ?upper_case/?lower_case: Java applies the template locale, e.g. tr_TR "i" -> "İ")
//! format::escape::is_java_whitespace(char) -> bool      (Java's Character.isWhitespace; note ?trim uses String.trim: chars <= U+0020)
//! ```
// Part of the API offered to the engine (rtf, upper_case_in, ...) is not used by it yet.
#![allow(dead_code)]

pub(crate) mod calendar;
pub mod date;
mod date_data;
pub(crate) mod decimal;
pub mod escape;
pub mod iso;
pub mod locale;
pub mod number;
pub mod zone;

use std::fmt;

pub use date::{DateFormat, DateKind, DateValue};
pub use locale::Locale;
pub use number::{format_c, parse_number, NumberFormat};
pub use zone::TimeZone;

/// A format spec, locale, time zone or value that cannot be used; the message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    message: String,
    /// The underlying Java message without FreeMarker's wrapping, where there is one.
    detail: Option<String>,
}

impl FormatError {
    pub fn new(msg: impl Into<String>) -> FormatError {
        FormatError {
            message: msg.into(),
            detail: None,
        }
    }

    /// A message whose core (`detail`) is also available on its own, so a caller can wrap it
    /// differently: FreeMarker says "Failed to get number format object for the current number
    /// format string, \"0.0.0\": DETAIL" for a bad `number_format` setting but "... for the
    /// \"0.0.0\" number format string: DETAIL" for `?string("0.0.0")`.
    pub fn with_detail(message: impl Into<String>, detail: impl Into<String>) -> FormatError {
        FormatError {
            message: message.into(),
            detail: Some(detail.into()),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The Java exception's own message (e.g. "Multiple decimal separators in pattern \"0.0.0\"").
    pub fn detail(&self) -> &str {
        self.detail.as_deref().unwrap_or(&self.message)
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}
