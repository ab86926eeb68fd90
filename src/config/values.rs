//! Values the config's tables share: durations as written, and range checks naming the key.

use std::fmt;
use std::time::Duration;

use pipeline_core::ConfigError;

pub use pipeline_core::config::{parse_duration, ConfigDuration};

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
