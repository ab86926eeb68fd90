//! The host's built-in sinks, useful for trying and testing pipelines: `blackhole` (counts and
//! acknowledges) and `console` (writes NDJSON to standard output).

mod blackhole;
mod console;

use pipeline_core::Registry;

pub use blackhole::BlackholeConfig;
pub use console::ConsoleConfig;

/// Add the built-in sinks to `registry`, leaving any type a plugin already registered.
pub fn register_builtins(registry: &mut Registry) {
    registry.register_sink_if_absent("blackhole", blackhole::factory);
    registry.register_sink_if_absent("console", console::factory);
}
