//! Date/time formats as FreeMarker 2.3.31 on Java 17 uses them: `java.text.SimpleDateFormat`
//! patterns (format and lenient parse), the locale styles `short`/`medium`/`long`/`full`
//! (and `medium_short`-style pairs for date-times), and FreeMarker's `iso`/`xs` formats.

use std::time::{SystemTime, UNIX_EPOCH};

use super::calendar::{java_date, java_days_from_civil, week_fields, DAY_MS};
use super::iso::{format_iso, parse_iso, IsoOptions};
use super::locale::{DateNames, Locale};
use super::zone::TimeZone;
use super::FormatError;

/// Which parts of a date value are meaningful (FreeMarker's date type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateKind {
    Date,
    Time,
    DateTime,
    /// Not known (FreeMarker refuses to format these; the engine reports that).
    Unknown,
}

/// A date value: an instant plus its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateValue {
    pub epoch_ms: i64,
    pub kind: DateKind,
}

/// A compiled date format for one kind of value.
#[derive(Clone, Debug)]
pub struct DateFormat {
    /// What parse errors call the expected format: the SimpleDateFormat pattern (also for
    /// styles, e.g. "MMM d, y, h:mm:ss a") or the spec of an ISO/XS format.
    spec: String,
    kind: DateKind,
    imp: Imp,
}

#[derive(Clone, Debug)]
enum Imp {
    Iso(IsoOptions),
    Simple(SimplePattern),
}

#[derive(Clone, Debug)]
struct SimplePattern {
    items: Vec<Item>,
    locale: Locale,
    names: &'static DateNames,
    /// (first day of week, minimal days in first week)
    week: (u32, u32),
    /// The locale's minus sign, the only one Java's number parsing accepts.
    minus: char,
    /// Java prints stand-alone month names (like `LLLL`) when `M` is the pattern's only field.
    month_alone: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field(char, usize),
}

const PATTERN_LETTERS: &str = "GyMdkHmsSEDFwWahKzZYuXL";

fn style_index(s: &str) -> Option<usize> {
    match s {
        "full" => Some(0),
        "long" => Some(1),
        "medium" => Some(2),
        "short" => Some(3),
        _ => None,
    }
}

impl DateFormat {
    /// Compiles `spec` for values of `kind`: a style (`medium`, or `long_short` for date-times),
    /// `iso`/`xs` with options, or a SimpleDateFormat pattern. The error message is FreeMarker's
    /// ("Can't create date/time/datetime format based on format string ...").
    pub fn new(spec: &str, kind: DateKind, locale: &Locale) -> Result<DateFormat, FormatError> {
        let fail = |why: String| {
            FormatError::new(format!(
                "Can't create date/time/datetime format based on format string \"{spec}\". Reason given: {why}"
            ))
        };
        if let Some(opts) = IsoOptions::parse(spec) {
            return Ok(DateFormat {
                spec: spec.into(),
                kind,
                imp: Imp::Iso(opts?),
            });
        }
        let styles = if spec.is_empty() {
            Some("medium")
        } else {
            Some(spec)
        };
        let pattern: String = match styles.and_then(|s| style_pattern(s, kind, locale)) {
            Some(p) => p,
            None => spec.to_string(),
        };
        let items = compile(&pattern).map_err(fail)?;
        let month_alone = month_is_only_field(&items);
        Ok(DateFormat {
            spec: pattern,
            kind,
            imp: Imp::Simple(SimplePattern {
                items,
                locale: locale.clone(),
                names: locale.date_names(),
                week: locale.week_rules(),
                minus: locale.symbols().minus.chars().next().unwrap_or('-'),
                month_alone,
            }),
        })
    }

    /// Formats an instant in `tz`.
    pub fn format(&self, epoch_ms: i64, tz: &TimeZone) -> String {
        match &self.imp {
            Imp::Iso(opts) => format_iso(epoch_ms, self.kind, tz, opts),
            Imp::Simple(p) => p.format(epoch_ms, tz),
        }
    }

    /// Parses `s` (leniently, like Java: trailing text is ignored, out-of-range fields roll over);
    /// fields absent from the pattern default to 1970-01-01 00:00:00.000 in `tz`.
    pub fn parse(&self, s: &str, tz: &TimeZone) -> Result<i64, FormatError> {
        match &self.imp {
            Imp::Iso(opts) => parse_iso(s, self.kind, opts.xs, tz),
            Imp::Simple(p) => p.parse(s, tz).ok_or_else(|| {
                FormatError::new(format!(
                    "The string doesn't match the expected date/time/date-time format. The string to parse was: \"{s}\". The expected format was: \"{}\".",
                    self.spec
                ))
            }),
        }
    }
}

/// The SimpleDateFormat pattern of a style spec, or `None` if `spec` is not a style.
fn style_pattern(spec: &str, kind: DateKind, locale: &Locale) -> Option<String> {
    let p = locale.date_patterns();
    let (d, t) = match spec.split_once('_') {
        Some((a, b)) => (style_index(a)?, style_index(b)?),
        None => {
            let s = style_index(spec)?;
            (s, s)
        }
    };
    // oracle: for a date-only or time-only value a pair like "full_short" uses its first style;
    // date-times are joined by the pattern of the shorter of the two styles ("long_short" uses
    // ", ", "full_long" uses " 'at' ")
    Some(match kind {
        DateKind::Date => p.date[d].to_string(),
        DateKind::Time => p.time[d].to_string(),
        DateKind::DateTime | DateKind::Unknown => p.date_time[d.max(t)]
            .replace("{1}", p.date[d])
            .replace("{0}", p.time[t]),
    })
}

/// Whether the pattern has exactly one field and it is `M` ("MMMM", "MMM 'x'"): oracle, pl_PL:
/// "MMMM" -> "pa\u{17a}dziernik", "d MMMM" -> "5 pa\u{17a}dziernika"; de_DE: "MMM" -> "Okt".
fn month_is_only_field(items: &[Item]) -> bool {
    let mut fields = items.iter().filter_map(|i| match i {
        Item::Field(c, _) => Some(*c),
        Item::Literal(_) => None,
    });
    fields.next() == Some('M') && fields.next().is_none()
}

/// SimpleDateFormat's pattern compiler: letters are fields, `'...'` quotes, `''` is a quote;
/// any other ASCII letter is refused ("Illegal pattern character 'q'").
fn compile(pattern: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut items: Vec<Item> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let mut in_quote = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                lit.push('\'');
                i += 2;
                continue;
            }
            in_quote = !in_quote;
            i += 1;
            continue;
        }
        if in_quote || !c.is_ascii_alphabetic() {
            lit.push(c);
            i += 1;
            continue;
        }
        if !PATTERN_LETTERS.contains(c) {
            return Err(format!("Illegal pattern character '{c}'"));
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        if c == 'X' && n > 3 {
            return Err(format!("invalid ISO 8601 format: length={n}"));
        }
        if !lit.is_empty() {
            items.push(Item::Literal(std::mem::take(&mut lit)));
        }
        items.push(Item::Field(c, n));
        i += n;
    }
    if in_quote {
        return Err("Unterminated quote".into());
    }
    if !lit.is_empty() {
        items.push(Item::Literal(lit));
    }
    Ok(items)
}

fn pad(out: &mut String, v: i64, min: usize) {
    if v < 0 {
        out.push('-');
    }
    let s = v.unsigned_abs().to_string();
    for _ in s.len()..min {
        out.push('0');
    }
    out.push_str(&s);
}

fn push_offset(out: &mut String, seconds: i32, colon: bool, minutes: bool) {
    out.push(if seconds < 0 { '-' } else { '+' });
    let m = seconds.unsigned_abs() / 60;
    out.push_str(&format!("{:02}", m / 60));
    if minutes {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", m % 60));
    }
}

impl SimplePattern {
    fn format(&self, epoch_ms: i64, tz: &TimeZone) -> String {
        let off = tz.offset_at(epoch_ms);
        // Wide, so an instant near either end of the `i64` range cannot overflow with its offset
        let local = i128::from(epoch_ms) + i128::from(off.seconds) * 1000;
        let days = local.div_euclid(i128::from(DAY_MS)) as i64;
        let ms_of_day = local.rem_euclid(i128::from(DAY_MS)) as i64;
        let jd = java_date(days);
        let hour = ms_of_day / 3_600_000;
        let names = self.names;
        let mut out = String::new();
        for item in &self.items {
            let (c, n) = match item {
                Item::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Item::Field(c, n) => (*c, *n),
            };
            match c {
                'G' => out.push_str(names.eras[jd.era as usize]),
                'y' | 'Y' => {
                    let y = if c == 'y' {
                        jd.year
                    } else {
                        week_fields(days, self.week.0, self.week.1).2
                    };
                    if n == 2 {
                        pad(&mut out, y.rem_euclid(100), 2)
                    } else {
                        pad(&mut out, y, n)
                    }
                }
                'M' | 'L' => {
                    let m = jd.month as usize - 1;
                    let standalone = c == 'L' || self.month_alone;
                    if n >= 4 {
                        out.push_str(if standalone {
                            names.standalone_months[m]
                        } else {
                            names.months[m]
                        })
                    } else if n == 3 {
                        out.push_str(if standalone {
                            names.standalone_short_months[m]
                        } else {
                            names.short_months[m]
                        })
                    } else {
                        pad(&mut out, m as i64 + 1, n)
                    }
                }
                'd' => pad(&mut out, jd.day as i64, n),
                'D' => pad(&mut out, jd.day_of_year as i64, n),
                'F' => pad(&mut out, (jd.day as i64 - 1) / 7 + 1, n),
                'w' => pad(&mut out, week_fields(days, self.week.0, self.week.1).0, n),
                'W' => pad(&mut out, week_fields(days, self.week.0, self.week.1).1, n),
                'E' => {
                    let w = jd.weekday as usize - 1;
                    out.push_str(if n >= 4 {
                        names.weekdays[w]
                    } else {
                        names.short_weekdays[w]
                    })
                }
                'u' => pad(&mut out, (jd.weekday as i64 + 5) % 7 + 1, n),
                'a' => out.push_str(names.am_pm[usize::from(hour >= 12)]),
                'H' => pad(&mut out, hour, n),
                'k' => pad(&mut out, if hour == 0 { 24 } else { hour }, n),
                'K' => pad(&mut out, hour % 12, n),
                'h' => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                'm' => pad(&mut out, ms_of_day / 60_000 % 60, n),
                's' => pad(&mut out, ms_of_day / 1000 % 60, n),
                'S' => pad(&mut out, ms_of_day % 1000, n),
                'z' => out.push_str(&tz.display_name(epoch_ms, n >= 4, &self.locale)),
                'Z' => push_offset(&mut out, off.seconds, false, true),
                'X' => {
                    if off.seconds == 0 {
                        out.push('Z')
                    } else {
                        push_offset(&mut out, off.seconds, n == 3, n >= 2)
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Java's lenient `SimpleDateFormat.parse(String)`; `None` when the text does not match.
    fn parse(&self, text: &str, tz: &TimeZone) -> Option<i64> {
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0usize;
        let mut f = Parsed::default();
        for (k, item) in self.items.iter().enumerate() {
            match item {
                Item::Literal(lit) => {
                    for lc in lit.chars() {
                        if chars.get(pos) != Some(&lc) {
                            return None;
                        }
                        pos += 1;
                    }
                }
                Item::Field(c, n) => {
                    let next_numeric = match self.items.get(k + 1) {
                        Some(Item::Field(nc, nn)) => {
                            matches!(
                                nc,
                                'y' | 'Y'
                                    | 'd'
                                    | 'D'
                                    | 'F'
                                    | 'w'
                                    | 'W'
                                    | 'H'
                                    | 'k'
                                    | 'K'
                                    | 'h'
                                    | 'm'
                                    | 's'
                                    | 'S'
                                    | 'u'
                            ) || (matches!(nc, 'M' | 'L') && *nn <= 2)
                        }
                        _ => false,
                    };
                    pos = self.parse_field(&chars, pos, (*c, *n), next_numeric, &mut f, tz)?;
                }
            }
        }
        f.resolve(tz)
    }

    /// Parses one field (`c` repeated `n` times) at `pos`; returns the position after it.
    fn parse_field(
        &self,
        t: &[char],
        mut pos: usize,
        (c, n): (char, usize),
        obey_count: bool,
        f: &mut Parsed,
        tz: &TimeZone,
    ) -> Option<usize> {
        // Java limits an abutting field to `n` characters counted from before the skipped spaces
        let field_start = pos;
        while matches!(t.get(pos), Some(' ') | Some('\t')) {
            pos += 1;
        }
        let names = self.names;
        let minus = self.minus;
        let number = |pos: usize| -> Option<(i64, usize, usize)> {
            let end_limit = if obey_count { field_start + n } else { t.len() };
            if obey_count && end_limit > t.len() {
                return None;
            }
            let mut p = pos;
            // Java's number parser only knows the locale's minus sign (U+2212 in Swedish)
            let neg = t.get(p) == Some(&minus);
            if neg {
                p += 1;
            }
            let start = p;
            let mut v: i64 = 0;
            while p < end_limit && t[p].is_ascii_digit() {
                v = v
                    .saturating_mul(10)
                    .saturating_add(t[p] as i64 - '0' as i64);
                p += 1;
            }
            if p == start {
                return None;
            }
            // Java's calendar fields are ints (a longer number saturates, as Java's `intValue`
            // of the parsed double does), which also keeps the date arithmetic within `i64`
            let v = v.min(i64::from(i32::MAX));
            Some((if neg { -v } else { v }, p, p - start))
        };
        match c {
            'M' | 'L' if n >= 3 => {
                let (long, short) = if c == 'L' {
                    (names.standalone_months, names.standalone_short_months)
                } else {
                    (names.months, names.short_months)
                };
                let (i, len) =
                    match_names(t, pos, &long).or_else(|| match_names(t, pos, &short))?;
                f.month = Some(i as i64 + 1);
                Some(pos + len)
            }
            'E' => {
                let (_, len) = match_names(t, pos, &names.weekdays)
                    .or_else(|| match_names(t, pos, &names.short_weekdays))?;
                Some(pos + len)
            }
            'a' => {
                let (i, len) = match_names(t, pos, &names.am_pm)?;
                f.pm = Some(i == 1);
                Some(pos + len)
            }
            'G' => {
                let (i, len) = match_names(t, pos, &names.eras)?;
                f.bc = i == 0;
                Some(pos + len)
            }
            'z' | 'Z' | 'X' => {
                let (secs, end) = parse_zone(t, pos, c, n, tz, &self.locale)?;
                f.offset = Some(secs);
                Some(end)
            }
            _ => {
                let (v, end, digits) = number(pos)?;
                match c {
                    'y' => {
                        let all_digits = t[pos].is_ascii_digit();
                        f.year = Some(v);
                        f.ambiguous_year = n <= 2 && digits == 2 && all_digits;
                    }
                    'M' | 'L' => f.month = Some(v),
                    'd' => f.day = Some(v),
                    'D' => f.day_of_year = Some(v),
                    'H' => f.hour_of_day = Some(v),
                    'k' => f.hour_of_day = Some(if v == 24 { 0 } else { v }),
                    'K' => f.hour = Some(v),
                    'h' => f.hour = Some(if v == 12 { 0 } else { v }),
                    'm' => f.minute = Some(v),
                    's' => f.second = Some(v),
                    'S' => f.milli = Some(v),
                    // week-based fields are accepted but do not move the date (see module docs)
                    _ => {}
                }
                Some(end)
            }
        }
    }
}

/// The longest name matching at `pos`, ignoring case: (index, length in chars).
fn match_names(t: &[char], pos: usize, names: &[&str]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, name) in names.iter().enumerate() {
        let len = name.chars().count();
        if len == 0 || pos + len > t.len() {
            continue;
        }
        let matches = name
            .chars()
            .zip(&t[pos..pos + len])
            .all(|(a, b)| a == *b || a.to_lowercase().eq(b.to_lowercase()));
        if matches && best.is_none_or(|(_, l)| len > l) {
            best = Some((i, len));
        }
    }
    best
}

/// Zone text for `z`/`Z` (`GMT`, `GMT+hh:mm`, `+hhmm`, known names) or `X` (`Z`, `+hh`,
/// `+hhmm`, `+hh:mm` by count): (offset seconds, end).
fn parse_zone(
    t: &[char],
    pos: usize,
    c: char,
    n: usize,
    tz: &TimeZone,
    locale: &Locale,
) -> Option<(i32, usize)> {
    let digits2 = |p: usize| -> Option<i32> {
        let a = t.get(p)?.to_digit(10)?;
        let b = t.get(p + 1)?.to_digit(10)?;
        Some((a * 10 + b) as i32)
    };
    let sign_at = |p: usize| match t.get(p) {
        Some('+') => Some(1),
        Some('-') => Some(-1),
        _ => None,
    };
    if c == 'X' {
        if t.get(pos) == Some(&'Z') {
            return Some((0, pos + 1));
        }
        let sign = sign_at(pos)?;
        let h = digits2(pos + 1)?;
        if h > 23 {
            return None;
        }
        let mut end = pos + 3;
        let mut m = 0;
        if n >= 2 {
            if n == 3 {
                if t.get(end) != Some(&':') {
                    return None;
                }
                end += 1;
            }
            m = digits2(end)?;
            end += 2;
        }
        return Some((sign * (h * 3600 + m * 60), end));
    }
    if let Some(sign) = sign_at(pos) {
        let h = digits2(pos + 1)?;
        let m = digits2(pos + 3)?;
        if h > 23 || m > 59 {
            return None;
        }
        return Some((sign * (h * 3600 + m * 60), pos + 5));
    }
    let rest: String = t[pos..].iter().collect();
    if rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("GMT")) {
        let p = pos + 3;
        if let Some(sign) = sign_at(p) {
            // GMT+h, GMT+hh, GMT+hh:mm, GMT+hhmm
            let mut q = p + 1;
            let mut h = t.get(q)?.to_digit(10)? as i32;
            q += 1;
            if let Some(d) = t.get(q).and_then(|c| c.to_digit(10)) {
                h = h * 10 + d as i32;
                q += 1;
            }
            let mut m = 0;
            if t.get(q) == Some(&':') {
                m = digits2(q + 1)?;
                q += 3;
            } else if let Some(mm) = digits2(q) {
                m = mm;
                q += 2;
            }
            if h > 23 || m > 59 {
                return None;
            }
            return Some((sign * (h * 3600 + m * 60), q));
        }
        return Some((0, p));
    }
    // the locale's zone names (std and daylight, short and long)
    let (offset, len) = super::zone::match_zone_name(t, pos, tz, locale)?;
    Some((offset, pos + len))
}

/// Fields collected by a parse, resolved like Java's lenient `GregorianCalendar`.
#[derive(Default, Debug)]
struct Parsed {
    bc: bool,
    year: Option<i64>,
    ambiguous_year: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour_of_day: Option<i64>,
    hour: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    milli: Option<i64>,
    offset: Option<i32>,
}

impl Parsed {
    fn resolve(&self, tz: &TimeZone) -> Option<i64> {
        let mut year = self.year.unwrap_or(1970);
        // Java's two-digit years: within 80 years before and 20 years after now; the one
        // two-digit value that can mean either century is decided after resolving the date
        let century_start = now_ms() - 80 * 3_652_425 * DAY_MS / 10_000;
        let century_start_year =
            super::calendar::gregorian_from_days(century_start.div_euclid(DAY_MS)).0;
        let mut borderline = false;
        if self.ambiguous_year {
            let two = century_start_year.rem_euclid(100);
            borderline = year == two;
            year += (century_start_year / 100) * 100 + if year < two { 100 } else { 0 };
        }
        let epoch = self.resolve_year(year, tz)?;
        if borderline && epoch < century_start {
            return self.resolve_year(year + 100, tz);
        }
        Some(epoch)
    }

    fn resolve_year(&self, mut year: i64, tz: &TimeZone) -> Option<i64> {
        if self.bc {
            year = 1 - year;
        }
        let days = match (self.day_of_year, self.month, self.day) {
            (Some(doy), None, None) => java_days_from_civil(year, 1, 1) + doy - 1,
            _ => java_days_from_civil(year, self.month.unwrap_or(1), self.day.unwrap_or(1)),
        };
        let hour = match self.hour_of_day {
            Some(h) => h,
            None => self.hour.unwrap_or(0) + if self.pm == Some(true) { 12 } else { 0 },
        };
        let ms_of_day = ((hour * 60 + self.minute.unwrap_or(0)) * 60 + self.second.unwrap_or(0))
            * 1000
            + self.milli.unwrap_or(0);
        let local = days.checked_mul(DAY_MS)?.checked_add(ms_of_day)?;
        let offset = match self.offset {
            Some(o) => o,
            None => tz.offset_for_local(local),
        };
        local.checked_sub(offset as i64 * 1000)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_643_659_621_795; // 2022-01-31T20:07:01.795Z, a Monday
    const JULY: i64 = 1_657_000_000_000; // 2022-07-05T05:46:40Z, a Tuesday

    fn fmt(spec: &str, kind: DateKind, locale: &str, ms: i64) -> String {
        DateFormat::new(spec, kind, &Locale::parse(locale).unwrap())
            .unwrap()
            .format(ms, &TimeZone::utc())
    }

    fn parse(spec: &str, kind: DateKind, s: &str) -> Result<i64, FormatError> {
        DateFormat::new(spec, kind, &Locale::en_us())
            .unwrap()
            .parse(s, &TimeZone::utc())
    }

    #[test]
    fn styles_en_us() {
        use DateKind::*;
        // oracle: ${d} / ?string.short / .long / .full of 2022-01-31T20:07:01.795Z, en_US, UTC
        assert_eq!(fmt("", DateTime, "en_US", MS), "Jan 31, 2022, 8:07:01 PM");
        assert_eq!(fmt("short", DateTime, "en_US", MS), "1/31/22, 8:07 PM");
        assert_eq!(
            fmt("long", DateTime, "en_US", MS),
            "January 31, 2022 at 8:07:01 PM UTC"
        );
        assert_eq!(
            fmt("full", DateTime, "en_US", MS),
            "Monday, January 31, 2022 at 8:07:01 PM Coordinated Universal Time"
        );
        assert_eq!(fmt("medium", Date, "en_US", MS), "Jan 31, 2022");
        assert_eq!(fmt("full", Date, "en_US", MS), "Monday, January 31, 2022");
        assert_eq!(fmt("medium", Time, "en_US", MS), "8:07:01 PM");
        // oracle: ?string.short_medium / .long_short / .full_long
        assert_eq!(
            fmt("short_medium", DateTime, "en_US", MS),
            "1/31/22, 8:07:01 PM"
        );
        assert_eq!(
            fmt("long_short", DateTime, "en_US", MS),
            "January 31, 2022, 8:07 PM"
        );
        assert_eq!(
            fmt("full_long", DateTime, "en_US", MS),
            "Monday, January 31, 2022 at 8:07:01 PM UTC"
        );
    }

    #[test]
    fn styles_other_locales() {
        use DateKind::*;
        // oracle: locale=de_DE / fr_FR / hu_HU / ja_JP / en_GB, same instant
        assert_eq!(fmt("short", DateTime, "de_DE", MS), "31.01.22, 20:07");
        assert_eq!(
            fmt("long", DateTime, "de_DE", MS),
            "31. Januar 2022 um 20:07:01 UTC"
        );
        assert_eq!(
            fmt("full", DateTime, "de_DE", MS),
            "Montag, 31. Januar 2022 um 20:07:01 Koordinierte Weltzeit"
        );
        assert_eq!(fmt("short", DateTime, "fr_FR", MS), "31/01/2022 20:07");
        assert_eq!(
            fmt("medium", DateTime, "fr_FR", MS),
            "31 janv. 2022, 20:07:01"
        );
        assert_eq!(
            fmt("medium", DateTime, "hu_HU", MS),
            "2022. jan. 31. 20:07:01"
        );
        assert_eq!(
            fmt("full", DateTime, "hu_HU", JULY),
            "2022. j\u{fa}lius 5., kedd 5:46:40 koordin\u{e1}lt vil\u{e1}gid\u{151}"
        );
        assert_eq!(
            fmt("full", DateTime, "ja_JP", JULY),
            "2022\u{5e74}7\u{6708}5\u{65e5}\u{706b}\u{66dc}\u{65e5} 5\u{6642}46\u{5206}40\u{79d2} \u{5354}\u{5b9a}\u{4e16}\u{754c}\u{6642}"
        );
        assert_eq!(
            fmt("medium", DateTime, "en_GB", MS),
            "31 Jan 2022, 20:07:01"
        );
        assert_eq!(fmt("short", Date, "en_GB", MS), "31/01/2022");
    }

    #[test]
    fn pattern_letters() {
        use DateKind::DateTime;
        // oracle: ${d?string("G y yy yyy yyyy yyyyy Y YY M MM MMM MMMM MMMMM L LL LLL LLLL")}
        assert_eq!(
            fmt(
                "G y yy yyy yyyy yyyyy Y YY M MM MMM MMMM MMMMM L LL LLL LLLL",
                DateTime,
                "en_US",
                MS
            ),
            "AD 2022 22 2022 2022 02022 2022 22 1 01 Jan January January 1 01 Jan January"
        );
        // oracle: "w ww W D DDD d dd F E EE EEE EEEE EEEEE u uu a H HH k K h hh m s S SS SSS SSSS"
        assert_eq!(
            fmt("w ww W D DDD d dd F E EE EEE EEEE EEEEE u uu a H HH k K h hh m s S SS SSS SSSS", DateTime, "en_US", MS),
            "6 06 6 31 031 31 31 5 Mon Mon Mon Monday Monday 1 01 PM 20 20 20 8 8 08 7 1 795 795 795 0795"
        );
        // oracle: "z zz zzz zzzz Z ZZ X XX XXX" -> UTC UTC UTC Coordinated Universal Time +0000 +0000 Z Z Z
        assert_eq!(
            fmt("z zz zzz zzzz Z ZZ X XX XXX", DateTime, "en_US", MS),
            "UTC UTC UTC Coordinated Universal Time +0000 +0000 Z Z Z"
        );
        // oracle: de_DE "G MMM MMMM LLL LLLL EEE EEEE a" -> n. Chr. Jan. Januar Jan Januar Mo. Montag PM
        assert_eq!(
            fmt("G MMM MMMM LLL LLLL EEE EEEE a", DateTime, "de_DE", MS),
            "n. Chr. Jan. Januar Jan Januar Mo. Montag PM"
        );
        // oracle: 2021-01-01 "w W F u Y": en_GB -> 53 0 1 5 2020
        assert_eq!(
            fmt("w W F u Y", DateTime, "en_GB", 1_609_459_200_000),
            "53 0 1 5 2020"
        );
        // oracle: Julian dates: -62135769600000 -> "AD 0001 01 1 January 01 Saturday 00:00"
        assert_eq!(
            fmt(
                "G yyyy yy y MMMM dd EEEE HH:mm",
                DateTime,
                "en_US",
                -62_135_769_600_000
            ),
            "AD 0001 01 1 January 01 Saturday 00:00"
        );
        // oracle: -62198755200000 -> "0002-01-03 BC"
        assert_eq!(
            fmt("yyyy-MM-dd G", DateTime, "en_US", -62_198_755_200_000),
            "0002-01-03 BC"
        );
    }

    #[test]
    fn zones_in_patterns() {
        let f = DateFormat::new("z zzzz Z X XX XXX", DateKind::DateTime, &Locale::en_us()).unwrap();
        // oracle: Asia/Kolkata -> "IST India Standard Time +0530 +05 +0530 +05:30"
        let tz = TimeZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(
            f.format(MS, &tz),
            "IST India Standard Time +0530 +05 +0530 +05:30"
        );
        // oracle: GMT+02:00 -> "GMT+02:00 GMT+02:00 +0200 +02 +0200 +02:00"
        let tz = TimeZone::parse("GMT+02:00").unwrap();
        assert_eq!(
            f.format(MS, &tz),
            "GMT+02:00 GMT+02:00 +0200 +02 +0200 +02:00"
        );
        // oracle: America/Los_Angeles in July -> "PDT Pacific Daylight Time -0700 -07 -0700 -07:00"
        let tz = TimeZone::parse("America/Los_Angeles").unwrap();
        assert_eq!(
            f.format(JULY, &tz),
            "PDT Pacific Daylight Time -0700 -07 -0700 -07:00"
        );
    }

    #[test]
    fn pattern_errors() {
        // oracle: Can't create date/time/datetime format based on format string "q". Reason given: Illegal pattern character 'q'
        let e = DateFormat::new("q", DateKind::DateTime, &Locale::en_us()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Can't create date/time/datetime format based on format string \"q\". Reason given: Illegal pattern character 'q'"
        );
        assert!(DateFormat::new("abc", DateKind::DateTime, &Locale::en_us()).is_err());
        assert!(DateFormat::new("'x", DateKind::DateTime, &Locale::en_us()).is_err());
    }

    #[test]
    fn lenient_parsing_like_java() {
        use DateKind::*;
        // oracle: "2022-02-28 20:07:01.795" with "yyyy-MM-dd HH:mm:ss.S" -> 2022-02-28T20:07:01.795Z;
        // ".5" -> .005 (S is a plain millisecond count); ".123000" -> 20:09:04Z
        let p = |s: &str| parse("yyyy-MM-dd HH:mm:ss.S", DateTime, s).unwrap();
        assert_eq!(p("2022-02-28 20:07:01.795"), 1_646_078_821_795);
        assert_eq!(p("2022-02-28 20:07:01.5"), 1_646_078_821_005);
        assert_eq!(p("2022-02-28 20:07:01.123000"), 1_646_078_944_000);
        // oracle: "2022-02-30 10:00:00" -> 2022-03-02T10:00:00Z; "2022-13-45 25:61:61" -> 2023-02-15T02:02:01Z
        let p = |s: &str| parse("yyyy-MM-dd HH:mm:ss", DateTime, s).unwrap();
        assert_eq!(p("2022-02-30 10:00:00"), 1_646_215_200_000);
        assert_eq!(p("2022-13-45 25:61:61"), 1_676_426_521_000);
        // oracle: trailing text ignored; "2022-2-8 1:2:3" -> 2022-02-08T01:02:03Z
        assert_eq!(p("2022-02-28 20:07:01 trailing"), 1_646_078_821_000);
        assert_eq!(p("2022-2-8 1:2:3"), 1_644_282_123_000);
        // oracle: "22-02-28" with yyyy-MM-dd -> 0022-02-26 (ISO; Julian calendar); with yy-MM-dd -> 2022-02-28
        assert_eq!(
            parse("yyyy-MM-dd", Date, "22-02-28").unwrap(),
            -61_468_070_400_000
        );
        assert_eq!(
            parse("yy-MM-dd", Date, "22-02-28").unwrap(),
            1_646_006_400_000
        );
        assert_eq!(
            parse("yy-MM-dd", Date, "1922-02-28").unwrap(),
            -1_509_753_600_000
        );
        // oracle: names ignore case; MMMM also accepts short names
        assert_eq!(
            parse("MMM d, yyyy", Date, "jAnUaRy 31, 2022").unwrap(),
            1_643_587_200_000
        );
        assert_eq!(
            parse("MMMM d, yyyy", Date, "Jan 31, 2022").unwrap(),
            1_643_587_200_000
        );
        // oracle: zones: "+0100" (Z) -> 19:07:01Z; "CET" (z) -> 19:07:01Z; "GMT+02:00" -> 18:07:01Z
        let p = |pat: &str, s: &str| parse(pat, DateTime, s).unwrap();
        assert_eq!(
            p(
                "EEE, d MMM yyyy HH:mm:ss Z",
                "Mon, 31 Jan 2022 20:07:01 +0100"
            ),
            1_643_656_021_000
        );
        assert_eq!(
            p(
                "EEE, d MMM yyyy HH:mm:ss z",
                "Mon, 31 Jan 2022 20:07:01 CET"
            ),
            1_643_656_021_000
        );
        assert_eq!(
            p(
                "EEE, d MMM yyyy HH:mm:ss z",
                "Tue, 31 Jan 2022 20:07:01 GMT+02:00"
            ),
            1_643_652_421_000
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ssXXX", "2022-01-31T20:07:01+01:00"),
            1_643_656_021_000
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ssZ", "2022-01-31T20:07:01-0530"),
            1_643_679_421_000
        );
        // oracle: abutting fields "yyyyMMddHHmmss": "20220131201501" -> 2022-01-31T20:15:01Z
        assert_eq!(p("yyyyMMddHHmmss", "20220131201501"), 1_643_660_101_000);
        // oracle: styles parse: "Jan 31, 2022, 8:07:01 PM"?datetime -> 20:07:01Z; "8:07 am" with "h:mm a" -> 08:07
        assert_eq!(
            parse("", DateTime, "Jan 31, 2022, 8:07:01 PM").unwrap(),
            1_643_659_621_000
        );
        assert_eq!(parse("h:mm a", Time, "8:07 am").unwrap(), 29_220_000);
        // oracle: leading spaces before a field are skipped
        assert_eq!(
            parse("yyyy-MM-dd", Date, "  2022-01-31").unwrap(),
            1_643_587_200_000
        );
    }

    #[test]
    fn parse_failures_name_the_pattern() {
        use DateKind::*;
        // oracle: The string doesn't match the expected date/time/date-time format. The string to parse
        // was: "2022-02-28". The expected format was: "yyyy-MM-dd HH:mm".
        let e = parse("yyyy-MM-dd HH:mm", DateTime, "2022-02-28").unwrap_err();
        assert_eq!(e.to_string(), "The string doesn't match the expected date/time/date-time format. The string to parse was: \"2022-02-28\". The expected format was: \"yyyy-MM-dd HH:mm\".");
        // oracle: these fail too
        for (pat, s) in [
            (" yyyy-MM-dd", "2022-01-31"),
            ("yyyy-MM-dd", "2022 01 31"),
            ("yyyy-MM-dd", "2022/01/31"),
            ("yyyy-MM-dd", "+2022-01-31"),
            ("yyyy", "x"),
        ] {
            assert!(parse(pat, Date, s).is_err(), "{pat} {s}");
        }
    }

    #[test]
    fn style_pairs() {
        use DateKind::*;
        // oracle: 1830792795871 "short_long" -> "1/6/28, 5:33:15 PM UTC" (joined by the shorter
        // style); a time value with "full_short" uses "full"
        assert_eq!(
            fmt("short_long", DateTime, "en_US", 1_830_792_795_871),
            "1/6/28, 5:33:15 PM UTC"
        );
        assert_eq!(
            fmt("full_short", Time, "en_US", 1_830_792_795_871),
            "5:33:15 PM Coordinated Universal Time"
        );
        // oracle: "iso fz" on a date value -> "2028-01-06" (no offset)
        assert_eq!(
            fmt("iso fz", Date, "en_US", 1_830_792_795_871),
            "2028-01-06"
        );
    }

    #[test]
    fn parsing_zone_names_and_abutting_fields() {
        use DateKind::*;
        let de = Locale::parse("de_DE").unwrap();
        let f = DateFormat::new("EEE, d MMM yyyy HH:mm:ss z", DateTime, &de).unwrap();
        // oracle: locale=de_DE "Mi., 2 Okt. 2019 18:02:27 MESZ" -> 1570032147000
        assert_eq!(
            f.parse("Mi., 2 Okt. 2019 18:02:27 MESZ", &TimeZone::utc())
                .unwrap(),
            1_570_032_147_000
        );
        // oracle: "full" in de_DE parses "... Koordinierte Weltzeit"
        let f = DateFormat::new("full", DateTime, &de).unwrap();
        assert_eq!(
            f.parse(
                "Mittwoch, 2. Oktober 2019 um 16:02:27 Koordinierte Weltzeit",
                &TimeZone::utc()
            )
            .unwrap(),
            1_570_032_147_000
        );
        // oracle: "  2022-01-31" with "yyyyMMddHHmmss" -> -61481113379000 (the 4-character year
        // field counts the leading spaces)
        assert_eq!(
            parse("yyyyMMddHHmmss", DateTime, "  2022-01-31").unwrap(),
            -61_481_113_379_000
        );
    }

    #[test]
    fn style_parse_errors_name_the_resolved_pattern() {
        // oracle: "x"?datetime -> ... The expected format was: "MMM d, y, h:mm:ss a".
        let e = parse("", DateKind::DateTime, "x").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("The expected format was: \"MMM d, y, h:mm:ss a\"."),
            "{e}"
        );
        let e = parse("short", DateKind::DateTime, "x").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("The expected format was: \"M/d/yy, h:mm a\"."),
            "{e}"
        );
    }

    #[test]
    fn more_locales() {
        use DateKind::*;
        // oracle: 2022-07-05T05:46:40Z, ?string.full / .short with locale=it_IT, es_ES, pt_BR, sv_SE
        assert_eq!(
            fmt("full", DateTime, "it_IT", JULY),
            "marted\u{ec} 5 luglio 2022 05:46:40 Tempo coordinato universale"
        );
        assert_eq!(
            fmt("full", DateTime, "es_ES", JULY),
            "martes, 5 de julio de 2022, 5:46:40 (tiempo universal coordinado)"
        );
        assert_eq!(fmt("short", DateTime, "es_ES", JULY), "5/7/22 5:46");
        assert_eq!(
            fmt("medium", DateTime, "pt_BR", JULY),
            "5 de jul. de 2022 05:46:40"
        );
        assert_eq!(fmt("short", DateTime, "sv_SE", JULY), "2022-07-05 05:46");
        // oracle: es_ES "a" -> "a.\u00a0m."
        assert_eq!(fmt("a", DateTime, "es_ES", JULY), "a.\u{a0}m.");
        // oracle: sv_SE "2022-02-28 20:07:01.795" with "yyyyMMddHHmmss" fails: '-' is not the
        // Swedish minus sign (U+2212), so "-0" is no month
        let sv = Locale::parse("sv_SE").unwrap();
        let f = DateFormat::new("yyyyMMddHHmmss", DateTime, &sv).unwrap();
        assert!(f
            .parse("2022-02-28 20:07:01.795", &TimeZone::utc())
            .is_err());
    }
}
