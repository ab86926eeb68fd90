//! Locales: the number symbols, number/currency/percent patterns and date names that Java 17's
//! CLDR data gives a handful of locales, so formatting matches FreeMarker on a Java 17 runtime.
//!
//! Numbers: en (US, GB, AU, CA, IN), de (DE, AT, CH), fr (FR, CA), hu, ja, it, es (ES, MX), pt (BR,
//! PT), sv, nl, pl, ru, zh, ko, da, nb, fi, cs, tr; any other locale gets Java's root-locale data
//! (English symbols, `¤ #,##0.00` currency), as Java does for a locale it has no data for.
//! Dates: en_US, en_GB, de, fr (FR, CA), hu, ja, it, es, pt_BR, sv, nl, pl; other locales get
//! en_US names and patterns (so e.g. ru_RU dates differ from Apache FreeMarker's).

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
    /// Grouping in currency formats (differs in de_AT).
    pub monetary_grouping: String,
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
    standalone_months: EN_MONTHS,
    short_months: EN_SHORT_MONTHS,
    standalone_short_months: EN_SHORT_MONTHS,
    weekdays: EN_WEEKDAYS,
    short_weekdays: EN_SHORT_WEEKDAYS,
    am_pm: ["AM", "PM"],
    eras: ["BC", "AD"],
};

const EN_GB_NAMES: DateNames = DateNames {
    months: EN_MONTHS,
    standalone_months: EN_MONTHS,
    short_months: GB_SHORT_MONTHS,
    standalone_short_months: GB_SHORT_MONTHS,
    weekdays: EN_WEEKDAYS,
    short_weekdays: EN_SHORT_WEEKDAYS,
    am_pm: ["am", "pm"],
    eras: ["BC", "AD"],
};

const DE_MONTHS: [&str; 12] = [
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
];
const DE_NAMES: DateNames = DateNames {
    months: DE_MONTHS,
    standalone_months: DE_MONTHS,
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
const FR_MONTHS: [&str; 12] = [
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
];
const FR_NAMES: DateNames = DateNames {
    months: FR_MONTHS,
    standalone_months: FR_MONTHS,
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
const HU_MONTHS: [&str; 12] = [
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
];
const HU_NAMES: DateNames = DateNames {
    months: HU_MONTHS,
    standalone_months: HU_MONTHS,
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
    standalone_months: JA_MONTHS,
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

const IT_SHORT_MONTHS: [&str; 12] = [
    "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
];
const IT_MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];
const IT_NAMES: DateNames = DateNames {
    months: IT_MONTHS,
    standalone_months: IT_MONTHS,
    short_months: IT_SHORT_MONTHS,
    standalone_short_months: IT_SHORT_MONTHS,
    weekdays: [
        "domenica",
        "luned\u{ec}",
        "marted\u{ec}",
        "mercoled\u{ec}",
        "gioved\u{ec}",
        "venerd\u{ec}",
        "sabato",
    ],
    short_weekdays: ["dom", "lun", "mar", "mer", "gio", "ven", "sab"],
    am_pm: ["AM", "PM"],
    eras: ["a.C.", "d.C."],
};

const ES_SHORT_MONTHS: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
];
const ES_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const ES_NAMES: DateNames = DateNames {
    months: ES_MONTHS,
    standalone_months: ES_MONTHS,
    short_months: ES_SHORT_MONTHS,
    standalone_short_months: ES_SHORT_MONTHS,
    weekdays: [
        "domingo",
        "lunes",
        "martes",
        "mi\u{e9}rcoles",
        "jueves",
        "viernes",
        "s\u{e1}bado",
    ],
    short_weekdays: ["dom", "lun", "mar", "mi\u{e9}", "jue", "vie", "s\u{e1}b"],
    am_pm: ["a.\u{a0}m.", "p.\u{a0}m."],
    eras: ["a. C.", "d. C."],
};

const PT_SHORT_MONTHS: [&str; 12] = [
    "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez.",
];
const PT_MONTHS: [&str; 12] = [
    "janeiro",
    "fevereiro",
    "mar\u{e7}o",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
];
const PT_NAMES: DateNames = DateNames {
    months: PT_MONTHS,
    standalone_months: PT_MONTHS,
    short_months: PT_SHORT_MONTHS,
    standalone_short_months: PT_SHORT_MONTHS,
    weekdays: [
        "domingo",
        "segunda-feira",
        "ter\u{e7}a-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "s\u{e1}bado",
    ],
    short_weekdays: ["dom.", "seg.", "ter.", "qua.", "qui.", "sex.", "s\u{e1}b."],
    am_pm: ["AM", "PM"],
    eras: ["a.C.", "d.C."],
};

const SV_SHORT_MONTHS: [&str; 12] = [
    "jan.", "feb.", "mars", "apr.", "maj", "juni", "juli", "aug.", "sep.", "okt.", "nov.", "dec.",
];
const SV_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];
const SV_NAMES: DateNames = DateNames {
    months: SV_MONTHS,
    standalone_months: SV_MONTHS,
    short_months: SV_SHORT_MONTHS,
    standalone_short_months: SV_SHORT_MONTHS,
    weekdays: [
        "s\u{f6}ndag",
        "m\u{e5}ndag",
        "tisdag",
        "onsdag",
        "torsdag",
        "fredag",
        "l\u{f6}rdag",
    ],
    short_weekdays: [
        "s\u{f6}n", "m\u{e5}n", "tis", "ons", "tors", "fre", "l\u{f6}r",
    ],
    am_pm: ["fm", "em"],
    eras: ["f.Kr.", "e.Kr."],
};

const FR_CA_SHORT_MONTHS: [&str; 12] = [
    "janv.",
    "f\u{e9}vr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juill.",
    "ao\u{fb}t",
    "sept.",
    "oct.",
    "nov.",
    "d\u{e9}c.",
];
/// fr_CA: French names with Canadian abbreviations ("juill.") and "a.m."/"p.m.".
const FR_CA_NAMES: DateNames = DateNames {
    short_months: FR_CA_SHORT_MONTHS,
    standalone_short_months: FR_CA_SHORT_MONTHS,
    am_pm: ["a.m.", "p.m."],
    ..FR_NAMES
};

const NL_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];
const NL_SHORT_MONTHS: [&str; 12] = [
    "jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.", "dec.",
];
const NL_NAMES: DateNames = DateNames {
    months: NL_MONTHS,
    standalone_months: NL_MONTHS,
    short_months: NL_SHORT_MONTHS,
    standalone_short_months: NL_SHORT_MONTHS,
    weekdays: [
        "zondag",
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
    ],
    short_weekdays: ["zo", "ma", "di", "wo", "do", "vr", "za"],
    am_pm: ["a.m.", "p.m."],
    eras: ["v.Chr.", "n.Chr."],
};

const PL_SHORT_MONTHS: [&str; 12] = [
    "sty",
    "lut",
    "mar",
    "kwi",
    "maj",
    "cze",
    "lip",
    "sie",
    "wrz",
    "pa\u{17a}",
    "lis",
    "gru",
];
/// Polish months are genitive inside a date ("24 pa\u{17a}dziernika") and nominative alone.
const PL_NAMES: DateNames = DateNames {
    months: [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "wrze\u{15b}nia",
        "pa\u{17a}dziernika",
        "listopada",
        "grudnia",
    ],
    standalone_months: [
        "stycze\u{144}",
        "luty",
        "marzec",
        "kwiecie\u{144}",
        "maj",
        "czerwiec",
        "lipiec",
        "sierpie\u{144}",
        "wrzesie\u{144}",
        "pa\u{17a}dziernik",
        "listopad",
        "grudzie\u{144}",
    ],
    short_months: PL_SHORT_MONTHS,
    standalone_short_months: PL_SHORT_MONTHS,
    weekdays: [
        "niedziela",
        "poniedzia\u{142}ek",
        "wtorek",
        "\u{15b}roda",
        "czwartek",
        "pi\u{105}tek",
        "sobota",
    ],
    short_weekdays: ["niedz.", "pon.", "wt.", "\u{15b}r.", "czw.", "pt.", "sob."],
    am_pm: ["AM", "PM"],
    eras: ["p.n.e.", "n.e."],
};

const IT_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE d MMMM y", "d MMMM y", "d MMM y", "dd/MM/yy"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} {0}", "{1} {0}", "{1}, {0}", "{1}, {0}"],
};
const ES_PATTERNS: DatePatterns = DatePatterns {
    date: [
        "EEEE, d 'de' MMMM 'de' y",
        "d 'de' MMMM 'de' y",
        "d MMM y",
        "d/M/yy",
    ],
    time: ["H:mm:ss (zzzz)", "H:mm:ss z", "H:mm:ss", "H:mm"],
    date_time: ["{1}, {0}", "{1}, {0}", "{1} {0}", "{1} {0}"],
};
const PT_BR_PATTERNS: DatePatterns = DatePatterns {
    date: [
        "EEEE, d 'de' MMMM 'de' y",
        "d 'de' MMMM 'de' y",
        "d 'de' MMM 'de' y",
        "dd/MM/y",
    ],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} {0}", "{1} {0}", "{1} {0}", "{1} {0}"],
};
const SV_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE d MMMM y", "d MMMM y", "d MMM y", "y-MM-dd"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} {0}", "{1} {0}", "{1} {0}", "{1} {0}"],
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

const FR_CA_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE d MMMM y", "d MMMM y", "d MMM y", "y-MM-dd"],
    time: [
        "HH 'h' mm 'min' ss 's' zzzz",
        "HH 'h' mm 'min' ss 's' z",
        "HH 'h' mm 'min' ss 's'",
        "HH 'h' mm",
    ],
    date_time: FR_PATTERNS.date_time,
};
const NL_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE d MMMM y", "d MMMM y", "d MMM y", "dd-MM-y"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} 'om' {0}", "{1} 'om' {0}", "{1} {0}", "{1} {0}"],
};
const PL_PATTERNS: DatePatterns = DatePatterns {
    date: ["EEEE, d MMMM y", "d MMMM y", "d MMM y", "dd.MM.y"],
    time: ["HH:mm:ss zzzz", "HH:mm:ss z", "HH:mm:ss", "HH:mm"],
    date_time: ["{1} {0}", "{1} {0}", "{1}, {0}", "{1}, {0}"],
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
            ("fr", _) => d(",", "\u{202f}", eur, suffix_cur, pct_nb),
            ("it", _) => d(",", ".", eur, suffix_cur, pct),
            ("es", "MX") => d(".", ",", ("$", "MXN"), "\u{a4}#,##0.00", pct_nb),
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
            ("zh", _) => d(".", ",", ("\u{a5}", "CNY"), "\u{a4}#,##0.00", pct),
            ("ko", _) => d(".", ",", ("\u{20a9}", "KRW"), "\u{a4}#,##0", pct),
            ("ja", "JP") => d(".", ",", ("\u{ffe5}", "JPY"), "\u{a4}#,##0", pct),
            ("ja", _) => d(".", ",", ("\u{a4}", "XXX"), "\u{a4}#,##0.00", pct),
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

    /// Whether this is English with British-style dates (en_GB and similar).
    fn is_en_gb_like(&self) -> bool {
        self.language == "en" && matches!(self.country.as_str(), "GB")
    }

    /// Date names (oracle-checked for en_US, en_GB, de_DE, fr_FR, fr_CA, hu_HU, ja_JP, it_IT,
    /// es_ES, pt_BR, sv_SE, nl_NL, pl_PL); other languages get en_US names.
    pub fn date_names(&self) -> &'static DateNames {
        match self.language.as_str() {
            "de" => &DE_NAMES,
            "fr" if self.country == "CA" => &FR_CA_NAMES,
            "fr" => &FR_NAMES,
            "nl" => &NL_NAMES,
            "pl" => &PL_NAMES,
            "hu" => &HU_NAMES,
            "ja" => &JA_NAMES,
            "it" => &IT_NAMES,
            "es" => &ES_NAMES,
            "pt" => &PT_NAMES,
            "sv" => &SV_NAMES,
            "en" if self.is_en_gb_like() => &EN_GB_NAMES,
            _ => &EN_US_NAMES,
        }
    }

    /// Date/time style patterns; other languages get en_US patterns.
    pub fn date_patterns(&self) -> &'static DatePatterns {
        match self.language.as_str() {
            "de" => &DE_PATTERNS,
            "fr" if self.country == "CA" => &FR_CA_PATTERNS,
            "fr" => &FR_PATTERNS,
            "nl" => &NL_PATTERNS,
            "pl" => &PL_PATTERNS,
            "hu" => &HU_PATTERNS,
            "ja" => &JA_PATTERNS,
            "it" => &IT_PATTERNS,
            "es" => &ES_PATTERNS,
            "pt" => &PT_BR_PATTERNS,
            "sv" => &SV_PATTERNS,
            "en" if self.is_en_gb_like() => &EN_GB_PATTERNS,
            _ => &EN_US_PATTERNS,
        }
    }

    /// (first day of week, 1 = Sunday; minimal days in the first week) for `w`, `W`, `Y`.
    pub fn week_rules(&self) -> (u32, u32) {
        match self.language.as_str() {
            "fr" if self.country == "CA" => (1, 1),
            "de" | "fr" | "hu" | "it" | "es" | "sv" | "nl" | "pl" | "pt"
                if self.country != "BR" =>
            {
                (2, 4)
            }
            "en" if self.is_en_gb_like() => (2, 4),
            _ => (1, 1),
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
