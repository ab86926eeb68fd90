//! `webhook-sink render`: render a FreeMarker template once per NDJSON input line, exactly as the
//! sink would (same engine, same default settings), so template authors can iterate without a pipeline.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use freemarker::{Settings, Template};

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The FreeMarker template (FTL) to render.
    #[arg(long, value_name = "FILE")]
    template: PathBuf,
    /// NDJSON input, one record per line, each bound to `input` (standard input when absent).
    #[arg(long, value_name = "FILE.ndjson")]
    input: Option<PathBuf>,
    /// A FreeMarker setting by its own name, e.g. `number_format=0.##` or `time_zone=Europe/Berlin`.
    /// Repeatable; a later one wins. Defaults are the sink's: number_format=computer, locale=en_US,
    /// time_zone=UTC.
    #[arg(long = "setting", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// `text` prints each output, ending it with a newline if it has none (errors go to standard error with a source
    /// excerpt); `ndjson` prints one JSON line per input: {"output": "..."} or {"error": "..."}.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Ndjson,
}

/// Render every non-blank input line; exit 1 if any line failed, 2 if the arguments are unusable.
pub fn execute(args: RenderArgs) -> ExitCode {
    let settings = match settings(&args.settings) {
        Ok(settings) => settings,
        Err(message) => return usage_error(&message),
    };
    let source = match fs::read_to_string(&args.template) {
        Ok(source) => source,
        Err(error) => {
            return usage_error(&format!(
                "cannot read template {}: {error}",
                args.template.display()
            ))
        }
    };
    let name = args.template.display().to_string();
    let template = Template::new(&name, &source, settings);
    if let (Err(error), Format::Text) = (&template, args.format) {
        eprintln!("error: {error:#}");
        return ExitCode::from(2);
    }

    let reader: Box<dyn BufRead> = match &args.input {
        Some(path) => match fs::File::open(path) {
            Ok(file) => Box::new(BufReader::new(file)),
            Err(error) => {
                return usage_error(&format!("cannot read input {}: {error}", path.display()))
            }
        },
        None => Box::new(BufReader::new(io::stdin())),
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut failures = 0usize;
    for (index, line) in reader.lines().enumerate() {
        let line_no = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                return usage_error(&format!("cannot read input line {line_no}: {error}"))
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = match &template {
            Err(error) => Err(error.to_string()),
            Ok(template) => match serde_json::from_str::<serde_json::Value>(&line) {
                Err(error) => Err(format!("input line {line_no} is not valid JSON: {error}")),
                Ok(input) => template.render(&input).map_err(|error| match args.format {
                    Format::Text => format!("input line {line_no}: {error:#}"),
                    Format::Ndjson => error.to_string(),
                }),
            },
        };
        if result.is_err() {
            failures += 1;
        }
        if let Err(error) = print_result(&mut out, args.format, result) {
            return write_failed(&error);
        }
    }
    if let Err(error) = out.flush() {
        return write_failed(&error);
    }
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The sink's default settings, then each `NAME=VALUE` in order.
fn settings(pairs: &[String]) -> Result<Settings, String> {
    let mut settings = Settings::default();
    for (name, value) in webhook_sink::prepare::template::SINK_DEFAULTS {
        settings
            .set(name, value)
            .map_err(|error| format!("default setting {name}: {error}"))?;
    }
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--setting {pair:?}: expected NAME=VALUE"))?;
        settings
            .set(name.trim(), value)
            .map_err(|error| format!("--setting {pair:?}: {error}"))?;
    }
    Ok(settings)
}

/// A reader that went away (`render ... | head`) ends the output quietly; other errors are reported.
fn write_failed(error: &std::io::Error) -> ExitCode {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    usage_error(&format!("cannot write output: {error}"))
}

fn print_result(
    out: &mut impl Write,
    format: Format,
    result: Result<String, String>,
) -> io::Result<()> {
    match (format, result) {
        (Format::Text, Ok(output)) if output.ends_with('\n') => out.write_all(output.as_bytes()),
        (Format::Text, Ok(output)) => writeln!(out, "{output}"),
        (Format::Text, Err(error)) => {
            out.flush()?;
            eprintln!("error: {error}");
            Ok(())
        }
        (Format::Ndjson, Ok(output)) => {
            writeln!(out, "{}", serde_json::json!({ "output": output }))
        }
        (Format::Ndjson, Err(error)) => writeln!(out, "{}", serde_json::json!({ "error": error })),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
