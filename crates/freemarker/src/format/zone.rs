//! Time zones as Java's `TimeZone.getTimeZone` resolves them (IANA ids through chrono-tz, `UTC`,
//! `GMT`, custom `GMT+hh:mm` ids, and GMT for anything unknown), with the short and long names
//! Java 17 (CLDR) prints for `z` / `zzzz`.

use std::time::{SystemTime, UNIX_EPOCH};

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

/// chrono-tz's transition tables end in 2099, while Java keeps applying a zone's last rule.
/// For a later instant, the same moment in a year of 2072..2099 with the same calendar (leap
/// year and weekday of January 1), whose transitions fall on the same dates.
fn same_calendar_before_2100(epoch_ms: i64) -> Option<i64> {
    use super::calendar::{days_from_gregorian, gregorian_from_days, weekday, DAY_MS};
    let days = epoch_ms.div_euclid(DAY_MS);
    let (y, _, _) = gregorian_from_days(days);
    if y < 2100 {
        return None;
    }
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let jan1 = days_from_gregorian(y, 1, 1);
    let reference = (2072..2100)
        .find(|r| leap(*r) == leap(y) && weekday(days_from_gregorian(*r, 1, 1)) == weekday(jan1))?;
    Some(epoch_ms - (jan1 - days_from_gregorian(reference, 1, 1)) * DAY_MS)
}

/// 1900-01-01T00:00:00Z: Java's time zone data starts here.
const UTC_1900_MS: i64 = -2_208_988_800_000;

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

    /// The offset at an instant. Like Java's `ZoneInfo`, which drops transitions before 1900,
    /// earlier instants get the zone's present standard offset (no local mean time).
    pub fn offset_at(&self, epoch_ms: i64) -> ZoneOffset {
        if let (Kind::Named(tz), true) = (self.kind, epoch_ms < UTC_1900_MS) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            // Java's standard offset; tzdb's negative DST (Europe/Dublin's winter GMT is
            // "IST minus one hour") is Java's standard time (oracle: Dublin in 1890 is +00:00)
            let negative = negative_dst_in_year(tz, now).unwrap_or(0);
            let seconds = chrono_offset(tz, now)
                .map_or(0, |o| o.base_utc_offset().num_seconds() as i32 + negative);
            return ZoneOffset {
                seconds,
                dst: false,
            };
        }
        if let Some(shifted) = same_calendar_before_2100(epoch_ms) {
            return self.offset_at(shifted);
        }
        match self.kind {
            Kind::Fixed(s) => ZoneOffset {
                seconds: s,
                dst: false,
            },
            Kind::Named(tz) => match chrono_offset(tz, epoch_ms) {
                Some(off) => {
                    let dst = off.dst_offset().num_seconds();
                    ZoneOffset {
                        seconds: off.fix().local_minus_utc(),
                        // Java (tzdb "rearguard" data) sees tzdb's negative DST the other way
                        // round: Dublin's winter is standard time, its summer IST is daylight
                        dst: dst > 0 || (dst == 0 && negative_dst_nearby(tz, epoch_ms)),
                    }
                }
                None => ZoneOffset {
                    seconds: 0,
                    dst: false,
                },
            },
        }
    }

    /// The offset for a local wall-clock time (for parsing); in a gap or overlap the earlier
    /// offset wins, like Java's lenient calendar.
    pub fn offset_for_local(&self, local_ms: i64) -> i32 {
        match self.kind {
            Kind::Fixed(s) => s,
            Kind::Named(_) if local_ms < UTC_1900_MS => self.offset_at(local_ms).seconds,
            Kind::Named(_) if same_calendar_before_2100(local_ms).is_some() => {
                let shifted = same_calendar_before_2100(local_ms).unwrap_or(local_ms);
                self.offset_for_local(shifted)
            }
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

    /// The `z` (short) or `zzzz` (long) name at an instant in the locale's names (Java's, from
    /// `date_data`). Zones outside the metazone rows get tzdb's alphabetic abbreviation or
    /// `GMT±hh:mm`.
    pub fn display_name(&self, epoch_ms: i64, long: bool, locale: &Locale) -> String {
        let off = self.offset_at(epoch_ms);
        if let Some(meta) = self.metazone() {
            let names = locale.zone_names()[meta];
            return names[usize::from(long) * 2 + usize::from(off.dst)].into();
        }
        if let Kind::Named(tz) = self.kind {
            if !long {
                let at = epoch_ms.div_euclid(1000);
                if let Some(utc) = chrono::DateTime::from_timestamp(at, 0) {
                    let o = tz.offset_from_utc_datetime(&utc.naive_utc());
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

    /// The row of the locales' zone names (`date_data::ZoneNames`) for well-known zones (the CLDR
    /// metazone they belong to).
    pub(super) fn metazone(&self) -> Option<usize> {
        Some(match self.id.as_str() {
            "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu"
            | "Zulu" => 0,
            "GMT" | "Etc/GMT" | "Etc/Greenwich" | "Greenwich" | "Etc/GMT0" | "GMT0"
            | "Etc/GMT+0" | "Etc/GMT-0" => 1,
            "Europe/London" => 2,
            "Europe/Dublin" => 3,
            "Europe/Lisbon" | "WET" | "Atlantic/Canary" | "Atlantic/Madeira" => 4,
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
            | "MET" => 5,
            "EET" | "Europe/Athens" | "Europe/Helsinki" | "Europe/Kiev" | "Europe/Kyiv"
            | "Europe/Bucharest" | "Europe/Sofia" | "Europe/Riga" | "Europe/Tallinn"
            | "Europe/Vilnius" | "Europe/Chisinau" | "Asia/Nicosia" | "Europe/Nicosia"
            | "Asia/Beirut" | "Africa/Cairo" | "Europe/Mariehamn" => 6,
            "Europe/Moscow" => 7,
            "America/New_York"
            | "America/Detroit"
            | "America/Toronto"
            | "America/Montreal"
            | "EST5EDT"
            | "US/Eastern"
            | "America/Indiana/Indianapolis"
            | "America/Kentucky/Louisville"
            | "EST" => 8,
            "America/Chicago" | "US/Central" | "CST6CDT" | "America/Winnipeg" => 9,
            "America/Denver" | "US/Mountain" | "MST7MDT" | "America/Edmonton"
            | "America/Phoenix" | "MST" => 10,
            "America/Los_Angeles"
            | "US/Pacific"
            | "PST8PDT"
            | "America/Vancouver"
            | "America/Tijuana" => 11,
            "Asia/Tokyo" | "Japan" => 12,
            "Asia/Kolkata" | "Asia/Calcutta" => 13,
            "Asia/Shanghai" | "PRC" | "Asia/Chongqing" => 14,
            "Australia/Sydney"
            | "Australia/Melbourne"
            | "Australia/Canberra"
            | "Australia/Hobart"
            | "Australia/ACT"
            | "Australia/NSW"
            | "Australia/Victoria" => 15,
            // one zone each (names from Java 17 per zone)
            "America/Sao_Paulo" | "Brazil/East" => 16,
            "America/Argentina/Buenos_Aires" | "America/Buenos_Aires" => 17,
            "America/Bogota" => 18,
            "America/Lima" => 19,
            "America/Santiago" | "Chile/Continental" => 20,
            "America/Mexico_City" | "Mexico/General" => 21,
            "America/Halifax" | "Canada/Atlantic" => 22,
            "America/St_Johns" | "Canada/Newfoundland" => 23,
            "America/Anchorage" | "US/Alaska" => 24,
            "Pacific/Honolulu" | "US/Hawaii" => 25,
            "Asia/Singapore" | "Singapore" => 26,
            "Asia/Hong_Kong" | "Hongkong" => 27,
            "Asia/Taipei" | "ROC" => 28,
            "Asia/Seoul" | "ROK" => 29,
            "Asia/Manila" => 30,
            "Asia/Jakarta" => 31,
            "Asia/Bangkok" => 32,
            "Asia/Ho_Chi_Minh" | "Asia/Saigon" => 33,
            "Asia/Dubai" => 34,
            "Asia/Karachi" => 35,
            "Asia/Dhaka" => 36,
            "Asia/Kathmandu" | "Asia/Katmandu" => 37,
            "Asia/Tehran" | "Iran" => 38,
            "Asia/Jerusalem" | "Asia/Tel_Aviv" | "Israel" => 39,
            "Europe/Istanbul" | "Asia/Istanbul" | "Turkey" => 40,
            "Africa/Johannesburg" => 41,
            "Africa/Lagos" => 42,
            "Africa/Nairobi" => 43,
            "Australia/Perth" | "Australia/West" => 44,
            "Australia/Adelaide" | "Australia/South" => 45,
            "Australia/Brisbane" | "Australia/Queensland" => 46,
            "Pacific/Auckland" | "NZ" => 47,
            "Atlantic/Reykjavik" | "Iceland" => 48,
            "America/Caracas" => 49,
            _ => return None,
        })
    }
}

/// (standard, daylight) offsets in seconds of each metazone row (see `metazone`), for parsing names.
const ZONE_OFFSETS: [(i32, i32); 50] = [
    (0, 0),
    (0, 0),
    (0, 3600),
    (0, 3600),
    (0, 3600),
    (3600, 7200),
    (7200, 10800),
    (10800, 10800),
    (-18000, -14400),
    (-21600, -18000),
    (-25200, -21600),
    (-28800, -25200),
    (32400, 32400),
    (19800, 19800),
    (28800, 28800),
    (36000, 39600),
    (-10800, -10800),
    (-10800, -10800),
    (-18000, -18000),
    (-18000, -18000),
    (-14400, -10800),
    (-21600, -21600),
    (-14400, -10800),
    (-12600, -9000),
    (-32400, -28800),
    (-36000, -36000),
    (28800, 28800),
    (28800, 28800),
    (28800, 28800),
    (32400, 32400),
    (28800, 28800),
    (25200, 25200),
    (25200, 25200),
    (25200, 25200),
    (14400, 14400),
    (18000, 18000),
    (21600, 21600),
    (20700, 20700),
    (12600, 12600),
    (7200, 10800),
    (10800, 10800),
    (7200, 7200),
    (3600, 3600),
    (10800, 10800),
    (28800, 28800),
    (34200, 37800),
    (36000, 36000),
    (43200, 46800),
    (0, 0),
    (-14400, -14400),
];

/// The metazone rows in the order Java's `DateFormatSymbols.getZoneStrings()` first lists one
/// of their zones; `SimpleDateFormat` takes the first zone whose name matches (oracle: "IST" is
/// Israel's, "CST" US Central).
const PARSE_ORDER: [usize; 50] = [
    11, 10, 9, 8, 25, 24, 22, 23, 5, 1, 39, 12, 6, 14, 0, 36, 34, 29, 30, 33, 28, 38, 42, 19, 32,
    31, 35, 13, 37, 3, 4, 2, 7, 43, 18, 27, 26, 49, 44, 20, 15, 47, 16, 48, 45, 46, 41, 21, 17, 40,
];

/// The zone name at `pos` (ignoring case) in `locale`'s names: (offset seconds, length in
/// chars). Like Java, the formatter's own zone `current` is tried first, then UTC (the JVM's
/// default zone), then the rows in [`PARSE_ORDER`]; within a row the longest name wins.
pub fn match_zone_name(
    t: &[char],
    pos: usize,
    current: &TimeZone,
    locale: &Locale,
) -> Option<(i32, usize)> {
    let rows = current
        .metazone()
        .into_iter()
        .chain(std::iter::once(0))
        .chain(PARSE_ORDER.iter().copied());
    for row in rows {
        let mut best: Option<(i32, usize)> = None;
        {
            for (k, name) in locale.zone_names()[row].iter().enumerate() {
                let len = name.chars().count();
                if len == 0 || pos + len > t.len() || best.is_some_and(|(_, l)| l >= len) {
                    continue;
                }
                let hit = name
                    .chars()
                    .zip(&t[pos..pos + len])
                    .all(|(a, b)| a == *b || a.to_lowercase().eq(b.to_lowercase()));
                if hit && !name.starts_with("GMT") {
                    let (std, dst) = ZONE_OFFSETS[row];
                    best = Some((if k % 2 == 0 { std } else { dst }, len));
                }
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

/// chrono-tz's offset at an instant (whole seconds), if the instant is representable.
fn chrono_offset(tz: Tz, epoch_ms: i64) -> Option<<Tz as chrono::TimeZone>::Offset> {
    let utc = chrono::DateTime::from_timestamp(epoch_ms.div_euclid(1000), 0)?;
    Some(tz.offset_from_utc_datetime(&utc.naive_utc()))
}

/// About half a year, in ms: the other season.
const HALF_YEAR_MS: i64 = 182 * 86_400_000;

/// Whether tzdb gives the zone a negative DST (Dublin's winter) half a year before or after.
fn negative_dst_nearby(tz: Tz, epoch_ms: i64) -> bool {
    [epoch_ms - HALF_YEAR_MS, epoch_ms + HALF_YEAR_MS]
        .into_iter()
        .any(|t| chrono_offset(tz, t).is_some_and(|o| o.dst_offset().num_seconds() < 0))
}

/// The most negative DST (seconds) tzdb gives the zone in the year from `epoch_ms` on, if any
/// (sampled monthly; Casablanca's is only during Ramadan).
fn negative_dst_in_year(tz: Tz, epoch_ms: i64) -> Option<i32> {
    (0..12)
        .filter_map(|m| chrono_offset(tz, epoch_ms + m * 30 * 86_400_000))
        .map(|o| o.dst_offset().num_seconds() as i32)
        .filter(|d| *d < 0)
        .min()
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

    #[test]
    fn names_in_other_locales() {
        // oracle: locale=de_DE, Europe/Budapest in January -> "MEZ Mitteleurop\u00e4ische Normalzeit";
        // en_GB, America/New_York -> "GMT-05:00 Eastern Standard Time"
        let bud = TimeZone::parse("Europe/Budapest").unwrap();
        let de = Locale::parse("de_DE").unwrap();
        assert_eq!(bud.display_name(1_643_659_621_795, false, &de), "MEZ");
        assert_eq!(
            bud.display_name(1_643_659_621_795, true, &de),
            "Mitteleurop\u{e4}ische Normalzeit"
        );
        let ny = TimeZone::parse("America/New_York").unwrap();
        let gb = Locale::parse("en_GB").unwrap();
        assert_eq!(ny.display_name(1_643_659_621_795, false, &gb), "GMT-05:00");
    }

    #[test]
    fn before_1900_the_standard_offset_applies() {
        // oracle: Europe/Budapest, -5838701818029 (1784) -> "+01:00" (no local mean time);
        // Asia/Kolkata at -2198000000000 (1900-05-08) -> "+05:21" (tzdb history from 1900 on)
        let bud = TimeZone::parse("Europe/Budapest").unwrap();
        assert_eq!(bud.offset_at(-5_838_701_818_029).seconds, 3600);
        let kol = TimeZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(kol.offset_at(-2_198_000_000_000).seconds / 60, 321);
    }

    #[test]
    fn daylight_saving_continues_after_2099() {
        // oracle: America/New_York, 2100-03-15T12:00Z -> "2100-03-15 08:00 -04:00" (Java keeps
        // applying the last rule; chrono-tz's tables stop in 2099)
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(ny.offset_at(4_108_795_200_000).seconds, -4 * 3600);
        // oracle: 2500-10-28T12:00Z -> -04:00
        assert_eq!(ny.offset_at(16_751_188_800_000).seconds, -4 * 3600);
    }
}
