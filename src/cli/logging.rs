//! Logging setup: `tracing` events to standard error (standard output carries data, e.g. the
//! `console` sink's NDJSON), human-readable or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable; coloured when standard error is a terminal.
    Auto,
    /// Human-readable, never coloured.
    Human,
    /// One JSON object per line.
    Json,
}

/// Install the global subscriber. The level comes from RUST_LOG, `info` when unset or invalid.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.with_ansi(false).try_init(),
        LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if let Err(error) = installed {
        eprintln!("warning: logging is not available: {error}");
    }
}
