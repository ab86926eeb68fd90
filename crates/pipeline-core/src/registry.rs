//! The plugin registry: maps a sink's config `type` to the factory that validates its table.
//!
//! The binary registers its plugin sinks (e.g. `webhook`); the host adds its own built-in sinks
//! (`blackhole`, `console`) to whatever registry it is given, unless a plugin took the name.

use std::collections::BTreeMap;

use crate::config::ConfigError;
use crate::sink::SinkConfig;

/// Turns a `[sinks.ID]` table (without `type` and `inputs`) into a validated [`SinkConfig`].
///
/// The factory refuses unknown keys (see [`crate::deserialize_table`]) and reports key paths
/// relative to the table; the host prefixes `sinks.<id>.`.
pub type SinkFactory = fn(table: toml::Table) -> Result<Box<dyn SinkConfig>, ConfigError>;

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
