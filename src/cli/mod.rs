//! The command line: parses arguments with clap, sets up logging, and dispatches each
//! subcommand to its module. Add a command by adding a variant to [`Command`] and a module.

mod dead_letters;
mod demo;
mod logging;
mod preview;
mod redact;
mod render;
mod run;
mod runtime;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pipeline_core::Registry;

/// Stream analytics events to a webhook, one request per event, with FreeMarker payloads and
/// durable retries.
#[derive(Debug, Parser)]
#[command(name = "webhook-sink", version, about, long_about = None)]
struct Cli {
    /// Log format on standard error: `auto` is human-readable (coloured on a terminal), `json`
    /// is one JSON object per line. Set the level with RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Auto)]
    log_format: logging::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the pipeline until every source has finished or SIGINT/SIGTERM arrives, then drain
    /// in-flight work and exit.
    Run(run::RunArgs),
    /// Check a config (and everything it refers to) and exit 0, or non-zero with the reason.
    Validate(validate::ValidateArgs),
    /// The main job on an embedded default: demo source -> filter -> webhook sink -> an
    /// embedded webhook receiver on loopback, with live progress and a summary.
    Demo(demo::DemoArgs),
    /// Show what a webhook sink would send for each input record (stream, headers, body),
    /// sending nothing.
    Preview(preview::PreviewArgs),
    /// Render a FreeMarker template once per NDJSON input line, with the sink's engine and default
    /// settings, printing each output (or error).
    Render(render::RenderArgs),
    /// List, show, replay or purge the records a webhook sink gave up on.
    DeadLetters(dead_letters::DeadLettersArgs),
}

/// Parse the command line and run the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        Command::Run(args) => run::execute(args),
        Command::Validate(args) => validate::execute(args),
        Command::Demo(args) => demo::execute(args),
        Command::Preview(args) => preview::execute(args),
        Command::Render(args) => render::execute(args),
        Command::DeadLetters(args) => dead_letters::execute(args),
    }
}

/// The component types this binary knows besides the host's built-ins. Plugin sinks register
/// themselves here.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    webhook_sink::register(&mut registry);
    registry
}
