//! `webhook-sink dead-letters list|replay|purge --config FILE --sink ID`: the dead-letter table of
//! one sink's retry store (under `data_dir/<sink id>/`).
//!
//! `list` prints one JSON object per dead letter (id, stream, attempts, last error, first and last
//! attempt times, the history of failures); `replay` moves every dead letter back to the waiting
//! records, due at once with a fresh schedule; `purge` deletes them. Works while the sink runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use pipeline_host::Config;
use webhook_sink::retry::dead_letters::DeadLetters;

/// What to do with the dead letters.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Action {
    /// Print each dead letter as a JSON line.
    List,
    /// Re-queue every dead letter for immediate attempts.
    Replay,
    /// Delete every dead letter.
    Purge,
}

/// Arguments of `dead-letters`.
#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    /// What to do.
    #[arg(value_enum)]
    action: Action,

    /// The pipeline config (TOML); its `data_dir` locates the store.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// The id of the webhook sink (`hook` for `[sinks.hook]`).
    #[arg(long, value_name = "ID")]
    sink: String,
}

/// Runs the action; exit 1 with the reason when the config or the store cannot be used.
pub fn execute(args: DeadLettersArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &DeadLettersArgs) -> Result<(), String> {
    let invalid = |error: &dyn std::fmt::Display| {
        format!("invalid config {}: {error}", args.config.display())
    };
    let config = Config::from_path(&args.config, &super::registry()).map_err(|e| invalid(&e))?;
    let text = std::fs::read_to_string(&args.config).map_err(|e| invalid(&e))?;
    // Checks that the sink exists and is a webhook sink.
    webhook_sink::prepare::preview::sink_config_in(&text, &args.sink, args.config.parent())
        .map_err(|e| invalid(&e))?;
    let dir = config.data_dir.join(&args.sink);
    let mut store = DeadLetters::open(&dir).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let written = |e: std::io::Error| format!("writing to standard output: {e}");
    match args.action {
        Action::List => {
            for row in store.list().map_err(|e| e.to_string())? {
                let line = serde_json::to_string(&row).map_err(|e| e.to_string())?;
                writeln!(out, "{line}").map_err(written)?;
            }
        }
        Action::Replay => {
            let n = store.replay().map_err(|e| e.to_string())?;
            writeln!(out, "replayed {n} dead letters").map_err(written)?;
        }
        Action::Purge => {
            let n = store.purge().map_err(|e| e.to_string())?;
            writeln!(out, "purged {n} dead letters").map_err(written)?;
        }
    }
    Ok(())
}
