//! The times `dead-letters` reads and prints: `--before`/`--since` values (an RFC 3339 time or an
//! age such as `30m`), RFC 3339 timestamps, and ages humanised like `3m12s`. An age printed by
//! `list` is accepted back by `--since`/`--before`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};

/// What `--before`/`--since` accept, for the error message and the help.
pub const TIME_FORMS: &str = "an RFC 3339 time such as 2024-05-01T12:00:00Z, or an age such as \
                              90s, 30m, 2h, 7d or 1d12h (meaning that long ago)";

/// A `--before`/`--since` value. An age is resolved against the one "now" a command reads, so
/// `--since 1h --before 10m` is a consistent window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// This instant (Unix ms).
    At(i64),
    /// This long before now.
    Ago(Duration),
}

impl TimeArg {
    /// The instant meant (Unix ms), with `now_ms` as now.
    pub fn resolve(self, now_ms: i64) -> i64 {
        match self {
            TimeArg::At(ms) => ms,
            TimeArg::Ago(age) => {
                now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
            }
        }
    }
}

/// Now in the store's unit (Unix ms). A command reads it once, so its ages and its relative
/// filters agree.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Parses a `--before`/`--since` value (clap's value parser: its error names the flag and the
/// value, and exits 2).
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(TimeArg::At(at.timestamp_millis()));
    }
    parse_age(text)
        .map(TimeArg::Ago)
        .ok_or_else(|| format!("expected {TIME_FORMS}"))
}

/// `<number><unit>` parts with units `s`, `m`, `h`, `d`, `w`, largest first or not (`1d12h`,
/// `90s`); `None` for anything else, or an age too large to represent.
fn parse_age(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut seconds: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let letters = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, next) = tail.split_at(letters);
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return None,
        };
        let part = number.parse::<u64>().ok()?.checked_mul(scale)?;
        seconds = seconds.checked_add(part)?;
        rest = next;
    }
    Some(Duration::from_secs(seconds))
}

/// `ms` as RFC 3339 in UTC with milliseconds (`2024-05-01T12:00:00.000Z`), which sorts as text;
/// `None` for 0 (the store's "never").
pub fn rfc3339(ms: i64) -> Option<String> {
    if ms <= 0 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Whole seconds from `then_ms` to `now_ms` (0 when `then_ms` is later: clocks differ).
pub fn age_seconds(then_ms: i64, now_ms: i64) -> u64 {
    u64::try_from(now_ms.saturating_sub(then_ms) / 1000).unwrap_or(0)
}

/// An age in its two largest units: `45s`, `3m12s`, `2h5m`, `4d3h` (a zero second unit is left
/// out: `2h`).
pub fn humanise(seconds: u64) -> String {
    let (big, small, units) = match seconds {
        0..=59 => return format!("{seconds}s"),
        60..=3599 => (seconds / 60, seconds % 60, ("m", "s")),
        3600..=86_399 => (seconds / 3600, seconds % 3600 / 60, ("h", "m")),
        _ => (seconds / 86_400, seconds % 86_400 / 3600, ("d", "h")),
    };
    match small {
        0 => format!("{big}{}", units.0),
        _ => format!("{big}{}{small}{}", units.0, units.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_rfc3339_times_parse() {
        assert_eq!(
            parse_time("30m"),
            Ok(TimeArg::Ago(Duration::from_secs(1800)))
        );
        assert_eq!(
            parse_time("1d12h"),
            Ok(TimeArg::Ago(Duration::from_secs(129_600)))
        );
        assert_eq!(
            parse_time("2w"),
            Ok(TimeArg::Ago(Duration::from_secs(1_209_600)))
        );
        assert_eq!(
            parse_time("2024-05-01T12:00:00Z"),
            Ok(TimeArg::At(1_714_564_800_000))
        );
        assert_eq!(
            parse_time("2024-05-01T14:00:00.250+02:00"),
            Ok(TimeArg::At(1_714_564_800_250))
        );
        for bad in [
            "",
            "yesterday",
            "30",
            "m",
            "5x",
            "1h-2m",
            "99999999999999999999s",
        ] {
            let error = parse_time(bad).unwrap_err();
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
    }

    #[test]
    fn an_age_resolves_against_now() {
        assert_eq!(TimeArg::Ago(Duration::from_secs(2)).resolve(10_000), 8_000);
        assert_eq!(TimeArg::At(5).resolve(10_000), 5);
    }

    #[test]
    fn ages_print_in_their_two_largest_units_and_parse_back() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (192, "3m12s"),
            (180, "3m"),
            (7500, "2h5m"),
            (7200, "2h"),
            (356_400, "4d3h"),
        ];
        for (seconds, text) in cases {
            assert_eq!(humanise(seconds), text);
            assert_eq!(
                parse_time(text),
                Ok(TimeArg::Ago(Duration::from_secs(seconds)))
            );
        }
    }

    #[test]
    fn times_print_as_rfc3339_utc_with_milliseconds() {
        assert_eq!(
            rfc3339(1_714_564_800_250).as_deref(),
            Some("2024-05-01T12:00:00.250Z")
        );
        assert_eq!(rfc3339(0), None);
        assert_eq!(age_seconds(1_000, 4_999), 3);
        assert_eq!(age_seconds(5_000, 1_000), 0);
    }
}
