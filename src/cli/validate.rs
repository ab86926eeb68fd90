//! `webhook-sink validate --config FILE [--print] [--sample FILE.ndjson [--strict]]`: check a
//! config without running it. `--print` shows it as the pipeline would see it: environment
//! variables replaced, secrets redacted (see [`super::redact`]), so the result can be shared or
//! attached to a bug report. `--sample` renders every `webhook` sink's payloads over sample
//! events and reports each that is not valid JSON or fails to render (warnings; errors with
//! `--strict`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipeline_core::ConfigError;
use pipeline_host::config::read_config_text;
use pipeline_host::Config;

use webhook_sink::prepare::preview;

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

    /// Render every webhook sink's payloads over these NDJSON sample events, sending nothing,
    /// and report each payload that is not valid JSON (the sample line, the byte where the
    /// JSON broke, the template line and column that wrote it) or that fails to render.
    #[arg(long, value_name = "FILE.ndjson")]
    sample: Option<PathBuf>,

    /// With --sample: a payload that is not JSON, or fails to render, fails validation.
    #[arg(long, requires = "sample")]
    strict: bool,
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
    if let Some(sample) = &args.sample {
        match check_sample(&args.config, sample, args.strict) {
            Ok(true) => {}
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
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

/// Renders each webhook sink's payloads over `sample`, reporting on standard error; whether
/// validation still passes (always, unless `strict`).
fn check_sample(config: &Path, sample: &Path, strict: bool) -> Result<bool, String> {
    let text = read_config_text(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let document: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", config.display(), e.message()))?;
    let sinks = document.get("sinks").and_then(toml::Value::as_table);
    let webhooks = sinks.into_iter().flatten().filter(|(_, sink)| {
        sink.get("type").and_then(toml::Value::as_str) == Some(webhook_sink::sink::SINK_TYPE)
    });
    let level = if strict { "error" } else { "warning" };
    let mut clean = true;
    for (id, _) in webhooks {
        let sink = preview::sink_config_in(&text, id, config.parent())
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let file = std::fs::File::open(sample)
            .map_err(|e| format!("cannot read {}: {e}", sample.display()))?;
        let summary = preview::run(&sink, std::io::BufReader::new(file), &mut std::io::sink())
            .map_err(|e| format!("{}: {e}", sample.display()))?;
        for (line, stream, found) in &summary.findings {
            eprintln!(
                "{level}: sinks.{id}: {} line {line} -> {stream} payload: {found}",
                sample.display()
            );
        }
        let unlisted = summary.not_json - summary.findings.len() as u64;
        if unlisted > 0 {
            eprintln!("{level}: sinks.{id}: {unlisted} more payloads are not valid JSON");
        }
        if summary.errors > 0 {
            eprintln!(
                "{level}: sinks.{id}: {} sample lines or payloads failed (see `webhook-sink preview --sink {id}`)",
                summary.errors
            );
        }
        eprintln!(
            "sinks.{id}: {} sample records: {} payloads, {} not JSON, {} errors",
            summary.records, summary.payloads, summary.not_json, summary.errors
        );
        clean &= summary.not_json == 0 && summary.errors == 0;
    }
    Ok(clean || !strict)
}
