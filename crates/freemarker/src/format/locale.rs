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
    /// The digit zero; other digits follow it (`zeroDigit` option).
    pub zero: char,
}

/// Month, day, AM/PM and era names of a locale (SimpleDateFormat's `DateFormatSymbols`).
#[derive(Clone, Copy, Debug)]
pub struct DateNames {
    pub months: [&'static str; 12],
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

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const EN_SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const GB_SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
];
const EN_WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const EN_SHORT_WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const EN_US_NAMES: DateNames = DateNames {
    months: EN_MONTHS,
    short_months: EN_SHORT_MONTHS,
    standalone_short_months: EN_SHORT_MONTHS,
    weekdays: EN_WEEKDAYS,
    short_weekdays: EN_SHORT_WEEKDAYS,
    am_pm: ["AM", "PM"],
    eras: ["BC", "AD"],
};

const EN_GB_NAMES: DateNames = DateNames {
    months: EN_MONTHS,
    short_months: GB_SHORT_MONTHS,
    standalone_short_months: GB_SHORT_MONTHS,
    weekdays: EN_WEEKDAYS,
    short_weekdays: EN_SHORT_WEEKDAYS,
    am_pm: ["am", "pm"],
    eras: ["BC", "AD"],
};

const DE_NAMES: DateNames = DateNames {
    months: [
        "Januar",
        "Februar",
        "M\u{e4}rz",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    short_months: [
        "Jan.",
        "Feb.",
        "M\u{e4}rz",
        "Apr.",
        "Mai",
        "Juni",
        "Juli",
        "Aug.",
        "Sept.",
        "Okt.",
        "Nov.",
        "Dez.",
    ],
    standalone_short_months: [
        "Jan", "Feb", "M\u{e4}r", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez",
    ],
    weekdays: [
        "Sonntag",
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
    ],
    short_weekdays: ["So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa."],
    am_pm: ["AM", "PM"],
    eras: ["v. Chr.", "n. Chr."],
};

const FR_SHORT_MONTHS: [&str; 12] = [
    "janv.",
    "f\u{e9}vr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "ao\u{fb}t",
    "sept.",
    "oct.",
    "nov.",
    "d\u{e9}c.",
];
const FR_NAMES: DateNames = DateNames {
    months: [
        "janvier",
        "f\u{e9}vrier",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "ao\u{fb}t",
        "septembre",
        "octobre",
        "novembre",
        "d\u{e9}cembre",
    ],
    short_months: FR_SHORT_MONTHS,
    standalone_short_months: FR_SHORT_MONTHS,
    weekdays: [
        "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
    ],
    short_weekdays: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
    am_pm: ["AM", "PM"],
    eras: ["av. J.-C.", "ap. J.-C."],
};

const HU_SHORT_MONTHS: [&str; 12] = [
    "jan.",
    "febr.",
    "m\u{e1}rc.",
    "\u{e1}pr.",
    "m\u{e1}j.",
    "j\u{fa}n.",
    "j\u{fa}l.",
    "aug.",
    "szept.",
    "okt.",
    "nov.",
    "dec.",
];
const HU_NAMES: DateNames = DateNames {
    months: [
        "janu\u{e1}r",
        "febru\u{e1}r",
        "m\u{e1}rcius",
        "\u{e1}prilis",
        "m\u{e1}jus",
        "j\u{fa}nius",
        "j\u{fa}lius",
        "augusztus",
        "szeptember",
        "okt\u{f3}ber",
        "november",
        "december",
    ],
    short_months: HU_SHORT_MONTHS,
    standalone_short_months: HU_SHORT_MONTHS,
    weekdays: [
        "vas\u{e1}rnap",
        "h\u{e9}tf\u{151}",
        "kedd",
        "szerda",
        "cs\u{fc}t\u{f6}rt\u{f6}k",
        "p\u{e9}ntek",
        "szombat",
    ],
    short_weekdays: ["V", "H", "K", "Sze", "Cs", "P", "Szo"],
    am_pm: ["de.", "du."],
    eras: ["i. e.", "i. sz."],
};

const JA_MONTHS: [&str; 12] = [
    "1\u{6708}",
    "2\u{6708}",
    "3\u{6708}",
    "4\u{6708}",
    "5\u{6708}",
    "6\u{6708}",
    "7\u{6708}",
    "8\u{6708}",
    "9\u{6708}",
    "10\u{6708}",
    "11\u{6708}",
    "12\u{6708}",
];
const JA_NAMES: DateNames = DateNames {
    months: JA_MONTHS,
    short_months: JA_MONTHS,
    standalone_short_months: JA_MONTHS,
    weekdays: [
        "\u{65e5}\u{66dc}\u{65e5}",
        "\u{6708}\u{66dc}\u{65e5}",
        "\u{706b}\u{66dc}\u{65e5}",
        "\u{6c34}\u{66dc}\u{65e5}",
        "\u{6728}\u{66dc}\u{65e5}",
        "\u{91d1}\u{66dc}\u{65e5}",
        "\u{571f}\u{66dc}\u{65e5}",
    ],
    short_weekdays: [
        "\u{65e5}", "\u{6708}", "\u{706b}", "\u{6c34}", "\u{6728}", "\u{91d1}", "\u{571f}",
    ],
    am_pm: ["\u{5348}\u{524d}", "\u{5348}\u{5f8c}"],
    eras: ["\u{7d00}\u{5143}\u{524d}", "\u{897f}\u{66a6}"],
};

const EN_US_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE, MMMM d, y", "MMMM d, y", "MMM d, y", "M/d/yy"],
    time: ["h:mm:ss a zzzz", "h:mm:ss a z", "h:mm:ss a", "h:mm a"],
    date_time: ["{1} 'at' {0}", "{1} 'at' {0}", "{1}, {0}", "{1}, {0}"],
};
const EN_GB_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE, d MMMM y", "d MMMM y", "d MMM y", "dd/MM/y"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} 'at' {0}", "{1} 'at' {0}", "{1}, {0}", "{1}, {0}"],
};
const DE_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE, d. MMMM y", "d. MMMM y", "dd.MM.y", "dd.MM.yy"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} 'um' {0}", "{1} 'um' {0}", "{1}, {0}", "{1}, {0}"],
};
const FR_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE d MMMM y", "d MMMM y", "d MMM y", "dd/MM/y"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: [
        "{1} '\u{e0}' {0}",
        "{1} '\u{e0}' {0}",
        "{1}, {0}",
        "{1} {0}",
    ],
};
const HU_PATTERNS: DatePatterns = DatePatterns {
    date: ["y. MMMM d., EEEE", "y. MMMM d.", "y. MMM d.", "y. MM. dd."],
    time: ["H:mm:ss zzzz", "H:mm:ss z", "H:mm:ss", "H:mm"],
    date_time: ["{1} {0}", "{1} {0}", "{1} {0}", "{1} {0}"],
};
const JA_PATTERNS: DatePatterns = DatePatterns {
    date: [
        "y\u{5e74}M\u{6708}d\u{65e5}EEEE",
        "y\u{5e74}M\u{6708}d\u{65e5}",
        "y/MM/dd",
        "y/MM/dd",
    ],
    time: [
        "H\u{6642}mm\u{5206}ss\u{79d2} zzzz",
        "H:mm:ss z",
        "H:mm:ss",
        "H:mm",
    ],
    date_time: ["{1} {0}", "{1} {0}", "{1} {0}", "{1} {0}"],
};

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
            zero: '0',
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
            ("en", _) => "\u{a4}#,##0.00",
            ("ja", _) => "\u{a4}#,##0.00",
            ("de" | "fr" | "hu" | "it" | "es" | "sv", _) => "#,##0.00\u{a0}\u{a4}",
            _ => "\u{a4}\u{a0}#,##0.00",
        }
    }

    /// Whether this is English with British-style dates (en_GB and similar).
    fn is_en_gb_like(&self) -> bool {
        self.language == "en"
            && matches!(
                self.country.as_str(),
                "GB" | "IE" | "NZ" | "AU" | "IN" | "ZA"
            )
    }

    /// Date names (oracle-checked for en_US, en_GB, de_DE, fr_FR, hu_HU, ja_JP); other
    /// languages get en_US names.
    pub fn date_names(&self) -> &'static DateNames {
        match self.language.as_str() {
            "de" => &DE_NAMES,
            "fr" => &FR_NAMES,
            "hu" => &HU_NAMES,
            "ja" => &JA_NAMES,
            "en" if self.is_en_gb_like() => &EN_GB_NAMES,
            _ => &EN_US_NAMES,
        }
    }

    /// Date/time style patterns; other languages get en_US patterns.
    pub fn date_patterns(&self) -> &'static DatePatterns {
        match self.language.as_str() {
            "de" => &DE_PATTERNS,
            "fr" => &FR_PATTERNS,
            "hu" => &HU_PATTERNS,
            "ja" => &JA_PATTERNS,
            "en" if self.is_en_gb_like() => &EN_GB_PATTERNS,
            _ => &EN_US_PATTERNS,
        }
    }

    /// (first day of week, 1 = Sunday; minimal days in the first week) for `w`, `W`, `Y`.
    pub fn week_rules(&self) -> (u32, u32) {
        match self.language.as_str() {
            "de" | "fr" | "hu" | "it" | "es" | "sv" | "pt" if self.country != "BR" => (2, 4),
            "en" if self.is_en_gb_like() => (2, 4),
            _ => (1, 1),
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
