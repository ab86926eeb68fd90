//! `webhook-sink render`: render a FreeMarker template once per NDJSON input line, exactly as the
//! sink would (same engine, same default settings), so template authors can iterate without a pipeline.
//! Lines are rendered on every core, in chunks, and printed in input order ([`ordered`]).

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use freemarker::{Settings, Template};

mod ordered;
mod project;

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

    let reader: Box<dyn BufRead + Send> = match &args.input {
        Some(path) => match fs::File::open(path) {
            Ok(file) => Box::new(BufReader::with_capacity(1 << 16, file)),
            Err(error) => {
                return usage_error(&format!("cannot read input {}: {error}", path.display()))
            }
        },
        None => Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut failures = 0usize;
    let mut stopped: Option<ExitCode> = None;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chunks = Chunks::new(reader);
    let spare = chunks.spare.clone();
    let projection = Projection::new(template.as_ref().ok().and_then(Template::input_fields));
    ordered_map(
        workers,
        || chunks.next(),
        |chunk| {
            let (rendered, text) = render_chunk(&template, &projection, args.format, chunk);
            if let (Some(mut text), Ok(mut spare)) = (text, spare.lock()) {
                text.clear();
                spare.push(text);
            }
            rendered
        },
        |rendered| {
            failures += rendered.failures;
            match rendered.write(&mut out) {
                Err(error) => stopped = Some(write_failed(&error)),
                Ok(Some(message)) => stopped = Some(usage_error(&message)),
                Ok(None) => return ControlFlow::Continue(()),
            }
            ControlFlow::Break(())
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

/// Input lines in chunks of about [`CHUNK_BYTES`], the unit of work of a render thread.
struct Chunks {
    reader: Box<dyn BufRead + Send>,
    next_line: usize,
    done: bool,
    /// A read error met after some lines of a chunk, handed out after them.
    failed: Option<Chunk>,
    /// Buffers of rendered chunks, reused: a fresh 64 KiB buffer per chunk, freed on another
    /// thread, costs the kernel a page fault per page.
    spare: Spare,
}

/// Chunk buffers handed back by the render threads.
type Spare = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// Big enough that handing a chunk to a thread costs nothing next to rendering it, small enough
/// that the first outputs appear at once.
const CHUNK_BYTES: usize = 64 * 1024;

/// Some whole input lines, or the read error that ended the input.
enum Chunk {
    Lines { first_line: usize, text: Vec<u8> },
    Failed { line: usize, error: io::Error },
}

impl Chunks {
    fn new(reader: Box<dyn BufRead + Send>) -> Chunks {
        Chunks {
            reader,
            next_line: 1,
            done: false,
            failed: None,
            spare: Spare::default(),
        }
    }

    fn next(&mut self) -> Option<Chunk> {
        if self.done {
            return self.failed.take();
        }
        let first_line = self.next_line;
        let reused = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        let mut text = reused.unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES + 1024));
        while text.len() < CHUNK_BYTES {
            match self.reader.read_until(b'\n', &mut text) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => self.next_line += 1,
                Err(error) => {
                    // The lines before the error still render; the error ends the job after them.
                    self.done = true;
                    self.failed = Some(Chunk::Failed {
                        line: self.next_line,
                        error,
                    });
                    break;
                }
            }
        }
        if text.is_empty() {
            return self.failed.take();
        }
        Some(Chunk::Lines { first_line, text })
    }
}

/// A chunk's printed outputs, with the errors for standard error at their places among them.
struct Rendered {
    out: Vec<u8>,
    /// Messages for standard error, each after the output written before it (text format).
    errors: Vec<(usize, String)>,
    failures: usize,
    /// Why the job ends after this chunk (a line that cannot be read).
    stop: Option<String>,
}

impl Rendered {
    /// Writes the chunk; the message that ends the job, if it does.
    fn write(self, out: &mut impl Write) -> io::Result<Option<String>> {
        let mut written = 0;
        for (at, error) in &self.errors {
            out.write_all(&self.out[written..*at])?;
            written = *at;
            out.flush()?;
            eprintln!("error: {error}");
        }
        out.write_all(&self.out[written..])?;
        Ok(self.stop)
    }
}

/// Renders every non-blank line of `chunk`; hands back its buffer for reuse.
fn render_chunk(
    template: &Result<Template, freemarker::Error>,
    projection: &Projection,
    format: Format,
    chunk: Chunk,
) -> (Rendered, Option<Vec<u8>>) {
    let mut rendered = Rendered {
        out: Vec::new(),
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
    let lines = text.split_inclusive(|&b| b == b'\n');
    for (line_no, raw) in (first_line..).zip(lines) {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
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
        let result = match template {
            Err(error) => Err(error.to_string()),
            Ok(template) => match projection.parse(line) {
                Err(error) => Err(format!("input line {line_no} is not valid JSON: {error}")),
                Ok(input) => template.render(&input).map_err(|error| match format {
                    Format::Text => format!("input line {line_no}: {error:#}"),
                    Format::Ndjson => error.to_string(),
                }),
            },
        };
        if result.is_err() {
            rendered.failures += 1;
        }
        print_result(rendered, format, result);
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

fn print_result(rendered: &mut Rendered, format: Format, result: Result<String, String>) {
    let out = &mut rendered.out;
    match (format, result) {
        (Format::Text, Ok(output)) => {
            out.extend_from_slice(output.as_bytes());
            if !output.ends_with('\n') {
                out.push(b'\n');
            }
        }
        (Format::Text, Err(error)) => rendered.errors.push((out.len(), error)),
        (Format::Ndjson, Ok(output)) => {
            let line = serde_json::json!({ "output": output }).to_string();
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        (Format::Ndjson, Err(error)) => {
            let line = serde_json::json!({ "error": error }).to_string();
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
