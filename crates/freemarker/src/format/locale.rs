//! Locales: the number symbols, number/currency/percent patterns and date names that Java 17's
//! CLDR data gives a handful of locales, so formatting matches FreeMarker on a Java 17 runtime.
//!
//! Known languages: en (en_US, en_GB, ...), de (de_DE, de_CH), fr, hu, ja, it, es, sv, pt. Any other
//! locale gets Java's root-locale behaviour (English symbols, `¤ #,##0.00` currency), which is what
//! Java itself does for a locale it has no data for; real Java locales missing here (e.g. nl_NL)
//! format differently than in Apache FreeMarker.

use super::FormatError;

/// A parsed locale such as `en_US`; cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale {
    language: String,
    country: String,
}

/// The `DecimalFormatSymbols` of a locale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbols {
    pub decimal: String,
    pub grouping: String,
    pub minus: String,
    pub percent: String,
    pub per_mill: String,
    pub exponent: String,
    pub infinity: String,
    pub nan: String,
    pub currency: String,
    pub currency_code: String,
}

/// Month and day names of a locale (SimpleDateFormat's `DateFormatSymbols`).
#[derive(Clone, Copy, Debug)]
pub struct DateNames {
    pub months: [&'static str; 12],
    pub short_months: [&'static str; 12],
    /// Sunday first, like `Calendar.SUNDAY`.
    pub weekdays: [&'static str; 7],
    pub short_weekdays: [&'static str; 7],
    pub am_pm: [&'static str; 2],
    pub eras: [&'static str; 2],
}

impl Locale {
    /// Parses `en_US`, `en-US`, `de`, `en_US_POSIX` (variant ignored). Empty input is an error.
    pub fn parse(s: &str) -> Result<Locale, FormatError> {
        let s = s.trim();
        let mut parts = s.split(['_', '-']);
        let language = parts.next().unwrap_or("").to_ascii_lowercase();
        if language.is_empty() || !language.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(FormatError::new(format!("Invalid locale: {s:?}")));
        }
        let country = parts.next().unwrap_or("").to_ascii_uppercase();
        Ok(Locale { language, country })
    }

    /// `en_US`, FreeMarker's (and the oracle's) default locale.
    pub fn en_us() -> Locale {
        Locale {
            language: "en".into(),
            country: "US".into(),
        }
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn country(&self) -> &str {
        &self.country
    }

    /// Number symbols (oracle: `${1234567.891}` etc. with `locale=...`).
    pub fn symbols(&self) -> Symbols {
        let (decimal, grouping) = match self.language.as_str() {
            "de" if self.country == "CH" => (".", "\u{2019}"),
            "de" | "it" | "es" | "pt" => (",", "."),
            "fr" => (",", "\u{202f}"),
            "hu" | "sv" => (",", "\u{a0}"),
            _ => (".", ","),
        };
        let minus = if self.language == "sv" {
            "\u{2212}"
        } else {
            "-"
        };
        let exponent = if self.language == "sv" {
            "\u{d7}10^"
        } else {
            "E"
        };
        let (currency, currency_code) = match self.country.as_str() {
            "US" => ("$", "USD"),
            "GB" => ("\u{a3}", "GBP"),
            "DE" | "FR" | "IT" | "ES" | "AT" | "NL" | "BE" | "FI" | "IE" | "PT" => {
                ("\u{20ac}", "EUR")
            }
            "HU" => ("Ft", "HUF"),
            "JP" => ("\u{ffe5}", "JPY"),
            "SE" => ("kr", "SEK"),
            "BR" => ("R$", "BRL"),
            "CH" => ("CHF", "CHF"),
            _ => ("\u{a4}", "XXX"),
        };
        Symbols {
            decimal: decimal.into(),
            grouping: grouping.into(),
            minus: minus.into(),
            percent: "%".into(),
            per_mill: "\u{2030}".into(),
            exponent: exponent.into(),
            infinity: "\u{221e}".into(),
            nan: "NaN".into(),
            currency: currency.into(),
            currency_code: currency_code.into(),
        }
    }

    /// The pattern of `NumberFormat.getNumberInstance(locale)`.
    pub fn number_pattern(&self) -> &'static str {
        "#,##0.###"
    }

    /// The pattern of `NumberFormat.getCurrencyInstance(locale)`, with the currency's fraction digits.
    pub fn currency_pattern(&self) -> &'static str {
        match (self.language.as_str(), self.country.as_str()) {
            ("ja", "JP") | ("en", "JP") => "\u{a4}#,##0",
            ("de", "CH") => "\u{a4}\u{a0}#,##0.00;\u{a4}-#,##0.00",
            ("en", _) if !self.country.is_empty() => "\u{a4}#,##0.00",
            ("ja", _) => "\u{a4}#,##0.00",
            ("de" | "fr" | "hu" | "it" | "es" | "sv", _) => "#,##0.00\u{a0}\u{a4}",
            _ => "\u{a4}\u{a0}#,##0.00",
        }
    }

    /// The pattern of `NumberFormat.getPercentInstance(locale)`.
    pub fn percent_pattern(&self) -> &'static str {
        match self.language.as_str() {
            "de" if self.country == "CH" => "#,##0%",
            "de" | "fr" | "es" | "sv" => "#,##0\u{a0}%",
            _ => "#,##0%",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let l = Locale::parse("de_DE").unwrap();
        assert_eq!((l.language(), l.country()), ("de", "DE"));
        let l = Locale::parse("en-gb").unwrap();
        assert_eq!((l.language(), l.country()), ("en", "GB"));
        assert!(Locale::parse("").is_err());
    }

    #[test]
    fn french_groups_with_narrow_no_break_space() {
        // oracle: ${1234567.891} with locale=fr_FR -> "1\u202f234\u202f567,891"
        let s = Locale::parse("fr_FR").unwrap().symbols();
        assert_eq!((s.decimal.as_str(), s.grouping.as_str()), (",", "\u{202f}"));
    }
}
