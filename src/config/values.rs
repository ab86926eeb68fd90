//! Values the config's tables share: durations as written, and range checks naming the key.

use std::fmt;
use std::time::Duration;

use pipeline_core::ConfigError;
use serde::Deserialize;

/// A duration written as `"100ms"`, `"10s"`, `"5m"` or `"4h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `<integer><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let bad =
        || format!("`{text}` is not a duration (write e.g. \"100ms\", \"10s\", \"5m\", \"4h\")");
    let value: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    Ok(duration)
}

pub(super) fn in_range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("{value} is out of range ({min} to {max})"),
        ));
    }
    Ok(value)
}

pub(super) fn duration_in_range(
    key: &str,
    value: Option<ConfigDuration>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let value = value.map_or(default, |d| d.0);
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("{value:?} is out of range ({min:?} to {max:?})"),
        ));
    }
    Ok(value)
}
