//! The plugin registry: maps a sink's config `type` to the factory that validates its table.
//!
//! The binary registers its plugin sinks (e.g. `webhook`); the host adds its own built-in sinks
//! (`blackhole`, `console`) to whatever registry it is given, unless a plugin took the name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::sink::SinkConfig;

/// Turns a `[sinks.ID]` table (without `type` and `inputs`) into a validated [`SinkConfig`].
///
/// The factory refuses unknown keys (see [`crate::deserialize_table`]) and reports key paths
/// relative to the table; the host prefixes `sinks.<id>.`. `cx` says where the table came from,
/// so that relative file paths in it can be read the way the user meant them.
pub type SinkFactory =
    fn(table: toml::Table, cx: &FactoryContext) -> Result<Box<dyn SinkConfig>, ConfigError>;

/// What the host tells a factory about the config a table was read from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FactoryContext {
    /// The directory of the pipeline config file; relative paths in the table (template files,
    /// certificates) are resolved against it. `None` when the config did not come from a file
    /// (e.g. an embedded config); relative paths are then taken from the working directory.
    pub config_dir: Option<PathBuf>,
}

impl FactoryContext {
    /// The context of a config read from a file in `config_dir`.
    pub fn in_dir(config_dir: impl Into<PathBuf>) -> FactoryContext {
        FactoryContext {
            config_dir: Some(config_dir.into()),
        }
    }
}

/// The sink types a host knows about.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    sinks: BTreeMap<&'static str, SinkFactory>,
}

impl Registry {
    /// An empty registry; the host adds its built-in components when it starts a topology or
    /// validates a config.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Make sink type `ty` available; a later registration of the same type replaces it.
    pub fn register_sink(&mut self, ty: &'static str, factory: SinkFactory) {
        self.sinks.insert(ty, factory);
    }

    /// Register `ty` unless it is already taken (how the host adds its built-ins).
    pub fn register_sink_if_absent(&mut self, ty: &'static str, factory: SinkFactory) {
        self.sinks.entry(ty).or_insert(factory);
    }

    /// The factory for sink type `ty`, if registered.
    pub fn sink_factory(&self, ty: &str) -> Option<SinkFactory> {
        self.sinks.get(ty).copied()
    }

    /// The registered sink types, sorted (for error messages and `--help`).
    pub fn sink_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.sinks.keys().copied()
    }
}
