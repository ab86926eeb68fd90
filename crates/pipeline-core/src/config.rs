//! Configuration errors that name the offending key, and the helper every component factory uses
//! to deserialize its TOML table strictly (unknown keys refused).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A configuration problem, located by its dotted key path (e.g. `sinks.hook.retry.tries`).
///
/// Component factories report paths relative to their own table; the host prefixes the
/// component's path (`sinks.<id>`) with [`ConfigError::within`] before showing the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location(path))]
pub struct ConfigError {
    /// The dotted key path of the offending value; empty for the document itself.
    pub path: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

fn location(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("`{path}`: ")
    }
}

impl ConfigError {
    /// An error about the value at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error, located inside the table at `prefix`.
    pub fn within(mut self, prefix: &str) -> ConfigError {
        self.path = join_path(prefix, &self.path);
        self
    }
}

/// `prefix.path`, or whichever of the two is not empty.
pub fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Deserialize a component's table into `T`, reporting the key path of any error.
///
/// Give `T` `#[serde(deny_unknown_fields)]` so a misspelt key is refused rather than ignored.
pub fn deserialize_table<T: DeserializeOwned>(table: toml::Table) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ConfigError::new(path, error.into_inner().message().trim().to_string())
    })
}

/// A duration written as `"100ms"`, `"10s"`, `"5m"`, `"4h"` or `"7d"`.
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

/// Parses `<integer><unit>` with unit `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let bad = || {
        format!(
            "`{text}` is not a duration (write e.g. \"100ms\", \"10s\", \"5m\", \"4h\", \"7d\")"
        )
    };
    let value: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        "d" => Duration::from_secs(value.saturating_mul(86_400)),
        _ => return Err(bad()),
    };
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        retry: Retry,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Retry {
        tries: u32,
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn unknown_nested_key_is_named_with_its_path() {
        let error = deserialize_table::<Sample>(table("name = 'a'\n[retry]\ntries = 1\ntires = 2"))
            .unwrap_err()
            .within("sinks.hook");
        assert_eq!(error.path, "sinks.hook.retry.tires");
        assert!(error.message.contains("unknown field `tires`"), "{error}");
        assert!(error.to_string().starts_with("`sinks.hook.retry.tires`: "));
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let error =
            deserialize_table::<Sample>(table("name = 'a'\n[retry]\ntries = 'x'")).unwrap_err();
        assert_eq!(error.path, "retry.tries");
        assert!(error.message.contains("invalid type"), "{error}");
    }
}
