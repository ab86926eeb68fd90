//! FreeMarker's own ISO 8601 and XML Schema date formats: `?iso_utc`, `?iso_local`, `?iso(...)`,
//! `date_format="iso ms"`, `"xs nz"`, ... and their parsing (`?datetime.iso`, `?date.xs`).
//! These use the proleptic Gregorian calendar (unlike SimpleDateFormat's Julian switch).

use std::sync::OnceLock;

use regex::Regex;

use super::calendar::{days_from_gregorian, gregorian_from_days, DAY_MS};
use super::date::DateKind;
use super::zone::TimeZone;
use super::FormatError;

/// How much of the time is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accuracy {
    Hours,
    Minutes,
    Seconds,
    /// Milliseconds only when not zero, without trailing zeros (`.5`, `.05`): `?iso_utc_ms`,
    /// and the default of the `iso`/`xs` format strings.
    MillisOptional,
    /// Always three digits (`.000`): the `ms` option of `iso`/`xs` format strings.
    Millis,
}

/// Whether the offset is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneMode {
    /// ISO: with times and date-times, not with dates. XS: always.
    Auto,
    /// `nz` / `?iso_..._nz`.
    Never,
    /// `fz`: also with ISO dates.
    Force,
}

/// A compiled `iso ...` / `xs ...` format string, or the options of an `?iso...` built-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoOptions {
    /// XML Schema flavour (dates carry offsets, years have no 0).
    pub xs: bool,
    pub accuracy: Accuracy,
    pub zone: ZoneMode,
    /// `u`: print in UTC whatever the time zone setting.
    pub utc: bool,
}

impl IsoOptions {
    /// Parses `iso`, `xs`, `iso ms`, `xs nz`, `iso_u`, `iso m fz`; `None` when `spec` is not an
    /// ISO/XS format at all, `Err` when its options are malformed (message as FreeMarker's).
    pub fn parse(spec: &str) -> Option<Result<IsoOptions, FormatError>> {
        let (xs, rest) = if let Some(r) = spec.strip_prefix("iso") {
            (false, r)
        } else if let Some(r) = spec.strip_prefix("xs") {
            (true, r)
        } else {
            return None;
        };
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('_')) {
            return None;
        }
        let prefix_len = spec.len() - rest.len();
        let mut opts = IsoOptions {
            xs,
            accuracy: Accuracy::MillisOptional,
            zone: ZoneMode::Auto,
            utc: false,
        };
        let err = |msg: String| {
            Some(Err(FormatError::new(format!(
                "Can't create date/time/datetime format based on format string \"{spec}\". Reason given: {msg}"
            ))))
        };
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b' ' && bytes[i] != b'_' {
                return err(format!(
                    "Missing space or \"_\" before \"{}\" (at char pos. {}).",
                    rest[i..].chars().next().unwrap_or(' '),
                    prefix_len + i + 1
                ));
            }
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'_') {
                i += 1;
            }
            if i >= bytes.len() {
                break;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            // the longest known option that the word starts with
            let word = &rest[start..i];
            let known = ["ms", "nz", "fz", "h", "m", "s", "u"];
            let Some(opt) = known.iter().find(|k| word.starts_with(**k)) else {
                return err(format!(
                    "Unexpected character, \"{}\". Expected the beginning of one of: h, m, s, ms, nz, fz, u (at char pos. {}).",
                    rest[start..].chars().next().unwrap_or(' '),
                    prefix_len + start + 1
                ));
            };
            i = start + opt.len();
            match *opt {
                "h" => opts.accuracy = Accuracy::Hours,
                "m" => opts.accuracy = Accuracy::Minutes,
                "s" => opts.accuracy = Accuracy::Seconds,
                "ms" => opts.accuracy = Accuracy::Millis,
                "nz" => opts.zone = ZoneMode::Never,
                "fz" => opts.zone = ZoneMode::Force,
                _ => opts.utc = true,
            }
        }
        Some(Ok(opts))
    }
}

/// Formats an instant of kind `kind` (date only, time only, or both) in `tz` (UTC if `opts.utc`).
pub fn format_iso(epoch_ms: i64, kind: DateKind, tz: &TimeZone, opts: &IsoOptions) -> String {
    let utc = TimeZone::utc();
    let tz = if opts.utc { &utc } else { tz };
    let offset = tz.offset_at(epoch_ms).seconds;
    // Wide, so an instant near either end of the `i64` range cannot overflow with its offset
    let local = i128::from(epoch_ms) + i128::from(offset) * 1000;
    let days = local.div_euclid(i128::from(DAY_MS)) as i64;
    let ms_of_day = local.rem_euclid(i128::from(DAY_MS)) as i64;
    let date_part = kind != DateKind::Time;
    let time_part = kind != DateKind::Date;
    // oracle: "iso fz" still prints ISO dates without an offset
    let zone_part = match opts.zone {
        ZoneMode::Never => false,
        ZoneMode::Force | ZoneMode::Auto => time_part || opts.xs,
    };
    let mut out = String::new();
    if date_part {
        let (mut y, m, d) = gregorian_from_days(days);
        if opts.xs && y <= 0 {
            y -= 1;
        }
        if (0..=9999).contains(&y) {
            out.push_str(&format!("{y:04}"));
        } else {
            out.push_str(&y.to_string());
        }
        out.push_str(&format!("-{m:02}-{d:02}"));
    }
    if time_part {
        if date_part {
            out.push('T');
        }
        let h = ms_of_day / 3_600_000;
        let mi = ms_of_day / 60_000 % 60;
        let s = ms_of_day / 1000 % 60;
        let ms = ms_of_day % 1000;
        out.push_str(&format!("{h:02}"));
        if opts.accuracy != Accuracy::Hours {
            out.push_str(&format!(":{mi:02}"));
        }
        if !matches!(opts.accuracy, Accuracy::Hours | Accuracy::Minutes) {
            out.push_str(&format!(":{s:02}"));
        }
        match opts.accuracy {
            Accuracy::Millis => out.push_str(&format!(".{ms:03}")),
            Accuracy::MillisOptional if ms != 0 => {
                let frac = format!("{ms:03}");
                out.push('.');
                out.push_str(frac.trim_end_matches('0'));
            }
            _ => {}
        }
    }
    if zone_part {
        if offset == 0 {
            out.push('Z');
        } else {
            // oracle: local mean time offsets keep their seconds (Asia/Kolkata in 1900:
            // "+05:21:10"), as FreeMarker's DateUtil prints them
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60));
            if abs % 60 != 0 {
                out.push_str(&format!(":{:02}", abs % 60));
            }
        }
    }
    out
}

struct IsoRegexes {
    iso_date: Regex,
    iso_time: Regex,
    iso_date_time: Regex,
    xs_date: Regex,
    xs_time: Regex,
    xs_date_time: Regex,
}

fn regexes() -> &'static IsoRegexes {
    static R: OnceLock<IsoRegexes> = OnceLock::new();
    R.get_or_init(|| {
        // oracle: "+2022-01-31" and an extended time with "+0100" are refused
        let zone = r"(Z|[+-]\d\d(?::\d\d)?)?";
        let basic_zone = r"(Z|[+-]\d\d(?:\d\d)?)?";
        // oracle: XML Schema offsets need minutes ("1999-12-28+01"?date.xs fails)
        let xs_zone = r"(Z|[+-]\d\d:\d\d)?";
        let ext_date = r"(-?\d{4,})-(\d\d)-(\d\d)";
        let basic_date = r"(-?\d{4,})(\d\d)(\d\d)";
        let ext_time = r"(\d\d)(?::(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?";
        let basic_time = r"(\d\d)(?:(\d\d)(?:(\d\d)(?:[.,](\d+))?)?)?";
        // constant patterns, covered by the tests below; never built from input
        let build = |s: String| Regex::new(&s).expect("ISO date regex is valid");
        IsoRegexes {
            iso_date: build(format!("^(?:{ext_date}|{basic_date})$")),
            iso_time: build(format!("^(?:{ext_time}{zone}|{basic_time}{basic_zone})$")),
            iso_date_time: build(format!(
                "^(?:{ext_date}T{ext_time}{zone}|{basic_date}T{basic_time}{basic_zone})$"
            )),
            xs_date: build(format!(r"^(-?\d{{4,}})-(\d\d)-(\d\d){xs_zone}$")),
            xs_time: build(format!(r"^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?{xs_zone}$")),
            xs_date_time: build(format!(
                r"^(-?\d{{4,}})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?{xs_zone}$"
            )),
        }
    })
}

/// What FreeMarker calls the expected format in its parse error message.
fn expected_name(kind: DateKind, xs: bool) -> &'static str {
    match (xs, kind) {
        (false, DateKind::Date) => "ISO 8601 (subset) date",
        (false, DateKind::Time) => "ISO 8601 (subset) time",
        (false, _) => "ISO 8601 (subset) date-time",
        (true, DateKind::Date) => "W3C XML Schema date",
        (true, DateKind::Time) => "W3C XML Schema time",
        (true, _) => "W3C XML Schema dateTime",
    }
}

/// Parses an ISO 8601 (`xs == false`) or XML Schema string of kind `kind`; a missing offset
/// means `tz`.
pub fn parse_iso(s: &str, kind: DateKind, xs: bool, tz: &TimeZone) -> Result<i64, FormatError> {
    let fail = || {
        FormatError::new(format!(
            "The string doesn't match the expected date/time/date-time format. The string to parse was: \"{s}\". The expected format was: \"{}\".",
            expected_name(kind, xs)
        ))
    };
    let r = regexes();
    let re = match (xs, kind) {
        (false, DateKind::Date) => &r.iso_date,
        (false, DateKind::Time) => &r.iso_time,
        (false, _) => &r.iso_date_time,
        (true, DateKind::Date) => &r.xs_date,
        (true, DateKind::Time) => &r.xs_time,
        (true, _) => &r.xs_date_time,
    };
    let caps = re.captures(s).ok_or_else(fail)?;
    // the capture groups that matched, in order (alternations leave the others empty)
    let groups: Vec<Option<&str>> = caps.iter().skip(1).map(|m| m.map(|m| m.as_str())).collect();
    let has_zone = kind != DateKind::Date || xs;
    let width = match kind {
        DateKind::Date => 3,
        DateKind::Time => 4,
        _ => 7,
    };
    // each alternative of the regex is `width` fields plus (maybe) the offset; take the one that matched
    let alt_width = width + usize::from(has_zone);
    let alt = groups
        .chunks(alt_width)
        .find(|a| a.first().is_some_and(|g| g.is_some()))
        .ok_or_else(fail)?;
    let zone_text = if has_zone { alt[width] } else { None };
    let n = |o: Option<&str>| -> Result<i64, FormatError> {
        match o {
            None => Ok(0),
            // ints, as FreeMarker's `Integer.parseInt`: a longer year is malformed
            Some(t) => t.parse::<i32>().map(i64::from).map_err(|_| fail()),
        }
    };
    let (date, time): (&[Option<&str>], &[Option<&str>]) = match kind {
        DateKind::Date => (&alt[..3], &[]),
        DateKind::Time => (&[], &alt[..4]),
        _ => (&alt[..3], &alt[3..7]),
    };
    let mut days = 0;
    if !date.is_empty() {
        let mut y = n(date[0])?;
        if xs && y == 0 {
            // XML Schema has no year 0
            return Err(fail());
        }
        if xs && y < 0 {
            y += 1;
        }
        let m = n(date[1])?;
        let d = n(date[2])?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(fail());
        }
        days = days_from_gregorian(y, m as u32, d);
        let (_, m2, _) = gregorian_from_days(days);
        if m2 != m as u32 {
            return Err(fail());
        }
    }
    let mut ms_of_day = 0;
    if !time.is_empty() {
        let h = n(time[0])?;
        let mi = n(time[1])?;
        let sec = n(time[2])?;
        let ms = match time[3] {
            Some(f) => {
                let mut digits: String = f.chars().take(3).collect();
                while digits.len() < 3 {
                    digits.push('0');
                }
                digits.parse::<i64>().map_err(|_| fail())?
            }
            None => 0,
        };
        if h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi != 0 || sec != 0 || ms != 0)) {
            return Err(fail());
        }
        ms_of_day = ((h * 60 + mi) * 60 + sec) * 1000 + ms;
    }
    let local = days
        .checked_mul(DAY_MS)
        .and_then(|ms| ms.checked_add(ms_of_day))
        .ok_or_else(fail)?;
    let offset = match zone_text {
        Some("Z") => 0,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
            let h: i64 = digits
                .get(..2)
                .and_then(|d| d.parse().ok())
                .ok_or_else(fail)?;
            let m: i64 = digits.get(2..4).and_then(|d| d.parse().ok()).unwrap_or(0);
            if h > 23 || m > 59 {
                return Err(fail());
            }
            sign * (h * 3600 + m * 60)
        }
        None => tz.offset_for_local(local) as i64,
    };
    local.checked_sub(offset * 1000).ok_or_else(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_643_659_621_795; // 2022-01-31T20:07:01.795Z

    fn opts(spec: &str) -> IsoOptions {
        IsoOptions::parse(spec).unwrap().unwrap()
    }

    #[test]
    fn iso_builtins_and_format_strings() {
        let utc = TimeZone::utc();
        let bud = TimeZone::parse("Europe/Budapest").unwrap();
        let secs = IsoOptions {
            xs: false,
            accuracy: Accuracy::Seconds,
            zone: ZoneMode::Auto,
            utc: true,
        };
        // oracle: ?iso_utc -> 2022-01-31T20:07:01Z; ?date?iso_utc -> 2022-01-31; ?time?iso_utc -> 20:07:01Z
        assert_eq!(
            format_iso(MS, DateKind::DateTime, &bud, &secs),
            "2022-01-31T20:07:01Z"
        );
        assert_eq!(format_iso(MS, DateKind::Date, &utc, &secs), "2022-01-31");
        assert_eq!(format_iso(MS, DateKind::Time, &utc, &secs), "20:07:01Z");
        // oracle: ?string.iso -> 2022-01-31T20:07:01.795Z; "iso m nz" -> 2022-01-31T20:07;
        // ?date?string.xs -> 2022-01-31Z; ?string("xs nz") -> 2022-01-31T20:07:01.795
        assert_eq!(
            format_iso(MS, DateKind::DateTime, &utc, &opts("iso")),
            "2022-01-31T20:07:01.795Z"
        );
        assert_eq!(
            format_iso(MS, DateKind::DateTime, &utc, &opts("iso m nz")),
            "2022-01-31T20:07"
        );
        assert_eq!(
            format_iso(MS, DateKind::Date, &utc, &opts("xs")),
            "2022-01-31Z"
        );
        assert_eq!(
            format_iso(MS, DateKind::DateTime, &utc, &opts("xs nz")),
            "2022-01-31T20:07:01.795"
        );
        // oracle: time_zone=Europe/Budapest ?string.iso -> 2022-01-31T21:07:01.795+01:00
        assert_eq!(
            format_iso(MS, DateKind::DateTime, &bud, &opts("iso")),
            "2022-01-31T21:07:01.795+01:00"
        );
        // oracle: 1643659621500 -> ...01.5Z; 1643659621050 -> ...01.05Z; "iso ms" of ...01.000 -> .000Z
        assert_eq!(
            format_iso(1_643_659_621_050, DateKind::DateTime, &utc, &opts("iso")),
            "2022-01-31T20:07:01.05Z"
        );
        assert_eq!(
            format_iso(1_643_659_621_000, DateKind::DateTime, &utc, &opts("iso ms")),
            "2022-01-31T20:07:01.000Z"
        );
        // oracle: -62198755200000 -> iso "-1-01-01T00:00:00Z", xs "-2-01-01T00:00:00Z";
        // 253402300800000 -> "10000-01-01T00:00:00Z"
        assert_eq!(
            format_iso(-62_198_755_200_000, DateKind::DateTime, &utc, &opts("iso")),
            "-1-01-01T00:00:00Z"
        );
        assert_eq!(
            format_iso(-62_198_755_200_000, DateKind::DateTime, &utc, &opts("xs")),
            "-2-01-01T00:00:00Z"
        );
        assert_eq!(
            format_iso(253_402_300_800_000, DateKind::DateTime, &utc, &opts("iso")),
            "10000-01-01T00:00:00Z"
        );
    }

    #[test]
    fn option_errors_match_freemarker() {
        // oracle: "iso_utc" -> Missing space or "_" before "t" (at char pos. 6).
        let e = IsoOptions::parse("iso_utc").unwrap().unwrap_err();
        assert!(
            e.to_string()
                .ends_with("Reason given: Missing space or \"_\" before \"t\" (at char pos. 6)."),
            "{e}"
        );
        // oracle: "iso xyz" -> Unexpected character, "x". Expected the beginning of one of: h, m, s, ms, nz, fz, u (at char pos. 5).
        let e = IsoOptions::parse("iso xyz").unwrap().unwrap_err();
        assert!(e.to_string().ends_with("(at char pos. 5)."), "{e}");
        assert!(IsoOptions::parse("isolation").is_none());
        assert_eq!(opts("iso_ms").accuracy, Accuracy::Millis);
    }

    #[test]
    fn parses_iso_subset() {
        let utc = TimeZone::utc();
        let p = |s: &str, k: DateKind, xs: bool| parse_iso(s, k, xs, &utc);
        // oracle: "2022-01-31T20:07:01.5+01:00"?datetime.iso -> 2022-01-31T19:07:01.5Z
        assert_eq!(
            p("2022-01-31T20:07:01.5+01:00", DateKind::DateTime, false).unwrap(),
            1_643_656_021_500
        );
        // oracle: "2022-01-31T20:07" -> 20:07:00Z; "20220131T200701Z" -> 20:07:01Z; "2022-01-31T20Z" -> 20:00:00Z
        assert_eq!(
            p("2022-01-31T20:07", DateKind::DateTime, false).unwrap(),
            1_643_659_620_000
        );
        assert_eq!(
            p("20220131T200701Z", DateKind::DateTime, false).unwrap(),
            1_643_659_621_000
        );
        assert_eq!(
            p("2022-01-31T20Z", DateKind::DateTime, false).unwrap(),
            1_643_659_200_000
        );
        // oracle: ",5" fraction -> .5; 9 fraction digits -> .123; T24:00:00Z -> next day
        assert_eq!(
            p("2022-01-31T20:07:01,5Z", DateKind::DateTime, false).unwrap(),
            1_643_659_621_500
        );
        assert_eq!(
            p("2022-01-31T20:07:01.123456789Z", DateKind::DateTime, false).unwrap(),
            1_643_659_621_123
        );
        assert_eq!(
            p("2022-01-31T24:00:00Z", DateKind::DateTime, false).unwrap(),
            1_643_673_600_000
        );
        // oracle: "2022-01-31"?datetime.iso and "2022-1-31T20:07:01" fail
        let e = p("2022-01-31", DateKind::DateTime, false).unwrap_err();
        assert_eq!(e.to_string(), "The string doesn't match the expected date/time/date-time format. The string to parse was: \"2022-01-31\". The expected format was: \"ISO 8601 (subset) date-time\".");
        assert!(p("2022-1-31T20:07:01", DateKind::DateTime, false).is_err());
        // oracle: "2022-01-31+02:00"?date.xs -> 2022-01-30 (UTC); xs date-time without zone uses the default zone
        assert_eq!(
            p("2022-01-31+02:00", DateKind::Date, true).unwrap(),
            1_643_580_000_000
        );
        assert_eq!(
            p("2022-01-31T20:07:01", DateKind::DateTime, true).unwrap(),
            1_643_659_621_000
        );
        assert_eq!(p("20:07:01Z", DateKind::Time, false).unwrap(), 72_421_000);
    }

    #[test]
    fn refuses_what_freemarker_refuses() {
        let utc = TimeZone::utc();
        // oracle: all of these fail to parse
        for (s, k, xs) in [
            ("+2022-01-31", DateKind::Date, false),
            ("2022-13-01", DateKind::Date, false),
            ("2022-02-30", DateKind::Date, false),
            ("2022-01-31T25:00:00Z", DateKind::DateTime, false),
            ("2022-01-31T20:07:01+25:00", DateKind::DateTime, false),
            ("2022-01-31T20:07:60Z", DateKind::DateTime, false),
            ("2022-01-31T20:07Z", DateKind::DateTime, true),
            ("20:07:01+0100", DateKind::Time, false),
            ("0000-01-01", DateKind::Date, true),
        ] {
            assert!(parse_iso(s, k, xs, &utc).is_err(), "{s}");
        }
        // oracle: "12022-01-31" ok; "2007Z" and "20:07Z" -> 20:07:00Z; "20:07:01+01" -> 19:07:01Z
        assert!(parse_iso("12022-01-31", DateKind::Date, false, &utc).is_ok());
        assert_eq!(
            parse_iso("2007Z", DateKind::Time, false, &utc).unwrap(),
            72_420_000
        );
        assert_eq!(
            parse_iso("20:07Z", DateKind::Time, false, &utc).unwrap(),
            72_420_000
        );
        assert_eq!(
            parse_iso("20:07:01+01", DateKind::Time, false, &utc).unwrap(),
            68_821_000
        );
        // oracle: "x"?time.xs -> expected format "W3C XML Schema time"
        let e = parse_iso("x", DateKind::Time, true, &utc).unwrap_err();
        assert!(e
            .to_string()
            .ends_with("The expected format was: \"W3C XML Schema time\"."));
    }

    #[test]
    fn xs_offsets_need_minutes() {
        // oracle: "1999-12-28+01"?date.xs and "23:00:00.123456+01"?time.xs fail
        let utc = TimeZone::utc();
        assert!(parse_iso("1999-12-28+01", DateKind::Date, true, &utc).is_err());
        assert!(parse_iso("23:00:00.123456+01", DateKind::Time, true, &utc).is_err());
        assert!(parse_iso("23:00:00.123456+01:00", DateKind::Time, true, &utc).is_ok());
    }
}
