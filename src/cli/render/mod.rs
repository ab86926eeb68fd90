//! `webhook-sink render`: render a FreeMarker template once per NDJSON input line, exactly as the
//! sink would (same engine, same default settings), so template authors can iterate without a pipeline.
//! Lines are rendered on every core, in chunks, and printed in input order ([`ordered`]).

use std::fs;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use freemarker::{Settings, Template};

mod chunks;
mod ordered;
mod project;
mod scan;

use chunks::{Chunk, Chunks, Spare};
use ordered::ordered_map;
use project::Projection;

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

    let reader: Box<dyn Read + Send> = match &args.input {
        Some(path) => match fs::File::open(path) {
            Ok(file) => Box::new(file),
            Err(error) => {
                return usage_error(&format!("cannot read input {}: {error}", path.display()))
            }
        },
        None => Box::new(io::stdin()),
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut failures = 0usize;
    let mut stopped: Option<ExitCode> = None;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chunks = Chunks::new(reader);
    let spare_input = chunks.spare.clone();
    let spare_output = Spare::<String>::default();
    let projection = Projection::new(template.as_ref().ok().and_then(Template::input_fields));
    ordered_map(
        workers,
        || chunks.next(),
        |chunk| {
            let out = spare_output.take().unwrap_or_default();
            let (rendered, text) = render_chunk(&template, &projection, args.format, chunk, out);
            if let Some(text) = text {
                spare_input.give(text);
            }
            rendered
        },
        |mut rendered| {
            failures += rendered.failures;
            if let Err(error) = rendered.write(&mut out) {
                stopped = Some(write_failed(&error));
                return ControlFlow::Break(());
            }
            if let Some(message) = rendered.stop {
                stopped = Some(usage_error(&message));
                return ControlFlow::Break(());
            }
            rendered.out.clear();
            spare_output.give(rendered.out);
            ControlFlow::Continue(())
        },
    );
    if let Some(code) = stopped {
        return code;
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

/// A chunk's printed outputs, with the errors for standard error at their places among them.
struct Rendered {
    out: String,
    /// Messages for standard error, each after the output written before it (text format).
    errors: Vec<(usize, String)>,
    failures: usize,
    /// Why the job ends after this chunk (a line that cannot be read).
    stop: Option<String>,
}

impl Rendered {
    /// Writes the chunk's outputs and errors.
    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut written = 0;
        for (at, error) in &self.errors {
            out.write_all(&self.out.as_bytes()[written..*at])?;
            written = *at;
            out.flush()?;
            eprintln!("error: {error}");
        }
        out.write_all(&self.out.as_bytes()[written..])
    }
}

/// Renders every non-blank line of `chunk` onto `out`; hands back the chunk's buffer for reuse.
fn render_chunk(
    template: &Result<Template, freemarker::Error>,
    projection: &Projection,
    format: Format,
    chunk: Chunk,
    out: String,
) -> (Rendered, Option<Vec<u8>>) {
    let mut rendered = Rendered {
        out,
        errors: Vec::new(),
        failures: 0,
        stop: None,
    };
    let (first_line, text) = match chunk {
        Chunk::Lines { first_line, text } => (first_line, text),
        Chunk::Failed { line, error } => {
            rendered.stop = Some(format!("cannot read input line {line}: {error}"));
            return (rendered, None);
        }
    };
    render_lines(
        template,
        projection,
        format,
        first_line,
        &text,
        &mut rendered,
    );
    (rendered, Some(text))
}

/// Renders the lines of `text`, the first being input line `first_line`.
fn render_lines(
    template: &Result<Template, freemarker::Error>,
    projection: &Projection,
    format: Format,
    first_line: usize,
    text: &[u8],
    rendered: &mut Rendered,
) {
    rendered.out.reserve(text.len());
    let mut members = Vec::new();
    let mut starts = 0;
    let lines = std::iter::from_fn(|| {
        let rest = text.get(starts..).filter(|rest| !rest.is_empty())?;
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        starts += end + 1;
        rest.get(..end)
    });
    for (line_no, raw) in (first_line..).zip(lines) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            rendered.stop = Some(format!(
                "cannot read input line {line_no}: stream did not contain valid UTF-8"
            ));
            return;
        };
        if line.trim().is_empty() {
            continue;
        }
        let outcome = match template {
            Err(error) => Err(error.to_string()),
            Ok(template) => match projection.parse(line, &mut members) {
                Err(error) => Err(format!("input line {line_no} is not valid JSON: {error}")),
                Ok(input) => {
                    print_output(template, &input, format, &mut rendered.out).map_err(|error| {
                        match format {
                            Format::Text => format!("input line {line_no}: {error:#}"),
                            Format::Ndjson => error.to_string(),
                        }
                    })
                }
            },
        };
        if let Err(error) = outcome {
            rendered.failures += 1;
            print_error(rendered, format, error);
        }
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

/// Renders `input` straight onto `out`, in the chosen format.
fn print_output(
    template: &Template,
    input: &serde_json::Value,
    format: Format,
    out: &mut String,
) -> Result<(), freemarker::Error> {
    match format {
        Format::Text => {
            let start = out.len();
            template.render_to(input, out)?;
            if out.len() == start || !out.ends_with('\n') {
                out.push('\n');
            }
        }
        Format::Ndjson => {
            let output = template.render(input)?;
            out.push_str(&serde_json::json!({ "output": output }).to_string());
            out.push('\n');
        }
    }
    Ok(())
}

fn print_error(rendered: &mut Rendered, format: Format, error: String) {
    match format {
        Format::Text => rendered.errors.push((rendered.out.len(), error)),
        Format::Ndjson => {
            let line = serde_json::json!({ "error": error }).to_string();
            rendered.out.push_str(&line);
            rendered.out.push('\n');
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
