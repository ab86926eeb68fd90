//! `webhook-sink preview --config FILE --sink ID [--input FILE.ndjson]`: what a sink would send
//! for each input record (stream, request line, headers with secrets redacted, body), sending
//! nothing. The work is the library's [`webhook_sink::prepare::preview`]; this is its command line.

use std::io::Write;

use webhook_sink::prepare::preview;

/// Arguments of `webhook-sink preview`.
#[derive(Debug, Clone, clap::Args)]
pub struct PreviewArgs {
    /// The pipeline config (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// The id of the `webhook` sink to preview (`hook` for `[sinks.hook]`).
    #[arg(long, value_name = "ID")]
    pub sink: String,
    /// NDJSON records to preview; standard input when absent.
    #[arg(long, value_name = "FILE.ndjson")]
    pub input: Option<std::path::PathBuf>,
    /// Exit 1 when a payload is not valid JSON (by default a warning in the output).
    #[arg(long)]
    pub strict: bool,
}

/// Runs `webhook-sink preview`, printing to standard output; exit 1 on a bad config or input.
pub fn execute(args: PreviewArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    // Read like `run` reads it: environment variables replaced.
    let text = match pipeline_host::config::read_config_text(&args.config) {
        Ok(text) => text,
        Err(error) => {
            tracing::error!("invalid config {}: {error}", args.config.display());
            return ExitCode::FAILURE;
        }
    };
    let sink = match webhook_sink::prepare::preview::sink_config_in(
        &text,
        &args.sink,
        args.config.parent(),
    ) {
        Ok(sink) => sink,
        Err(error) => {
            tracing::error!("invalid config {}: {error}", args.config.display());
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match &args.input {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => preview::run(&sink, std::io::BufReader::new(file), &mut out),
            Err(error) => {
                tracing::error!("cannot read {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => preview::run(&sink, std::io::stdin().lock(), &mut out),
    };
    match result {
        Ok(summary) => {
            let _ = writeln!(
                out,
                "# {} records: {} payloads, {} filtered out, {} errors, {} not JSON",
                summary.records,
                summary.payloads,
                summary.discarded,
                summary.errors,
                summary.not_json
            );
            if summary.errors > 0 || (args.strict && summary.not_json > 0) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        // A reader that went away (`preview ... | head`) ends the output quietly.
        Err(preview::PreviewError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
