//! Locales: the number symbols, number/currency/percent patterns and date names that Java 17's
//! CLDR data gives a handful of locales, so formatting matches FreeMarker on a Java 17 runtime.
//!
//! Numbers: en (US, GB, AU, CA, IN, IE, NZ, SG, ZA), de (DE, AT, CH), fr (FR, CA, CH), hu, ja,
//! it (IT, CH), es (ES, MX, AR, CO), pt (BR, PT), sv, nl, pl, ru, zh (CN, TW, HK), ko, da, nb, fi,
//! cs, tr, sr, hr, sl, sk, ro, bg, el, uk, lt, lv, et, ca, vi. Other countries of these languages
//! get the language's symbols (and its usual currency, or `¤` for en/ja: Java would use the
//! country's); any other language gets Java's root-locale data (English symbols, `¤ #,##0.00`
//! currency), as Java does for a locale it has no data for.
//! Dates (names, style patterns, week rules, zone names) come from `date_data.rs` for the same
//! languages; other languages get Java's root locale data ("2022 Oct 24"), as in Java.

use super::date_data::{self, LocaleDates, ZoneNames};
use super::FormatError;

/// A parsed locale such as `en_US`; cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale {
    language: String,
    country: String,
    /// The locale's entry in `date_data` (resolved once: dates are formatted per render).
    dates: Option<usize>,
}

/// The `DecimalFormatSymbols` of a locale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbols {
    pub decimal: String,
    pub grouping: String,
    /// Grouping in currency formats (differs in de_AT).
    pub monetary_grouping: String,
    /// Decimal separator in currency formats (differs in fr_CH: "1 234.50 CHF").
    pub monetary_decimal: String,
    pub minus: String,
    pub percent: String,
    pub per_mill: String,
    pub exponent: String,
    pub infinity: String,
    pub nan: String,
    pub currency: String,
    pub currency_code: String,
    /// The digit zero; other digits follow it (`zeroDigit` option).
    pub zero: char,
}

/// Per-locale number data behind `symbols()` and the locale's patterns.
#[derive(Clone, Copy)]
struct NumberData {
    decimal: &'static str,
    grouping: &'static str,
    monetary_grouping: &'static str,
    monetary_decimal: &'static str,
    minus: &'static str,
    exponent: &'static str,
    currency: &'static str,
    currency_code: &'static str,
    currency_pattern: &'static str,
    percent_pattern: &'static str,
    nan: &'static str,
}

/// Month, day, AM/PM and era names of a locale (SimpleDateFormat's `DateFormatSymbols`).
#[derive(Clone, Copy, Debug)]
pub struct DateNames {
    pub months: [&'static str; 12],
    /// `LLLL`, or `MMMM` as a pattern's only field: stand-alone names (differ in Polish:
    /// "pa\u{17a}dziernik" vs "24 pa\u{17a}dziernika").
    pub standalone_months: [&'static str; 12],
    pub short_months: [&'static str; 12],
    /// `LLL`: stand-alone abbreviations (differ in German: "Jan" vs "Jan.").
    pub standalone_short_months: [&'static str; 12],
    /// Sunday first, like `Calendar.SUNDAY`.
    pub weekdays: [&'static str; 7],
    pub short_weekdays: [&'static str; 7],
    pub am_pm: [&'static str; 2],
    /// BC, AD.
    pub eras: [&'static str; 2],
}

/// The locale's `DateFormat` style patterns (index 0 = full .. 3 = short) and the patterns
/// joining date and time, chosen by the shorter of the two styles (what Java 17 does).
#[derive(Clone, Copy, Debug)]
pub struct DatePatterns {
    pub date: [&'static str; 4],
    pub time: [&'static str; 4],
    /// `{1}` is the date, `{0}` the time.
    pub date_time: [&'static str; 4],
}

impl Locale {
    /// Parses `en_US`, `de`, `en_US_POSIX` (variant ignored) as FreeMarker does; never fails
    /// (keeps its `Result` for the formats' common shape).
    pub fn parse(s: &str) -> Result<Locale, FormatError> {
        let s = s.trim();
        // FreeMarker splits at `_` only: "en-US" is the (unknown) language "en-us", which gets
        // Java's root locale data (oracle: its dates print as "2022 Oct 24 20:07:32")
        let mut parts = s.split('_');
        // an empty string is Java's root locale (oracle: <#setting locale=""> prints 1,234.5)
        let language = parts.next().unwrap_or("").to_ascii_lowercase();
        let country = parts.next().unwrap_or("").to_ascii_uppercase();
        let dates = date_data::lookup(&language, &country);
        Ok(Locale {
            language,
            country,
            dates,
        })
    }

    /// `en_US`, FreeMarker's (and the oracle's) default locale.
    pub fn en_us() -> Locale {
        Locale {
            language: "en".into(),
            country: "US".into(),
            dates: date_data::lookup("en", "US"),
        }
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn country(&self) -> &str {
        &self.country
    }

    /// The locale's number data (oracle: `${1234567.891}`, `?string.currency`, `?string.percent`
    /// and `?string("0.00E0")` per locale). Unknown locales get Java's root-locale data.
    fn number_data(&self) -> NumberData {
        const NB: &str = "\u{a0}";
        let eur = ("\u{20ac}", "EUR");
        let d = |decimal,
                 grouping,
                 currency: (&'static str, &'static str),
                 currency_pattern,
                 percent_pattern| NumberData {
            decimal,
            grouping,
            monetary_grouping: grouping,
            monetary_decimal: decimal,
            minus: "-",
            exponent: "E",
            currency: currency.0,
            currency_code: currency.1,
            currency_pattern,
            percent_pattern,
            nan: "NaN",
        };
        let suffix_cur = "#,##0.00\u{a0}\u{a4}";
        let pct_nb = "#,##0\u{a0}%";
        let pct = "#,##0%";
        let lang = self.language.as_str();
        let country = self.country.as_str();
        match (lang, country) {
            ("en", "US") | ("en", "") => d(".", ",", ("$", "USD"), "\u{a4}#,##0.00", pct),
            ("en", "GB") => d(".", ",", ("\u{a3}", "GBP"), "\u{a4}#,##0.00", pct),
            ("en", "AU") => NumberData {
                exponent: "e",
                ..d(".", ",", ("$", "AUD"), "\u{a4}#,##0.00", pct)
            },
            ("en", "CA") => NumberData {
                exponent: "e",
                ..d(".", ",", ("$", "CAD"), "\u{a4}#,##0.00", pct)
            },
            ("en", "IN") => d(".", ",", ("\u{20b9}", "INR"), "\u{a4}#,##0.00", pct),
            ("en", "IE") => d(".", ",", eur, "\u{a4}#,##0.00", pct),
            ("en", "NZ") => d(".", ",", ("$", "NZD"), "\u{a4}#,##0.00", pct),
            ("en", "SG") => d(".", ",", ("$", "SGD"), "\u{a4}#,##0.00", pct),
            ("en", "ZA") => d(",", NB, ("R", "ZAR"), "\u{a4}#,##0.00", pct),
            ("en", _) => d(".", ",", ("\u{a4}", "XXX"), "\u{a4}#,##0.00", pct),
            ("de", "CH") => d(
                ".",
                "\u{2019}",
                ("CHF", "CHF"),
                "\u{a4}\u{a0}#,##0.00;\u{a4}-#,##0.00",
                pct,
            ),
            ("de", "AT") => NumberData {
                monetary_grouping: ".",
                ..d(",", NB, eur, "\u{a4}\u{a0}#,##0.00", pct_nb)
            },
            ("de", _) => d(",", ".", eur, suffix_cur, pct_nb),
            ("fr", "CA") => d(",", NB, ("$\u{a0}CA", "CAD"), suffix_cur, pct_nb),
            ("fr", "CH") => NumberData {
                monetary_decimal: ".",
                ..d(",", "\u{202f}", ("CHF", "CHF"), suffix_cur, pct)
            },
            ("fr", _) => d(",", "\u{202f}", eur, suffix_cur, pct_nb),
            ("it", "CH") => d(
                ".",
                "\u{2019}",
                ("SFr.", "CHF"),
                "\u{a4}\u{a0}#,##0.00;\u{a4}-#,##0.00",
                pct,
            ),
            ("it", _) => d(",", ".", eur, suffix_cur, pct),
            ("es", "MX") => d(".", ",", ("$", "MXN"), "\u{a4}#,##0.00", pct_nb),
            ("es", "AR") => d(",", ".", ("$", "ARS"), "\u{a4}\u{a0}#,##0.00", pct_nb),
            ("es", "CO") => d(",", ".", ("$", "COP"), "\u{a4}\u{a0}#,##0.00", pct_nb),
            ("es", _) => d(",", ".", eur, suffix_cur, pct_nb),
            ("pt", "PT") => d(",", NB, eur, suffix_cur, pct),
            ("pt", _) => d(",", ".", ("R$", "BRL"), "\u{a4}\u{a0}#,##0.00", pct),
            ("hu", _) => d(",", NB, ("Ft", "HUF"), suffix_cur, pct),
            ("sv", _) => NumberData {
                minus: "\u{2212}",
                exponent: "\u{d7}10^",
                ..d(",", NB, ("kr", "SEK"), suffix_cur, pct_nb)
            },
            ("nb" | "no", _) => NumberData {
                minus: "\u{2212}",
                ..d(",", NB, ("kr", "NOK"), "\u{a4}\u{a0}#,##0.00", pct_nb)
            },
            ("fi", _) => NumberData {
                minus: "\u{2212}",
                nan: "ep\u{e4}luku",
                ..d(",", NB, eur, suffix_cur, pct_nb)
            },
            ("da", _) => d(",", ".", ("kr.", "DKK"), suffix_cur, pct_nb),
            ("nl", _) => d(
                ",",
                ".",
                eur,
                "\u{a4}\u{a0}#,##0.00;\u{a4}\u{a0}-#,##0.00",
                pct,
            ),
            ("pl", _) => d(",", NB, ("z\u{142}", "PLN"), suffix_cur, pct),
            ("ru", _) => NumberData {
                nan: "\u{43d}\u{435}\u{a0}\u{447}\u{438}\u{441}\u{43b}\u{43e}",
                ..d(",", NB, ("\u{20bd}", "RUB"), suffix_cur, pct_nb)
            },
            ("cs", _) => d(",", NB, ("K\u{10d}", "CZK"), suffix_cur, pct_nb),
            ("tr", _) => d(",", ".", ("\u{20ba}", "TRY"), "\u{a4}#,##0.00", "%#,##0"),
            ("zh", "TW") => NumberData {
                nan: "\u{975e}\u{6578}\u{503c}",
                ..d(".", ",", ("$", "TWD"), "\u{a4}#,##0.00", pct)
            },
            ("zh", "HK") => NumberData {
                nan: "\u{975e}\u{6578}\u{503c}",
                ..d(".", ",", ("HK$", "HKD"), "\u{a4}#,##0.00", pct)
            },
            ("zh", _) => d(".", ",", ("\u{a5}", "CNY"), "\u{a4}#,##0.00", pct),
            ("ko", _) => d(".", ",", ("\u{20a9}", "KRW"), "\u{a4}#,##0", pct),
            ("ja", "JP") => d(".", ",", ("\u{ffe5}", "JPY"), "\u{a4}#,##0", pct),
            ("ja", _) => d(".", ",", ("\u{a4}", "XXX"), "\u{a4}#,##0.00", pct),
            // generated from Java 17's DecimalFormatSymbols / NumberFormat patterns
            ("sr", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "RSD",
                currency_code: "RSD",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("hr", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "\u{2212}",
                exponent: "E",
                currency: "EUR",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0\u{a0}%",
                nan: "NaN",
            },
            ("sl", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "\u{2212}",
                exponent: "e",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0\u{a0}%",
                nan: "NaN",
            },
            ("sk", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "-",
                exponent: "e",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0\u{a0}%",
                nan: "NaN",
            },
            ("ro", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "RON",
                currency_code: "RON",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0\u{a0}%",
                nan: "NaN",
            },
            ("bg", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "\u{43b}\u{432}.",
                currency_code: "BGN",
                currency_pattern: "#0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("el", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "-",
                exponent: "e",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("uk", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "-",
                exponent: "\u{415}",
                currency: "\u{20b4}",
                currency_code: "UAH",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("lt", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "\u{2212}",
                exponent: "\u{d7}10^",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0\u{a0}%",
                nan: "NaN",
            },
            ("lv", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NS",
            },
            ("et", _) => NumberData {
                decimal: ",",
                grouping: "\u{a0}",
                monetary_grouping: "\u{a0}",
                monetary_decimal: ",",
                minus: "\u{2212}",
                exponent: "\u{d7}10^",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("ca", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "\u{20ac}",
                currency_code: "EUR",
                currency_pattern: "#,##0.00\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            ("vi", _) => NumberData {
                decimal: ",",
                grouping: ".",
                monetary_grouping: ".",
                monetary_decimal: ",",
                minus: "-",
                exponent: "E",
                currency: "\u{20ab}",
                currency_code: "VND",
                currency_pattern: "#,##0\u{a0}\u{a4}",
                percent_pattern: "#,##0%",
                nan: "NaN",
            },
            // Java's root locale (oracle: locale=xx_YY -> "\u{a4}\u{a0}1,234.00")
            _ => d(".", ",", ("\u{a4}", "XXX"), "\u{a4}\u{a0}#,##0.00", pct),
        }
    }

    /// Number symbols of the locale (`DecimalFormatSymbols`).
    pub fn symbols(&self) -> Symbols {
        let n = self.number_data();
        Symbols {
            decimal: n.decimal.into(),
            grouping: n.grouping.into(),
            monetary_grouping: n.monetary_grouping.into(),
            monetary_decimal: n.monetary_decimal.into(),
            minus: n.minus.into(),
            percent: "%".into(),
            per_mill: "\u{2030}".into(),
            exponent: n.exponent.into(),
            infinity: "\u{221e}".into(),
            nan: n.nan.into(),
            currency: n.currency.into(),
            currency_code: n.currency_code.into(),
            zero: '0',
        }
    }

    /// The pattern of `NumberFormat.getNumberInstance(locale)`.
    pub fn number_pattern(&self) -> &'static str {
        "#,##0.###"
    }

    /// The pattern of `NumberFormat.getCurrencyInstance(locale)`, with the currency's fraction digits.
    pub fn currency_pattern(&self) -> &'static str {
        self.number_data().currency_pattern
    }

    /// The pattern of `NumberFormat.getPercentInstance(locale)`.
    pub fn percent_pattern(&self) -> &'static str {
        self.number_data().percent_pattern
    }

    /// The locale's date data: its own, its language's, or Java's root locale's.
    fn dates(&self) -> &'static LocaleDates {
        date_data::get(self.dates)
    }

    /// Date names (`DateFormatSymbols`); languages without data get the root locale's.
    pub fn date_names(&self) -> &'static DateNames {
        self.dates().names
    }

    /// Date/time style patterns; languages without data get the root locale's.
    pub fn date_patterns(&self) -> &'static DatePatterns {
        self.dates().patterns
    }

    /// (first day of week, 1 = Sunday; minimal days in the first week) for `w`, `W`, `Y`.
    pub fn week_rules(&self) -> (u32, u32) {
        self.dates().week
    }

    /// Time zone names for `z`/`zzzz`, by `zone.rs`'s metazone rows.
    pub(super) fn zone_names(&self) -> &'static ZoneNames {
        self.dates().zones
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let l = Locale::parse("de_DE").unwrap();
        assert_eq!((l.language(), l.country()), ("de", "DE"));
        let l = Locale::parse("EN_gb").unwrap();
        assert_eq!((l.language(), l.country()), ("en", "GB"));
        let l = Locale::parse("en-GB").unwrap();
        assert_eq!((l.language(), l.country()), ("en-gb", ""));
        let root = Locale::parse("").unwrap();
        assert_eq!((root.language(), root.country()), ("", ""));
    }

    #[test]
    fn french_groups_with_narrow_no_break_space() {
        // oracle: ${1234567.891} with locale=fr_FR -> "1\u202f234\u202f567,891"
        let s = Locale::parse("fr_FR").unwrap().symbols();
        assert_eq!((s.decimal.as_str(), s.grouping.as_str()), (",", "\u{202f}"));
    }
}
