//! The plugin manifest (`plugin-manifest.toml`): what a host needs to know about a plugin before
//! loading it — name, kind, the host API version it was built against, its input, config keys and
//! metrics.

use serde::Deserialize;

use crate::config::{deserialize_table, ConfigError};

/// A parsed plugin manifest. Unknown keys are refused so a typo cannot hide a field.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name, which is also its config `type` (e.g. `webhook`).
    pub name: String,
    /// `source`, `transform` or `sink`.
    pub kind: String,
    /// The [`crate::HOST_API_VERSION`] the plugin was built against.
    pub api_version: String,
    /// What the plugin accepts (`log` for log events).
    pub input: String,
    /// One line saying what the plugin does.
    pub description: String,
    /// Every key the plugin's config table accepts, dotted for sub-tables
    /// (`retry.tries`); a sub-table also lists its own name (`retry`).
    pub config_keys: Vec<String>,
    /// The metric names the plugin emits.
    pub metrics: Vec<String>,
}

impl Manifest {
    /// Parse a manifest; errors name the offending key.
    pub fn from_toml_str(text: &str) -> Result<Manifest, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|error: toml::de::Error| ConfigError::new("", error.message().to_string()))?;
        deserialize_table(table)
    }

    /// True when the plugin can run on a host of `host_api_version`.
    pub fn is_compatible_with(&self, host_api_version: &str) -> bool {
        self.api_version == host_api_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_unknown_keys() {
        let text = r#"
name = "webhook"
kind = "sink"
api_version = "0.1"
input = "log"
description = "d"
config_keys = ["url", "retry.tries"]
metrics = ["component_sent_events_total"]
"#;
        let manifest = Manifest::from_toml_str(text).unwrap();
        assert_eq!(manifest.config_keys, ["url", "retry.tries"]);
        assert!(manifest.is_compatible_with("0.1"));
        let error = Manifest::from_toml_str(&format!("{text}\nversion = 2")).unwrap_err();
        assert_eq!(error.path, "version");
    }
}
