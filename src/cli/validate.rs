//! `webhook-sink validate --config FILE`: check a config without running it.

use std::path::PathBuf;
use std::process::ExitCode;

use pipeline_host::Config;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The pipeline config (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// Print `ok` and a summary, or the reason the config is refused (exit 1).
pub fn execute(args: ValidateArgs) -> ExitCode {
    match Config::from_path(&args.config, &super::registry()) {
        Ok(config) => {
            println!(
                "{}: ok ({} sources, {} transforms, {} sinks)",
                args.config.display(),
                config.sources.len(),
                config.transforms.len(),
                config.sinks.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: invalid config {}: {error}", args.config.display());
            ExitCode::FAILURE
        }
    }
}
