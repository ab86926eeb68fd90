//! Time zones as Java's `TimeZone.getTimeZone` resolves them (IANA ids through chrono-tz, `UTC`,
//! `GMT`, custom `GMT+hh:mm` ids, and GMT for anything unknown), with the short and long names
//! Java 17 (CLDR) prints for `z` / `zzzz`.

use chrono::{NaiveDateTime, Offset, TimeZone as _};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::locale::Locale;
use super::FormatError;

/// A resolved time zone; cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    id: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A fixed offset in seconds (`UTC`, `GMT`, `GMT+02:00`).
    Fixed(i32),
    Named(Tz),
}

/// The offset in force at one instant, with what `z`/`zzzz` need.
#[derive(Clone, Copy, Debug)]
pub struct ZoneOffset {
    pub seconds: i32,
    pub dst: bool,
}

impl TimeZone {
    /// Resolves an id like Java: IANA names (`Europe/Budapest`), `UTC`, `GMT`, `GMT+2`,
    /// `GMT-05:30`, `GMT+0530`. An unknown id silently becomes GMT, as in Java; only an empty
    /// id is an error.
    pub fn parse(name: &str) -> Result<TimeZone, FormatError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(FormatError::new("Empty time zone id"));
        }
        if name == "UTC" || name == "GMT" {
            return Ok(TimeZone {
                id: name.into(),
                kind: Kind::Fixed(0),
            });
        }
        if let Some(rest) = name.strip_prefix("GMT") {
            if let Some(secs) = parse_custom_offset(rest) {
                return Ok(TimeZone::fixed(secs));
            }
        }
        match name.parse::<Tz>() {
            Ok(tz) => Ok(TimeZone {
                id: name.into(),
                kind: Kind::Named(tz),
            }),
            Err(_) => Ok(TimeZone {
                id: "GMT".into(),
                kind: Kind::Fixed(0),
            }),
        }
    }

    /// UTC, the sink's default `time_zone`.
    pub fn utc() -> TimeZone {
        TimeZone {
            id: "UTC".into(),
            kind: Kind::Fixed(0),
        }
    }

    /// A custom zone `GMT±hh:mm` (Java's normalized id for a fixed offset).
    pub fn fixed(seconds: i32) -> TimeZone {
        TimeZone {
            id: custom_id(seconds),
            kind: Kind::Fixed(seconds),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The offset at an instant.
    pub fn offset_at(&self, epoch_ms: i64) -> ZoneOffset {
        match self.kind {
            Kind::Fixed(s) => ZoneOffset {
                seconds: s,
                dst: false,
            },
            Kind::Named(tz) => {
                let secs = epoch_ms.div_euclid(1000);
                match chrono::DateTime::from_timestamp(secs, 0) {
                    Some(utc) => {
                        let off = tz.offset_from_utc_datetime(&utc.naive_utc());
                        ZoneOffset {
                            seconds: off.fix().local_minus_utc(),
                            dst: !off.dst_offset().is_zero(),
                        }
                    }
                    None => ZoneOffset {
                        seconds: 0,
                        dst: false,
                    },
                }
            }
        }
    }

    /// The offset for a local wall-clock time (for parsing); in a gap or overlap the earlier
    /// offset wins, like Java's lenient calendar.
    pub fn offset_for_local(&self, local_ms: i64) -> i32 {
        match self.kind {
            Kind::Fixed(s) => s,
            Kind::Named(tz) => {
                let secs = local_ms.div_euclid(1000);
                let Some(naive) = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
                else {
                    return 0;
                };
                match tz.offset_from_local_datetime(&naive) {
                    chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(a, _) => a.fix().local_minus_utc(),
                    chrono::LocalResult::None => {
                        let before: NaiveDateTime = naive - chrono::Duration::hours(3);
                        tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                    }
                }
            }
        }
    }

    /// The `z` (short) or `zzzz` (long) name at an instant.
    pub fn display_name(&self, epoch_ms: i64, long: bool, locale: &Locale) -> String {
        let off = self.offset_at(epoch_ms);
        if let Some(names) = self.metazone() {
            if names.0 == "UTC" && long {
                return utc_long_name(locale).into();
            }
            let i = if off.dst { 1 } else { 0 };
            let pair = if long { names.1 } else { names.0 };
            let name = pair.split('|').nth(i).unwrap_or(pair);
            return name.into();
        }
        if let Kind::Named(tz) = self.kind {
            if !long {
                if let Some(secs_ok) =
                    chrono::DateTime::from_timestamp(epoch_ms.div_euclid(1000), 0)
                {
                    let o = tz.offset_from_utc_datetime(&secs_ok.naive_utc());
                    if let Some(abbr) = o.abbreviation() {
                        if abbr.chars().all(|c| c.is_ascii_alphabetic()) {
                            return abbr.into();
                        }
                    }
                }
            }
        }
        custom_id(off.seconds)
    }

    /// (short "std|dst", long "std|dst") names of the CLDR metazone of well-known zones.
    fn metazone(&self) -> Option<(&'static str, &'static str)> {
        let id = self.id.as_str();
        let utc = ("UTC", "Coordinated Universal Time");
        let gmt = ("GMT", "Greenwich Mean Time");
        Some(match id {
            "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu"
            | "Zulu" => utc,
            "GMT" | "Etc/GMT" | "Etc/Greenwich" | "Greenwich" | "Etc/GMT0" | "GMT0"
            | "Etc/GMT+0" | "Etc/GMT-0" => gmt,
            "Europe/London" => ("GMT|BST", "Greenwich Mean Time|British Summer Time"),
            "Europe/Dublin" => ("GMT|IST", "Greenwich Mean Time|Irish Standard Time"),
            "Europe/Lisbon" | "WET" | "Atlantic/Canary" | "Atlantic/Madeira" => (
                "WET|WEST",
                "Western European Standard Time|Western European Summer Time",
            ),
            "CET"
            | "Europe/Berlin"
            | "Europe/Budapest"
            | "Europe/Paris"
            | "Europe/Rome"
            | "Europe/Madrid"
            | "Europe/Vienna"
            | "Europe/Amsterdam"
            | "Europe/Brussels"
            | "Europe/Prague"
            | "Europe/Warsaw"
            | "Europe/Stockholm"
            | "Europe/Oslo"
            | "Europe/Copenhagen"
            | "Europe/Zurich"
            | "Europe/Belgrade"
            | "Europe/Bratislava"
            | "Europe/Ljubljana"
            | "Europe/Zagreb"
            | "Europe/Luxembourg"
            | "Europe/Monaco"
            | "Europe/Malta"
            | "Europe/Andorra"
            | "Europe/Tirane"
            | "Europe/Sarajevo"
            | "Europe/Skopje"
            | "Europe/Podgorica"
            | "Europe/Vaduz"
            | "Europe/San_Marino"
            | "Europe/Vatican"
            | "Europe/Gibraltar"
            | "Africa/Ceuta"
            | "Arctic/Longyearbyen"
            | "Europe/Busingen"
            | "MET" => (
                "CET|CEST",
                "Central European Standard Time|Central European Summer Time",
            ),
            "EET" | "Europe/Athens" | "Europe/Helsinki" | "Europe/Kiev" | "Europe/Kyiv"
            | "Europe/Bucharest" | "Europe/Sofia" | "Europe/Riga" | "Europe/Tallinn"
            | "Europe/Vilnius" | "Europe/Chisinau" | "Asia/Nicosia" | "Europe/Nicosia"
            | "Asia/Beirut" | "Africa/Cairo" | "Europe/Mariehamn" => (
                "EET|EEST",
                "Eastern European Standard Time|Eastern European Summer Time",
            ),
            "Europe/Moscow" => ("MSK|MSK", "Moscow Standard Time|Moscow Summer Time"),
            "America/New_York"
            | "America/Detroit"
            | "America/Toronto"
            | "America/Montreal"
            | "EST5EDT"
            | "US/Eastern"
            | "America/Indiana/Indianapolis"
            | "America/Kentucky/Louisville"
            | "EST" => ("EST|EDT", "Eastern Standard Time|Eastern Daylight Time"),
            "America/Chicago"
            | "US/Central"
            | "CST6CDT"
            | "America/Winnipeg"
            | "America/Mexico_City" => ("CST|CDT", "Central Standard Time|Central Daylight Time"),
            "America/Denver" | "US/Mountain" | "MST7MDT" | "America/Edmonton"
            | "America/Phoenix" | "MST" => {
                ("MST|MDT", "Mountain Standard Time|Mountain Daylight Time")
            }
            "America/Los_Angeles"
            | "US/Pacific"
            | "PST8PDT"
            | "America/Vancouver"
            | "America/Tijuana" => ("PST|PDT", "Pacific Standard Time|Pacific Daylight Time"),
            "Asia/Tokyo" | "Japan" => ("JST|JDT", "Japan Standard Time|Japan Daylight Time"),
            "Asia/Kolkata" | "Asia/Calcutta" => {
                ("IST|IST", "India Standard Time|India Standard Time")
            }
            "Asia/Shanghai" | "PRC" | "Asia/Chongqing" => {
                ("CST|CDT", "China Standard Time|China Daylight Time")
            }
            "Australia/Sydney"
            | "Australia/Melbourne"
            | "Australia/Canberra"
            | "Australia/Hobart"
            | "Australia/ACT"
            | "Australia/NSW"
            | "Australia/Victoria" => (
                "AEST|AEDT",
                "Australian Eastern Standard Time|Australian Eastern Daylight Time",
            ),
            _ => return None,
        })
    }
}

fn utc_long_name(locale: &Locale) -> &'static str {
    // oracle: ${d?time?string.full} with locale=de_DE/fr_FR/hu_HU/ja_JP
    match locale.language() {
        "de" => "Koordinierte Weltzeit",
        "fr" => "Temps universel coordonn\u{e9}",
        "hu" => "koordin\u{e1}lt vil\u{e1}gid\u{151}",
        "ja" => "\u{5354}\u{5b9a}\u{4e16}\u{754c}\u{6642}",
        _ => "Coordinated Universal Time",
    }
}

/// `GMT+05:30` style id of a fixed offset (Java's normalized custom id).
pub fn custom_id(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.unsigned_abs() / 60;
    format!("GMT{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Java's custom zone id after `GMT`: `+h`, `+hh`, `+hhmm`, `+hh:mm`, `+h:mm` (hours <= 23).
fn parse_custom_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2 => (h, m),
        Some(_) => return None,
        None => match rest.len() {
            1 | 2 => (rest, "0"),
            4 => (&rest[..2], &rest[2..]),
            _ => return None,
        },
    };
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_zone_ids() {
        // oracle: time_zone=GMT+5 -> z prints GMT+05:00; GMT-0130 -> GMT-01:30; Foo/Bar and
        // UTC+01:00 -> GMT (unknown ids fall back to GMT)
        assert_eq!(TimeZone::parse("GMT+5").unwrap().id(), "GMT+05:00");
        assert_eq!(TimeZone::parse("GMT-0130").unwrap().id(), "GMT-01:30");
        assert_eq!(
            TimeZone::parse("GMT+02:00").unwrap().offset_at(0).seconds,
            7200
        );
        assert_eq!(TimeZone::parse("Foo/Bar").unwrap().id(), "GMT");
        assert_eq!(TimeZone::parse("UTC+01:00").unwrap().id(), "GMT");
        assert!(TimeZone::parse("").is_err());
    }

    #[test]
    fn names_follow_dst() {
        let en = Locale::en_us();
        let bud = TimeZone::parse("Europe/Budapest").unwrap();
        // oracle: Europe/Budapest, 2022-01-31 -> "CET Central European Standard Time +0100";
        // 2022-07-05 -> "CEST Central European Summer Time +0200"
        assert_eq!(bud.display_name(1_643_659_621_795, false, &en), "CET");
        assert_eq!(
            bud.display_name(1_657_000_000_000, true, &en),
            "Central European Summer Time"
        );
        assert_eq!(bud.offset_at(1_657_000_000_000).seconds, 7200);
        // oracle: America/New_York 2022-07-05 -> EDT, Eastern Daylight Time
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(ny.display_name(1_657_000_000_000, false, &en), "EDT");
        assert_eq!(
            TimeZone::utc().display_name(0, true, &en),
            "Coordinated Universal Time"
        );
    }
}
