//! What a sink would send for each input record, sending nothing (`webhook-sink preview`).
//!
//! Reads the pipeline config, takes the `[sinks.ID]` table of a `webhook` sink, and runs each
//! NDJSON input line through the same classification, filters and templates as the running sink,
//! printing stream, request line, headers (custom values redacted, a signed sink's Standard
//! Webhooks headers as placeholders: they are made per try) and body per payload.

use std::io::{BufRead, Write};

use pipeline_core::ConfigError;
use serde_json::Value;

use super::lint::JsonBreak;
use super::record::Kind;
use super::Preparer;
use crate::sink::{WebhookSinkConfig, SINK_TYPE};
use crate::stream::Stream;

/// Why a preview could not run.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The config is not TOML or has no such sink.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Reading input or writing output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Counts of what a preview showed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PreviewSummary {
    /// Input lines read (blank lines skipped).
    pub records: u64,
    /// Payloads that would be sent.
    pub payloads: u64,
    /// Records that yield nothing (filtered, `$groupidentify`).
    pub discarded: u64,
    /// Payloads whose template failed, and lines that are not JSON objects.
    pub errors: u64,
    /// Payloads that are not valid JSON (sent as `application/json` all the same).
    pub not_json: u64,
    /// The first [`MAX_FINDINGS`] of those: input line, stream, and where the JSON broke.
    pub findings: Vec<(usize, Stream, JsonBreak)>,
}

/// How many payloads that are not JSON a summary lists (the rest are counted).
pub const MAX_FINDINGS: usize = 100;

/// Finds `[sinks.ID]` in a pipeline config and validates it as a `webhook` sink; relative file
/// paths are taken from the working directory.
pub fn sink_config(config_text: &str, sink_id: &str) -> Result<WebhookSinkConfig, ConfigError> {
    sink_config_in(config_text, sink_id, None)
}

/// [`sink_config`] for a config file in `config_dir`, against which relative paths are resolved
/// (as `run` does).
pub fn sink_config_in(
    config_text: &str,
    sink_id: &str,
    config_dir: Option<&std::path::Path>,
) -> Result<WebhookSinkConfig, ConfigError> {
    let mut document: toml::Table = config_text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new("", e.message().to_owned()))?;
    let path = format!("sinks.{sink_id}");
    let mut table = match document.remove("sinks").and_then(|sinks| match sinks {
        toml::Value::Table(mut sinks) => sinks.remove(sink_id),
        _ => None,
    }) {
        Some(toml::Value::Table(table)) => table,
        _ => return Err(ConfigError::new(path, "no such sink in the config")),
    };
    match table.remove("type") {
        Some(toml::Value::String(ty)) if ty == SINK_TYPE => {}
        _ => {
            return Err(ConfigError::new(
                format!("{path}.type"),
                format!("preview needs a sink of type \"{SINK_TYPE}\""),
            ))
        }
    }
    table.remove("inputs");
    WebhookSinkConfig::from_table_in(table, config_dir).map_err(|e| e.within(&path))
}

/// Prints what `sink` would send for each NDJSON line of `input`.
pub fn run(
    sink: &WebhookSinkConfig,
    input: impl BufRead,
    out: &mut impl Write,
) -> Result<PreviewSummary, PreviewError> {
    let preparer = Preparer::new(&sink.config, &sink.payloads);
    let mut summary = PreviewSummary::default();
    let write_error = |source| PreviewError::Io {
        context: "writing the preview".into(),
        source,
    };
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|source| PreviewError::Io {
            context: format!("reading input line {number}"),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        summary.records += 1;
        let fields = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => {
                summary.errors += 1;
                writeln!(out, "# line {number}: not a JSON object; skipped\n")
                    .map_err(write_error)?;
                continue;
            }
            Err(error) => {
                summary.errors += 1;
                writeln!(out, "# line {number}: invalid JSON ({error}); skipped\n")
                    .map_err(write_error)?;
                continue;
            }
        };
        let event_type = fields
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or("(no event_type)")
            .to_owned();
        let selection = preparer.select(fields.clone(), line.len());
        let kind = match selection.kind {
            Kind::Event => "event",
            Kind::Identify => "identify",
            Kind::GroupIdentify => "group identify",
        };
        if selection.payloads.is_empty() {
            summary.discarded += 1;
            writeln!(
                out,
                "# line {number}: {kind} {event_type:?} -> nothing (filtered out)\n"
            )
            .map_err(write_error)?;
            continue;
        }
        for (stream, rendered) in selection.payloads {
            match rendered {
                Ok(body) => {
                    summary.payloads += 1;
                    writeln!(out, "# line {number}: {kind} {event_type:?} -> {stream}")
                        .map_err(write_error)?;
                    writeln!(out, "POST {}", sink.config.url).map_err(write_error)?;
                    for (name, value) in &sink.config.headers {
                        let value = if value.is_sensitive() {
                            "<redacted>"
                        } else {
                            value.to_str().unwrap_or("<binary>")
                        };
                        writeln!(out, "{name}: {value}").map_err(write_error)?;
                    }
                    write_signing_headers(out, sink.config.signing_secrets.len())
                        .map_err(write_error)?;
                    writeln!(out).map_err(write_error)?;
                    out.write_all(&body).map_err(write_error)?;
                    writeln!(out, "\n").map_err(write_error)?;
                    if let Some(found) = preparer.check_json(stream, &fields, &body) {
                        writeln!(out, "# warning: line {number} -> {stream}: {found}\n")
                            .map_err(write_error)?;
                        summary.not_json += 1;
                        if summary.findings.len() < MAX_FINDINGS {
                            summary.findings.push((number, stream, found));
                        }
                    }
                }
                Err(error) => {
                    summary.errors += 1;
                    writeln!(
                        out,
                        "# line {number}: {kind} {event_type:?} -> {stream}: NOT SENT, {error}\n"
                    )
                    .map_err(write_error)?;
                }
            }
        }
    }
    Ok(summary)
}

/// The Standard Webhooks headers of a signed sink, as placeholders: the timestamp and the
/// signatures belong to each try, and the id is the sink's (see `dispatch::signing`).
fn write_signing_headers(out: &mut impl Write, secrets: usize) -> std::io::Result<()> {
    if secrets == 0 {
        return Ok(());
    }
    let signatures = if secrets == 1 {
        "one signature".to_owned()
    } else {
        format!("{secrets} signatures, space-separated")
    };
    writeln!(
        out,
        "webhook-id: <msg_ + hash of sink id, stream and body: the same on every try>"
    )?;
    writeln!(out, "webhook-timestamp: <unix seconds, per try>")?;
    writeln!(out, "webhook-signature: <computed per try: {signatures}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[sources.in]
type = "stdin"

[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "https://example.com/hook"
headers = { Authorization = "Bearer s3cret" }
[sinks.hook.events]
event_types = ["Purchase"]
"#;

    #[test]
    fn preview_prints_each_payload_with_headers_and_redacts_secrets() {
        let sink = sink_config(CONFIG, "hook").unwrap();
        let input = concat!(
            "{\"event_type\":\"Purchase\",\"user_id\":\"u1\"}\n",
            "\n",
            "{\"event_type\":\"$groupidentify\"}\n",
            "[1]\n",
        );
        let mut out = Vec::new();
        let summary = run(&sink, input.as_bytes(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            summary,
            PreviewSummary {
                records: 3,
                payloads: 2,
                discarded: 1,
                errors: 1,
                not_json: 0,
                findings: Vec::new(),
            }
        );
        assert!(text
            .contains("# line 1: event \"Purchase\" -> events\nPOST https://example.com/hook\n"));
        assert!(text.contains("\n{\"event_type\":\"Purchase\",\"user_id\":\"u1\"}\n"));
        assert!(text.contains("# line 1: event \"Purchase\" -> users\n"));
        assert!(text.contains("\n{\"user_id\":\"u1\"}\n"));
        assert!(text.contains("authorization: <redacted>"));
        assert!(!text.contains("s3cret"));
        assert!(text.contains("# line 3: group identify \"$groupidentify\" -> nothing"));
        assert!(text.contains("# line 4: not a JSON object"));
    }

    #[test]
    fn a_signed_sink_shows_the_signing_headers_without_the_secrets() {
        let signed = format!(
            "{CONFIG}[sinks.hook.signing]\nsecrets = [\"{}\", \"{}\"]\n",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA=="
        );
        let sink = sink_config(&signed, "hook").unwrap();
        let mut out = Vec::new();
        run(
            &sink,
            "{\"event_type\":\"Purchase\"}\n".as_bytes(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "webhook-id: <msg_ + hash of sink id, stream and body: the same on every try>\n\
             webhook-timestamp: <unix seconds, per try>\n\
             webhook-signature: <computed per try: 2 signatures, space-separated>\n\n{"
            ),
            "{text}"
        );
        assert!(
            !text.contains("MfKQ9r8G") && !text.contains("b2xkLXNl"),
            "{text}"
        );
        let unsigned = sink_config(CONFIG, "hook").unwrap();
        let mut out = Vec::new();
        run(
            &unsigned,
            "{\"event_type\":\"Purchase\"}\n".as_bytes(),
            &mut out,
        )
        .unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("webhook-"));
    }

    #[test]
    fn a_missing_or_foreign_sink_is_refused_with_its_path() {
        assert_eq!(
            sink_config(CONFIG, "other").unwrap_err().path,
            "sinks.other"
        );
        let console = "[sinks.out]\ntype = \"console\"\ninputs = []\n";
        assert_eq!(
            sink_config(console, "out").unwrap_err().path,
            "sinks.out.type"
        );
        let bad = "[sinks.hook]\ntype = \"webhook\"\nurl = \"ftp://x\"\n";
        assert_eq!(sink_config(bad, "hook").unwrap_err().path, "sinks.hook.url");
    }
}
