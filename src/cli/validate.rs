//! `webhook-sink validate --config FILE [--print]`: check a config without running it, and with
//! `--print` show it as the pipeline would see it: environment variables replaced, secrets
//! redacted (see [`super::redact`]), so the result can be shared or attached to a bug report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipeline_core::ConfigError;
use pipeline_host::config::read_config_text;
use pipeline_host::Config;

use super::redact::{redact_config, REDACTED};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The pipeline config (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Print the resolved config (environment variables replaced) as TOML on standard output,
    /// secrets shown as "<redacted>"; the summary becomes its first comment line.
    #[arg(long)]
    print: bool,
}

/// Why the resolved config could not be printed (after it was found valid).
#[derive(Debug, thiserror::Error)]
enum PrintError {
    #[error("{0}")]
    Read(#[from] ConfigError),
    #[error("the resolved config does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the resolved config cannot be written as TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
}

/// Print `ok` and a summary (or, with `--print`, the resolved config), or the reason the config
/// is refused (exit 1).
pub fn execute(args: ValidateArgs) -> ExitCode {
    let config = match Config::from_path(&args.config, &super::registry()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: invalid config {}: {error}", args.config.display());
            return ExitCode::FAILURE;
        }
    };
    let summary = format!(
        "{}: ok ({} sources, {} transforms, {} sinks)",
        args.config.display(),
        config.sources.len(),
        config.transforms.len(),
        config.sinks.len()
    );
    if !args.print {
        println!("{summary}");
        return ExitCode::SUCCESS;
    }
    match print_resolved(&args.config, &summary) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`validate --print | head`) ends the output quietly.
        Err(PrintError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}: {error}", args.config.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes the config at `path` with its variables replaced and its secrets redacted.
fn print_resolved(path: &Path, summary: &str) -> Result<(), PrintError> {
    let mut document: toml::Table = read_config_text(path)?.parse()?;
    redact_config(&mut document);
    let text = toml::to_string(&document)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "# {summary}")?;
    writeln!(
        out,
        "# resolved: environment variables replaced, secrets shown as \"{REDACTED}\""
    )?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
