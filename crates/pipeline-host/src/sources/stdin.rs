//! The `stdin` source: NDJSON, one JSON object per line. A line that is not a JSON object is
//! counted as a receiving error, logged with its line number and skipped; the rest goes on.
//! Input that is wrong throughout would log every line, so the warnings are rate limited per
//! kind of fault ([`pipeline_core::log_limit`]): the first in ten seconds is logged with its line
//! number, the others counted, and the count is logged with the next one or when input ends.
//!
//! Lines are read in chunks: a batch holds what is already buffered (up to [`MAX_BATCH_EVENTS`]),
//! so a fast producer gets large batches and a slow one gets each line without waiting.

use std::time::Instant;

use pipeline_core::log_limit::LogLimiter;
use pipeline_core::metrics_names::{error_type, stage};
use pipeline_core::Event;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};

use super::SourceContext;

/// The most events one batch holds.
pub const MAX_BATCH_EVENTS: usize = 100;

const READ_BUFFER_BYTES: usize = 64 * 1024;

/// `[sources.ID]` with `type = "stdin"`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Longer lines are skipped as errors, so one runaway line cannot exhaust memory.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

impl Default for StdinConfig {
    fn default() -> StdinConfig {
        StdinConfig {
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

fn default_max_line_bytes() -> usize {
    1024 * 1024
}

enum Line {
    /// A complete line (without its newline); `too_long` when it was cut off.
    Complete {
        too_long: bool,
        raw_len: usize,
    },
    Eof,
}

/// Read one line into `buf` (cleared first), keeping at most `max` bytes of it.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut raw_len = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if raw_len == 0 {
                Line::Eof
            } else {
                Line::Complete { too_long, raw_len }
            });
        }
        let (chunk, consumed, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], end + 1, true),
            None => (available, available.len(), false),
        };
        raw_len += consumed;
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        reader.consume(consumed);
        if done {
            return Ok(Line::Complete { too_long, raw_len });
        }
    }
}

/// Read NDJSON from `input` until EOF or shutdown.
pub(super) async fn run<R: AsyncRead + Unpin>(
    config: StdinConfig,
    input: R,
    mut cx: SourceContext,
) -> Result<(), ()> {
    let rejections = Rejections::default();
    let result = read(config, input, &mut cx, &rejections).await;
    rejections.finish(&cx);
    result
}

async fn read<R: AsyncRead + Unpin>(
    config: StdinConfig,
    input: R,
    cx: &mut SourceContext,
    rejections: &Rejections,
) -> Result<(), ()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, input);
    let mut line = Vec::new();
    let mut line_number: u64 = 0;
    let mut batch = Vec::new();
    loop {
        let read = tokio::select! {
            biased;
            read = read_line(&mut reader, &mut line, config.max_line_bytes) => read,
            () = cx.shutdown.cancelled(), if batch.is_empty() => break,
        };
        let (too_long, raw_len) = match read {
            Ok(Line::Complete { too_long, raw_len }) => (too_long, raw_len),
            Ok(Line::Eof) => break,
            Err(error) => {
                cx.metrics
                    .error(error_type::READER_FAILED, stage::RECEIVING);
                tracing::error!(component_id = %cx.id, %error, "cannot read standard input");
                cx.emit(std::mem::take(&mut batch)).await;
                return Err(());
            }
        };
        line_number += 1;
        cx.metrics.received_bytes(raw_len);
        if too_long {
            rejections.reject(
                cx,
                line_number,
                Fault::TooLong,
                &format!("longer than max_line_bytes ({})", config.max_line_bytes),
            );
        } else if let Some(event) = decode(cx, rejections, line_number, &line) {
            cx.metrics.received_events(1, event.json_byte_size());
            batch.push(event);
        }
        let flush =
            batch.len() >= MAX_BATCH_EVENTS || (!batch.is_empty() && reader.buffer().is_empty());
        if flush && !cx.emit(std::mem::take(&mut batch)).await {
            tracing::warn!(component_id = %cx.id, "no downstream component left; stopping");
            return Ok(());
        }
    }
    cx.emit(batch).await;
    tracing::debug!(component_id = %cx.id, lines = line_number, "standard input finished");
    Ok(())
}

/// One line as an event; blank lines are skipped silently, anything else that is not a JSON
/// object is rejected.
fn decode(
    cx: &SourceContext,
    rejections: &Rejections,
    line_number: u64,
    line: &[u8],
) -> Option<Event> {
    let text = line.strip_suffix(b"\r").unwrap_or(line);
    if text.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(fields)) => Some(Event::new(fields)),
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            rejections.reject(
                cx,
                line_number,
                Fault::NotAnObject,
                &format!("expected a JSON object, found {kind}"),
            );
            None
        }
        Err(error) => {
            rejections.reject(cx, line_number, Fault::NotJson, &error.to_string());
            None
        }
    }
}

/// What is wrong with a skipped line; each kind is rate limited on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    NotJson,
    NotAnObject,
    TooLong,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::NotJson => "skipping malformed line: not JSON",
            Fault::NotAnObject => "skipping malformed line: not a JSON object",
            Fault::TooLong => "skipping malformed line: longer than max_line_bytes",
        })
    }
}

/// Counts every skipped line and logs them, rate limited per [`Fault`].
#[derive(Default)]
struct Rejections {
    logs: LogLimiter<Fault>,
}

impl Rejections {
    fn reject(&self, cx: &SourceContext, line_number: u64, fault: Fault, reason: &str) {
        cx.metrics
            .error(error_type::PARSER_FAILED, stage::RECEIVING);
        cx.metrics.discarded(1, false);
        self.logs.log(&fault, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::warn!(component_id = %cx.id, repeated = repeated.count, "{repeated}");
            }
            tracing::warn!(component_id = %cx.id, line = line_number, error = reason, "skipping malformed line");
        });
    }

    /// Logs the counts not yet logged (input ended, or the source stops).
    fn finish(&self, cx: &SourceContext) {
        for repeated in self.logs.flush(Instant::now()) {
            tracing::warn!(component_id = %cx.id, repeated = repeated.count, "{repeated}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::fanout::Fanout;
    use pipeline_core::metrics_names::{ComponentKind, ComponentMetrics};
    use pipeline_core::EventArray;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    async fn read_all(input: &'static [u8], max_line_bytes: usize) -> Vec<EventArray> {
        let (tx, mut rx) = mpsc::channel(1000);
        let cx = SourceContext {
            id: "in".into(),
            out: Fanout::new(vec![("out".into(), tx)]),
            shutdown: CancellationToken::new(),
            metrics: ComponentMetrics::new(ComponentKind::Source, "in", "stdin"),
            acknowledgements: false,
            logs: Default::default(),
        };
        run(StdinConfig { max_line_bytes }, input, cx)
            .await
            .unwrap();
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            batches.push(batch);
        }
        batches
    }

    fn values(batches: &[EventArray]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.iter())
            .map(|e| e.fields()["n"].as_i64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn malformed_lines_are_skipped_and_the_rest_kept() {
        let input = b"{\"n\":1}\nnot json\n[1,2]\n\n{\"n\":2}\r\n{\"n\":3}";
        let batches = read_all(input, 1024).await;
        assert_eq!(values(&batches), [1, 2, 3]);
    }

    #[tokio::test]
    async fn overlong_lines_are_skipped() {
        let input = b"{\"n\":1,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"n\":2}\n";
        let batches = read_all(input, 20).await;
        assert_eq!(values(&batches), [2]);
    }

    #[tokio::test]
    async fn batches_hold_at_most_the_maximum() {
        let text: String = (0..250).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        let input: &'static [u8] = Box::leak(text.into_bytes().into_boxed_slice());
        let batches = read_all(input, 1024).await;
        assert_eq!(values(&batches), (0..250).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| b.len() <= MAX_BATCH_EVENTS));
        assert_eq!(batches.len(), 3);
    }

    #[tokio::test]
    async fn key_order_survives_decoding() {
        let batches = read_all(b"{\"z\":1,\"a\":2,\"n\":0}\n", 1024).await;
        let keys: Vec<&String> = batches[0].iter().next().unwrap().fields().keys().collect();
        assert_eq!(keys, ["z", "a", "n"]);
    }
}
