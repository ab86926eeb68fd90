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

    /// The `z` (short) or `zzzz` (long) name at an instant, in the locale's language where
    /// known (en_US, en_GB, de, fr, fr_CA, hu, ja, it, es, pt, sv, nl, pl; others get en_US names). Zones outside the table get
    /// tzdb's alphabetic abbreviation or `GMT±hh:mm`.
    pub fn display_name(&self, epoch_ms: i64, long: bool, locale: &Locale) -> String {
        let off = self.offset_at(epoch_ms);
        if let Some(meta) = self.metazone() {
            let loc = match (locale.language(), locale.country()) {
                ("en", "GB") => 1,
                ("de", _) => 2,
                ("fr", "CA") => 10,
                ("fr", _) => 3,
                ("hu", _) => 4,
                ("ja", _) => 5,
                ("it", _) => 6,
                ("es", _) => 7,
                ("pt", _) => 8,
                ("sv", _) => 9,
                ("nl", _) => 11,
                ("pl", _) => 12,
                _ => 0,
            };
            let names = ZONE_NAMES[meta][loc];
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

    /// The row of `ZONE_NAMES` for well-known zones (the CLDR metazone they belong to).
    fn metazone(&self) -> Option<usize> {
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
            _ => return None,
        })
    }
}

/// CLDR zone names as Java 17 prints them: [metazone][locale] = [short std, short dst, long std,
/// long dst]; locales in the order en_US, en_GB, de, fr, hu, ja, it, es, pt_BR, sv, fr_CA, nl, pl
/// (oracle-generated).
const ZONE_NAMES: [[[&str; 4]; 13]; 16] = [
    // UTC
    [
        ["UTC", "UTC", "Coordinated Universal Time", "Coordinated Universal Time"],
        ["UTC", "UTC", "Coordinated Universal Time", "Coordinated Universal Time"],
        ["UTC", "UTC", "Koordinierte Weltzeit", "Koordinierte Weltzeit"],
        ["UTC", "UTC", "Temps universel coordonn\u{e9}", "Temps universel coordonn\u{e9}"],
        ["UTC", "UTC", "koordin\u{e1}lt vil\u{e1}gid\u{151}", "koordin\u{e1}lt vil\u{e1}gid\u{151}"],
        ["UTC", "UTC", "\u{5354}\u{5b9a}\u{4e16}\u{754c}\u{6642}", "\u{5354}\u{5b9a}\u{4e16}\u{754c}\u{6642}"],
        ["UTC", "UTC", "Tempo coordinato universale", "Tempo coordinato universale"],
        ["UTC", "UTC", "tiempo universal coordinado", "tiempo universal coordinado"],
        ["UTC", "UTC", "Hor\u{e1}rio Universal Coordenado", "Hor\u{e1}rio Universal Coordenado"],
        ["UTC", "UTC", "koordinerad universell tid", "koordinerad universell tid"],
        ["UTC", "UTC", "temps universel coordonn\u{e9}", "temps universel coordonn\u{e9}"],
        ["UTC", "UTC", "geco\u{f6}rdineerde wereldtijd", "geco\u{f6}rdineerde wereldtijd"],
        ["UTC", "UTC", "uniwersalny czas koordynowany", "uniwersalny czas koordynowany"],
    ],
    // GMT
    [
        ["GMT", "GMT", "Greenwich Mean Time", "Greenwich Mean Time"],
        ["GMT", "GMT", "Greenwich Mean Time", "Greenwich Mean Time"],
        ["GMT", "GMT", "Mittlere Greenwich-Zeit", "Mittlere Greenwich-Zeit"],
        ["GMT", "GMT", "heure moyenne de Greenwich", "heure moyenne de Greenwich"],
        ["GMT", "GMT", "greenwichi k\u{f6}z\u{e9}pid\u{151}, t\u{e9}li id\u{151}", "greenwichi k\u{f6}z\u{e9}pid\u{151}, t\u{e9}li id\u{151}"],
        ["GMT", "GMT", "\u{30b0}\u{30ea}\u{30cb}\u{30c3}\u{30b8}\u{6a19}\u{6e96}\u{6642}", "\u{30b0}\u{30ea}\u{30cb}\u{30c3}\u{30b8}\u{6a19}\u{6e96}\u{6642}"],
        ["GMT", "GMT", "Ora del meridiano di Greenwich", "Ora del meridiano di Greenwich"],
        ["GMT", "GMT", "hora del meridiano de Greenwich", "hora del meridiano de Greenwich"],
        ["GMT", "GMT", "Hor\u{e1}rio do Meridiano de Greenwich", "Hor\u{e1}rio do Meridiano de Greenwich"],
        ["GMT", "GMT", "Greenwichtid", "Greenwichtid"],
        ["GMT", "GMT", "heure moyenne de Greenwich", "heure moyenne de Greenwich"],
        ["GMT", "GMT", "Greenwich Mean Time", "Greenwich Mean Time"],
        ["GMT", "GMT", "czas uniwersalny", "czas uniwersalny"],
    ],
    // Europe/London
    [
        ["GMT", "BST", "Greenwich Mean Time", "British Summer Time"],
        ["GMT", "BST", "Greenwich Mean Time", "British Summer Time"],
        ["GMT", "BST", "Mittlere Greenwich-Zeit", "Britische Sommerzeit"],
        ["GMT", "BST", "heure moyenne de Greenwich", "heure d\u{2019}\u{e9}t\u{e9} britannique"],
        ["GMT", "BST", "greenwichi k\u{f6}z\u{e9}pid\u{151}, t\u{e9}li id\u{151}", "brit ny\u{e1}ri id\u{151}"],
        ["GMT", "BST", "\u{30b0}\u{30ea}\u{30cb}\u{30c3}\u{30b8}\u{6a19}\u{6e96}\u{6642}", "\u{82f1}\u{56fd}\u{590f}\u{6642}\u{9593}"],
        ["GMT", "BST", "Ora del meridiano di Greenwich", "Ora legale del Regno Unito"],
        ["GMT", "BST", "hora del meridiano de Greenwich", "hora de verano brit\u{e1}nica"],
        ["GMT", "BST", "Hor\u{e1}rio do Meridiano de Greenwich", "Hor\u{e1}rio de Ver\u{e3}o Brit\u{e2}nico"],
        ["GMT", "BST", "Greenwichtid", "brittisk sommartid"],
        ["GMT", "BST", "heure moyenne de Greenwich", "heure avanc\u{e9}e britannique"],
        ["GMT", "BST", "Greenwich Mean Time", "Britse zomertijd"],
        ["GMT", "BST", "czas uniwersalny", "Brytyjski czas letni"],
    ],
    // Europe/Dublin
    [
        ["GMT", "IST", "Greenwich Mean Time", "Irish Standard Time"],
        ["GMT", "IST", "Greenwich Mean Time", "Irish Standard Time"],
        ["GMT", "IST", "Mittlere Greenwich-Zeit", "Irische Sommerzeit"],
        ["GMT", "IST", "heure moyenne de Greenwich", "heure d\u{2019}\u{e9}t\u{e9} irlandaise"],
        ["GMT", "IST", "greenwichi k\u{f6}z\u{e9}pid\u{151}, t\u{e9}li id\u{151}", "\u{ed}r ny\u{e1}ri id\u{151}"],
        ["GMT", "IST", "\u{30b0}\u{30ea}\u{30cb}\u{30c3}\u{30b8}\u{6a19}\u{6e96}\u{6642}", "\u{30a2}\u{30a4}\u{30eb}\u{30e9}\u{30f3}\u{30c9}\u{6a19}\u{6e96}\u{6642}"],
        ["GMT", "IST", "Ora del meridiano di Greenwich", "Ora legale dell\u{2019}Irlanda"],
        ["GMT", "IST", "hora del meridiano de Greenwich", "hora de verano de Irlanda"],
        ["GMT", "IST", "Hor\u{e1}rio do Meridiano de Greenwich", "Hor\u{e1}rio Padr\u{e3}o Irland\u{ea}s"],
        ["GMT", "IST", "Greenwichtid", "irl\u{e4}ndsk sommartid"],
        ["GMT", "IST", "heure moyenne de Greenwich", "heure avanc\u{e9}e irlandaise"],
        ["GMT", "IST", "Greenwich Mean Time", "Ierse standaardtijd"],
        ["GMT", "IST", "czas uniwersalny", "Irlandia (czas letni)"],
    ],
    // Europe/Lisbon
    [
        ["WET", "WEST", "Western European Standard Time", "Western European Summer Time"],
        ["WET", "WEST", "Western European Standard Time", "Western European Summer Time"],
        ["WEZ", "WESZ", "Westeurop\u{e4}ische Normalzeit", "Westeurop\u{e4}ische Sommerzeit"],
        ["WET", "WEST", "heure normale d\u{2019}Europe de l\u{2019}Ouest", "heure d\u{2019}\u{e9}t\u{e9} d\u{2019}Europe de l\u{2019}Ouest"],
        ["WET", "WEST", "nyugat-eur\u{f3}pai t\u{e9}li id\u{151}", "nyugat-eur\u{f3}pai ny\u{e1}ri id\u{151}"],
        ["WET", "WEST", "\u{897f}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{6a19}\u{6e96}\u{6642}", "\u{897f}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{590f}\u{6642}\u{9593}"],
        ["WET", "WEST", "Ora standard dell\u{2019}Europa occidentale", "Ora legale dell\u{2019}Europa occidentale"],
        ["WET", "WEST", "hora est\u{e1}ndar de Europa occidental", "hora de verano de Europa occidental"],
        ["WET", "WEST", "Hor\u{e1}rio Padr\u{e3}o da Europa Ocidental", "Hor\u{e1}rio de Ver\u{e3}o da Europa Ocidental"],
        ["WET", "WEST", "v\u{e4}steuropeisk normaltid", "v\u{e4}steuropeisk sommartid"],
        ["WET", "WEST", "heure normale de l\u{2019}Europe de l\u{2019}Ouest", "heure avanc\u{e9}e de l\u{2019}Europe de l\u{2019}Ouest"],
        ["WET", "WEST", "West-Europese standaardtijd", "West-Europese zomertijd"],
        ["WET", "WEST", "czas zachodnioeuropejski standardowy", "czas zachodnioeuropejski letni"],
    ],
    // Europe/Berlin
    [
        ["CET", "CEST", "Central European Standard Time", "Central European Summer Time"],
        ["CET", "CEST", "Central European Standard Time", "Central European Summer Time"],
        ["MEZ", "MESZ", "Mitteleurop\u{e4}ische Normalzeit", "Mitteleurop\u{e4}ische Sommerzeit"],
        ["CET", "CEST", "heure normale d\u{2019}Europe centrale", "heure d\u{2019}\u{e9}t\u{e9} d\u{2019}Europe centrale"],
        ["CET", "CEST", "k\u{f6}z\u{e9}p-eur\u{f3}pai t\u{e9}li id\u{151}", "k\u{f6}z\u{e9}p-eur\u{f3}pai ny\u{e1}ri id\u{151}"],
        ["CET", "CEST", "\u{4e2d}\u{592e}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{6a19}\u{6e96}\u{6642}", "\u{4e2d}\u{592e}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{590f}\u{6642}\u{9593}"],
        ["CET", "CEST", "Ora standard dell\u{2019}Europa centrale", "Ora legale dell\u{2019}Europa centrale"],
        ["CET", "CEST", "hora est\u{e1}ndar de Europa central", "hora de verano de Europa central"],
        ["CET", "CEST", "Hor\u{e1}rio Padr\u{e3}o da Europa Central", "Hor\u{e1}rio de Ver\u{e3}o da Europa Central"],
        ["CET", "CEST", "centraleuropeisk normaltid", "centraleuropeisk sommartid"],
        ["CET", "CEST", "heure normale de l\u{2019}Europe centrale", "heure avanc\u{e9}e de l\u{2019}Europe centrale"],
        ["CET", "CEST", "Midden-Europese standaardtijd", "Midden-Europese zomertijd"],
        ["CET", "CEST", "czas \u{15b}rodkowoeuropejski standardowy", "czas \u{15b}rodkowoeuropejski letni"],
    ],
    // Europe/Athens
    [
        ["EET", "EEST", "Eastern European Standard Time", "Eastern European Summer Time"],
        ["EET", "EEST", "Eastern European Standard Time", "Eastern European Summer Time"],
        ["OEZ", "OESZ", "Osteurop\u{e4}ische Normalzeit", "Osteurop\u{e4}ische Sommerzeit"],
        ["EET", "EEST", "heure normale d\u{2019}Europe de l\u{2019}Est", "heure d\u{2019}\u{e9}t\u{e9} d\u{2019}Europe de l\u{2019}Est"],
        ["EET", "EEST", "kelet-eur\u{f3}pai t\u{e9}li id\u{151}", "kelet-eur\u{f3}pai ny\u{e1}ri id\u{151}"],
        ["EET", "EEST", "\u{6771}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{6a19}\u{6e96}\u{6642}", "\u{6771}\u{30e8}\u{30fc}\u{30ed}\u{30c3}\u{30d1}\u{590f}\u{6642}\u{9593}"],
        ["EET", "EEST", "Ora standard dell\u{2019}Europa orientale", "Ora legale dell\u{2019}Europa orientale"],
        ["EET", "EEST", "hora est\u{e1}ndar de Europa oriental", "hora de verano de Europa oriental"],
        ["EET", "EEST", "Hor\u{e1}rio Padr\u{e3}o da Europa Oriental", "Hor\u{e1}rio de Ver\u{e3}o da Europa Oriental"],
        ["EET", "EEST", "\u{f6}steuropeisk normaltid", "\u{f6}steuropeisk sommartid"],
        ["EET", "EEST", "heure normale de l\u{2019}Europe de l\u{2019}Est", "heure avanc\u{e9}e de l\u{2019}Europe de l\u{2019}Est"],
        ["EET", "EEST", "Oost-Europese standaardtijd", "Oost-Europese zomertijd"],
        ["EET", "EEST", "czas wschodnioeuropejski standardowy", "czas wschodnioeuropejski letni"],
    ],
    // Europe/Moscow
    [
        ["MSK", "MSK", "Moscow Standard Time", "Moscow Standard Time"],
        ["MSK", "MSK", "Moscow Standard Time", "Moscow Standard Time"],
        ["MSK", "MSK", "Moskauer Normalzeit", "Moskauer Normalzeit"],
        ["MSK", "MSK", "heure normale de Moscou", "heure normale de Moscou"],
        ["MSK", "MSK", "moszkvai t\u{e9}li id\u{151}", "moszkvai t\u{e9}li id\u{151}"],
        ["MSK", "MSK", "\u{30e2}\u{30b9}\u{30af}\u{30ef}\u{6a19}\u{6e96}\u{6642}", "\u{30e2}\u{30b9}\u{30af}\u{30ef}\u{6a19}\u{6e96}\u{6642}"],
        ["MSK", "MSK", "Ora standard di Mosca", "Ora standard di Mosca"],
        ["MSK", "MSK", "hora est\u{e1}ndar de Mosc\u{fa}", "hora est\u{e1}ndar de Mosc\u{fa}"],
        ["MSK", "MSK", "Hor\u{e1}rio Padr\u{e3}o de Moscou", "Hor\u{e1}rio Padr\u{e3}o de Moscou"],
        ["MSK", "MSK", "Moskva, normaltid", "Moskva, normaltid"],
        ["MSK", "MSK", "heure normale de Moscou", "heure normale de Moscou"],
        ["MSK", "MSK", "Moskou-standaardtijd", "Moskou-standaardtijd"],
        ["MSK", "MSK", "Moskwa (czas standardowy)", "Moskwa (czas standardowy)"],
    ],
    // America/New_York
    [
        ["EST", "EDT", "Eastern Standard Time", "Eastern Daylight Time"],
        ["GMT-05:00", "GMT-04:00", "Eastern Standard Time", "Eastern Daylight Time"],
        ["EST", "EDT", "Nordamerikanische Ostk\u{fc}sten-Normalzeit", "Nordamerikanische Ostk\u{fc}sten-Sommerzeit"],
        ["EST", "EDT", "heure normale de l\u{2019}Est nord-am\u{e9}ricain", "heure d\u{2019}\u{e9}t\u{e9} de l\u{2019}Est"],
        ["EST", "EDT", "keleti \u{e1}llamokbeli z\u{f3}naid\u{151}", "keleti \u{e1}llamokbeli ny\u{e1}ri id\u{151}"],
        ["EST", "EDT", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{6771}\u{90e8}\u{6a19}\u{6e96}\u{6642}", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{6771}\u{90e8}\u{590f}\u{6642}\u{9593}"],
        ["EST", "EDT", "Ora standard orientale USA", "Ora legale orientale USA"],
        ["EST", "EDT", "hora est\u{e1}ndar oriental", "hora de verano oriental"],
        ["EST", "EDT", "Hor\u{e1}rio Padr\u{e3}o do Leste", "Hor\u{e1}rio de Ver\u{e3}o do Leste"],
        ["EST", "EDT", "\u{f6}stnordamerikansk normaltid", "\u{f6}stnordamerikansk sommartid"],
        ["HNE", "HAE", "heure normale de l\u{2019}Est", "heure avanc\u{e9}e de l\u{2019}Est"],
        ["EST", "EDT", "Eastern-standaardtijd", "Eastern-zomertijd"],
        ["EST", "EDT", "czas wschodnioameryka\u{144}ski standardowy", "czas wschodnioameryka\u{144}ski letni"],
    ],
    // America/Chicago
    [
        ["CST", "CDT", "Central Standard Time", "Central Daylight Time"],
        ["GMT-06:00", "GMT-05:00", "Central Standard Time", "Central Daylight Time"],
        ["CST", "CDT", "Nordamerikanische Inland-Normalzeit", "Nordamerikanische Inland-Sommerzeit"],
        ["CST", "CDT", "heure normale du centre nord-am\u{e9}ricain", "heure d\u{2019}\u{e9}t\u{e9} du Centre"],
        ["CST", "CDT", "k\u{f6}z\u{e9}ps\u{151} \u{e1}llamokbeli z\u{f3}naid\u{151}", "k\u{f6}z\u{e9}ps\u{151} \u{e1}llamokbeli ny\u{e1}ri id\u{151}"],
        ["CST", "CDT", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{4e2d}\u{90e8}\u{6a19}\u{6e96}\u{6642}", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{4e2d}\u{90e8}\u{590f}\u{6642}\u{9593}"],
        ["CST", "CDT", "Ora standard centrale USA", "Ora legale centrale USA"],
        ["CST", "CDT", "hora est\u{e1}ndar central", "hora de verano central"],
        ["CST", "CDT", "Hor\u{e1}rio Padr\u{e3}o Central", "Hor\u{e1}rio de Ver\u{e3}o Central"],
        ["CST", "CDT", "centralnordamerikansk normaltid", "centralnordamerikansk sommartid"],
        ["HNC", "HAC", "heure normale du Centre", "heure avanc\u{e9}e du Centre"],
        ["CST", "CDT", "Central-standaardtijd", "Central-zomertijd"],
        ["CST", "CDT", "czas \u{15b}rodkowoameryka\u{144}ski standardowy", "czas \u{15b}rodkowoameryka\u{144}ski letni"],
    ],
    // America/Denver
    [
        ["MST", "MDT", "Mountain Standard Time", "Mountain Daylight Time"],
        ["GMT-07:00", "GMT-06:00", "Mountain Standard Time", "Mountain Daylight Time"],
        ["MST", "MDT", "Rocky Mountain-Normalzeit", "Rocky-Mountain-Sommerzeit"],
        ["MST", "MDT", "heure normale des Rocheuses", "heure d\u{2019}\u{e9}t\u{e9} des Rocheuses"],
        ["MST", "MDT", "hegyvid\u{e9}ki z\u{f3}naid\u{151}", "hegyvid\u{e9}ki ny\u{e1}ri id\u{151}"],
        ["MST", "MDT", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{5c71}\u{5730}\u{6a19}\u{6e96}\u{6642}", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{5c71}\u{5730}\u{590f}\u{6642}\u{9593}"],
        ["MST", "MDT", "Ora standard Montagne Rocciose USA", "Ora legale Montagne Rocciose USA"],
        ["MST", "MDT", "hora est\u{e1}ndar de las Monta\u{f1}as Rocosas", "hora de verano de las Monta\u{f1}as Rocosas"],
        ["MST", "MDT", "Hor\u{e1}rio Padr\u{e3}o das Montanhas", "Hor\u{e1}rio de Ver\u{e3}o das Montanhas"],
        ["MST", "MDT", "Klippiga bergen, normaltid", "Klippiga bergen, sommartid"],
        ["HNR", "HAR", "heure normale des Rocheuses", "heure avanc\u{e9}e des Rocheuses"],
        ["MST", "MDT", "Mountain-standaardtijd", "Mountain-zomertijd"],
        ["MST", "MDT", "czas g\u{f3}rski standardowy", "czas g\u{f3}rski letni"],
    ],
    // America/Los_Angeles
    [
        ["PST", "PDT", "Pacific Standard Time", "Pacific Daylight Time"],
        ["GMT-08:00", "GMT-07:00", "Pacific Standard Time", "Pacific Daylight Time"],
        ["PST", "PDT", "Nordamerikanische Westk\u{fc}sten-Normalzeit", "Nordamerikanische Westk\u{fc}sten-Sommerzeit"],
        ["PST", "PDT", "heure normale du Pacifique nord-am\u{e9}ricain", "heure d\u{2019}\u{e9}t\u{e9} du Pacifique"],
        ["PST", "PDT", "csendes-\u{f3}ce\u{e1}ni z\u{f3}naid\u{151}", "csendes-\u{f3}ce\u{e1}ni ny\u{e1}ri id\u{151}"],
        ["PST", "PDT", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{592a}\u{5e73}\u{6d0b}\u{6a19}\u{6e96}\u{6642}", "\u{30a2}\u{30e1}\u{30ea}\u{30ab}\u{592a}\u{5e73}\u{6d0b}\u{590f}\u{6642}\u{9593}"],
        ["PST", "PDT", "Ora standard del Pacifico USA", "Ora legale del Pacifico USA"],
        ["PST", "PDT", "hora est\u{e1}ndar del Pac\u{ed}fico", "hora de verano del Pac\u{ed}fico"],
        ["PST", "PDT", "Hor\u{e1}rio Padr\u{e3}o do Pac\u{ed}fico", "Hor\u{e1}rio de Ver\u{e3}o do Pac\u{ed}fico"],
        ["PST", "PDT", "v\u{e4}stnordamerikansk normaltid", "v\u{e4}stnordamerikansk sommartid"],
        ["HNP", "HAP", "heure normale du Pacifique", "heure avanc\u{e9}e du Pacifique"],
        ["PST", "PDT", "Pacific-standaardtijd", "Pacific-zomertijd"],
        ["PST", "PDT", "czas pacyficzny standardowy", "czas pacyficzny letni"],
    ],
    // Asia/Tokyo
    [
        ["JST", "JST", "Japan Standard Time", "Japan Standard Time"],
        ["JST", "JST", "Japan Standard Time", "Japan Standard Time"],
        ["JST", "JST", "Japanische Normalzeit", "Japanische Normalzeit"],
        ["JST", "JST", "heure normale du Japon", "heure normale du Japon"],
        ["JST", "JST", "jap\u{e1}n t\u{e9}li id\u{151}", "jap\u{e1}n t\u{e9}li id\u{151}"],
        ["JST", "JST", "\u{65e5}\u{672c}\u{6a19}\u{6e96}\u{6642}", "\u{65e5}\u{672c}\u{6a19}\u{6e96}\u{6642}"],
        ["JST", "JST", "Ora standard del Giappone", "Ora standard del Giappone"],
        ["JST", "JST", "hora est\u{e1}ndar de Jap\u{f3}n", "hora est\u{e1}ndar de Jap\u{f3}n"],
        ["JST", "JST", "Hor\u{e1}rio Padr\u{e3}o do Jap\u{e3}o", "Hor\u{e1}rio Padr\u{e3}o do Jap\u{e3}o"],
        ["JST", "JST", "japansk normaltid", "japansk normaltid"],
        ["JST", "JST", "heure normale du Japon", "heure normale du Japon"],
        ["JST", "JST", "Japanse standaardtijd", "Japanse standaardtijd"],
        ["JST", "JST", "Japonia (czas standardowy)", "Japonia (czas standardowy)"],
    ],
    // Asia/Kolkata
    [
        ["IST", "IST", "India Standard Time", "India Standard Time"],
        ["IST", "IST", "India Standard Time", "India Standard Time"],
        ["IST", "IST", "Indische Normalzeit", "Indische Normalzeit"],
        ["IST", "IST", "heure de l\u{2019}Inde", "heure de l\u{2019}Inde"],
        ["IST", "IST", "indiai t\u{e9}li id\u{151}", "indiai t\u{e9}li id\u{151}"],
        ["IST", "IST", "\u{30a4}\u{30f3}\u{30c9}\u{6a19}\u{6e96}\u{6642}", "\u{30a4}\u{30f3}\u{30c9}\u{6a19}\u{6e96}\u{6642}"],
        ["IST", "IST", "Ora standard dell\u{2019}India", "Ora standard dell\u{2019}India"],
        ["IST", "IST", "hora est\u{e1}ndar de la India", "hora est\u{e1}ndar de la India"],
        ["IST", "IST", "Hor\u{e1}rio Padr\u{e3}o da \u{cd}ndia", "Hor\u{e1}rio Padr\u{e3}o da \u{cd}ndia"],
        ["IST", "IST", "indisk tid", "indisk tid"],
        ["IST", "IST", "heure de l\u{2019}Inde", "heure de l\u{2019}Inde"],
        ["IST", "IST", "Indiase tijd", "Indiase tijd"],
        ["IST", "IST", "czas indyjski standardowy", "czas indyjski standardowy"],
    ],
    // Asia/Shanghai
    [
        ["CST", "CST", "China Standard Time", "China Standard Time"],
        ["CST", "CST", "China Standard Time", "China Standard Time"],
        ["CST", "CST", "Chinesische Normalzeit", "Chinesische Normalzeit"],
        ["CST", "CST", "heure normale de la Chine", "heure normale de la Chine"],
        ["CST", "CST", "k\u{ed}nai t\u{e9}li id\u{151}", "k\u{ed}nai t\u{e9}li id\u{151}"],
        ["CST", "CST", "\u{4e2d}\u{56fd}\u{6a19}\u{6e96}\u{6642}", "\u{4e2d}\u{56fd}\u{6a19}\u{6e96}\u{6642}"],
        ["CST", "CST", "Ora standard della Cina", "Ora standard della Cina"],
        ["CST", "CST", "hora est\u{e1}ndar de China", "hora est\u{e1}ndar de China"],
        ["CST", "CST", "Hor\u{e1}rio Padr\u{e3}o da China", "Hor\u{e1}rio Padr\u{e3}o da China"],
        ["CST", "CST", "kinesisk normaltid", "kinesisk normaltid"],
        ["CST", "CST", "heure normale de Chine", "heure normale de Chine"],
        ["CST", "CST", "Chinese standaardtijd", "Chinese standaardtijd"],
        ["CST", "CST", "Chiny (czas standardowy)", "Chiny (czas standardowy)"],
    ],
    // Australia/Sydney
    [
        ["AEST", "AEDT", "Australian Eastern Standard Time", "Australian Eastern Daylight Time"],
        ["AEST", "AEDT", "Australian Eastern Standard Time", "Australian Eastern Daylight Time"],
        ["AEST", "AEDT", "Ostaustralische Normalzeit", "Ostaustralische Sommerzeit"],
        ["AEST", "AEDT", "heure normale de l\u{2019}Est de l\u{2019}Australie", "heure d\u{2019}\u{e9}t\u{e9} de l\u{2019}Est de l\u{2019}Australie"],
        ["AEST", "AEDT", "kelet-ausztr\u{e1}liai t\u{e9}li id\u{151}", "kelet-ausztr\u{e1}liai ny\u{e1}ri id\u{151}"],
        ["AEST", "AEDT", "\u{30aa}\u{30fc}\u{30b9}\u{30c8}\u{30e9}\u{30ea}\u{30a2}\u{6771}\u{90e8}\u{6a19}\u{6e96}\u{6642}", "\u{30aa}\u{30fc}\u{30b9}\u{30c8}\u{30e9}\u{30ea}\u{30a2}\u{6771}\u{90e8}\u{590f}\u{6642}\u{9593}"],
        ["AEST", "AEDT", "Ora standard dell\u{2019}Australia orientale", "Ora legale dell\u{2019}Australia orientale"],
        ["AEST", "AEDT", "hora est\u{e1}ndar de Australia oriental", "hora de verano de Australia oriental"],
        ["AEST", "AEDT", "Hor\u{e1}rio Padr\u{e3}o da Austr\u{e1}lia Oriental", "Hor\u{e1}rio de Ver\u{e3}o da Austr\u{e1}lia Oriental"],
        ["AEST", "AEDT", "\u{f6}staustralisk normaltid", "\u{f6}staustralisk sommartid"],
        ["AEST", "AEDT", "heure normale de l\u{2019}Est de l\u{2019}Australie", "heure avanc\u{e9}e de l\u{2019}Est de l\u{2019}Australie"],
        ["AEST", "AEDT", "Oost-Australische standaardtijd", "Oost-Australische zomertijd"],
        ["AEST", "AEDT", "czas wschodnioaustralijski standardowy", "czas wschodnioaustralijski letni"],
    ],
];

/// (standard, daylight) offsets in seconds of each `ZONE_NAMES` row, for parsing names.
const ZONE_OFFSETS: [(i32, i32); 16] = [
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
];

/// The longest zone name of any known locale at `pos` (ignoring case): (offset seconds, length
/// in chars). Ambiguous abbreviations resolve to the first row (CST is US Central, IST Irish).
pub fn match_zone_name(t: &[char], pos: usize) -> Option<(i32, usize)> {
    let mut best: Option<(i32, usize)> = None;
    for (row, names) in ZONE_NAMES.iter().enumerate() {
        for locale_names in names {
            for (k, name) in locale_names.iter().enumerate() {
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
    }
    best
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
